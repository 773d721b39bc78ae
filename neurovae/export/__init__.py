"""Export trained models to lava-dl netx HDF5 (see :mod:`neurovae.netx` for the file layout)."""

from neurovae.export.export import ExportError, export_model, export_stack, export_to_file
from neurovae.export.writers import WRITERS

__all__ = ["WRITERS", "ExportError", "export_model", "export_stack", "export_to_file"]
