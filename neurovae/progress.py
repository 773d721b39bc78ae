"""Progress bars over samples that are safe to show before Lava is imported."""

from __future__ import annotations

from tqdm.auto import tqdm
from tqdm.std import TqdmDefaultWriteLock


def sample_bar(total: int, enabled: bool, description: str, unit: str = "sample") -> tqdm:
    """A tqdm bar counting samples, or other ``unit``s (hidden when not ``enabled``; it leaves the screen when done).

    tqdm's first bar creates a multiprocessing lock, which fixes the process's start method: importing Lava
    afterwards then fails (it calls ``mp.set_start_method('fork')``). A single-process bar needs a thread lock
    only, so the multiprocessing one is switched off.
    """
    if not hasattr(TqdmDefaultWriteLock, "mp_lock"):
        TqdmDefaultWriteLock.mp_lock = None
    return tqdm(total=total, disable=not enabled, desc=description, unit=unit, leave=False)
