"""Export trained models to lava-dl netx HDF5 (see :mod:`neurovae.netx` for the file layout).

neurovae's own models go through :func:`export_model`; any snnTorch network of supported layers through
:func:`export_netx` (:mod:`neurovae.export.from_snntorch`), run beforehand with Lava's timing by
:func:`lava_timed_forward`. NIR graphs: :mod:`neurovae.export.from_nir` and :mod:`neurovae.export.to_nir`.
"""

from neurovae.export.chain import lava_timed_forward
from neurovae.export.export import ExportError, export_model, export_stack, export_to_file
from neurovae.export.from_snntorch import export_netx, snntorch_network
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
    "export_netx",
    "export_stack",
    "export_to_file",
    "format_report",
    "lava_timed_forward",
    "quantize_network",
    "quantize_with_report",
    "snntorch_network",
]
