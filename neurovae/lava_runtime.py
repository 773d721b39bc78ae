"""The one place that imports Lava's runtime for every Lava path (simulation, VAE-sleep, the STDP network)."""

from __future__ import annotations

import sys

from neurovae.errors import NeurovaeError


class LavaMissingError(NeurovaeError):
    """Lava is not installed (it needs Python 3.10)."""


def require_lava() -> None:
    """Import Lava's runtime, or say how to install it.

    Lava's runtime calls ``multiprocessing.set_start_method('fork')`` when first imported, which raises if
    anything (a DataLoader, joblib, a progress bar's lock ...) has already fixed the start method. Lava needs
    ``fork`` anyway, so an already-fixed method is cleared first.
    """
    import multiprocessing

    if "lava.magma.runtime.message_infrastructure.multiprocessing" not in sys.modules:
        multiprocessing.set_start_method(None, force=True)
    try:
        import lava.magma.runtime.runtime  # noqa: F401
    except ImportError:
        raise LavaMissingError(
            "Lava is not installed; install neurovae's 'lava' extra (pip install 'neurovae[lava]', Python 3.10)"
        ) from None
