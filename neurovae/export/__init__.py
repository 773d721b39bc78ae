"""Export trained models to lava-dl netx HDF5 (see :mod:`neurovae.netx` for the file layout)."""

from neurovae.export.export import ExportError, export_model, export_stack, export_to_file
from neurovae.export.quantize import (
    LOIHI,
    FixedPointFormat,
    LayerQuantization,
    QuantizationError,
    format_report,
    quantize_network,
    quantize_with_report,
)
from neurovae.export.writers import WRITERS

__all__ = [
    "LOIHI",
    "WRITERS",
    "ExportError",
    "FixedPointFormat",
    "LayerQuantization",
    "QuantizationError",
    "export_model",
    "export_stack",
    "export_to_file",
    "format_report",
    "quantize_network",
    "quantize_with_report",
]
