"""PNG image grids: samples, and labelled rows such as "input vs reconstruction" or one row per model.

Figures are built with :class:`matplotlib.figure.Figure` on an Agg canvas, never through ``pyplot``, so
nothing touches global plotting state and no display is needed. Every image pixel becomes an exact
block of screen pixels (nearest-neighbour), so a grid of 32x32 digits stays sharp.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from neurovae.errors import NeurovaeError
from neurovae.io import atomic_path

_DPI = 100
_PAD = 2  # pixels between tiles, in image pixels
_TITLE_PX = 36
_FONT_PX_PER_CHAR = 9  # generous width of one 12-pt DejaVu Sans character at 100 dpi


def _zoom(image_size: int) -> int:
    """Integer upscaling that draws each image about 128 screen pixels tall (4x for 32x32, 2x for 64x64)."""
    return max(1, 128 // image_size)


def _to_hwc(images: torch.Tensor, name: str = "images") -> np.ndarray:
    """[N, C, H, W] in [-1, 1] -> float [N, H, W, 3] in [0, 1] (grey repeated to RGB)."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise NeurovaeError(f"{name}: expected a tensor [N, 1 or 3, H, W], got {shape}")
    if images.shape[0] == 0:
        raise NeurovaeError(f"{name}: no images to draw")
    x = ((images.detach().float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)
    return x.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()


def _tile(images: np.ndarray, ncol: int) -> np.ndarray:
    """Tile [N, H, W, 3] row-major into ``ncol`` columns with white padding (rows filled as needed)."""
    n, h, w, _ = images.shape
    nrows = -(-n // ncol)
    grid = np.ones((nrows * (h + _PAD) + _PAD, ncol * (w + _PAD) + _PAD, 3), dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        top, left = _PAD + r * (h + _PAD), _PAD + c * (w + _PAD)
        grid[top : top + h, left : left + w] = img
    return grid


def _render(grid: np.ndarray, zoom: int, path: str | os.PathLike, title: str | None, labels: list[str]) -> None:
    """Draw ``grid`` at an integer zoom, with an optional title and row labels, and write a PNG atomically.

    ``labels[i]`` is centred on the i-th band of equal height. The figure is exactly
    ``label width + zoom * grid width`` pixels wide (wider only if the title needs it) and
    ``title height + zoom * grid height`` high.
    """
    grid_h, grid_w = grid.shape[0] * zoom, grid.shape[1] * zoom
    label_w = (max(map(len, labels)) * _FONT_PX_PER_CHAR + 16) if labels else 0
    title_h = _TITLE_PX if title else 0
    title_w = len(title) * _FONT_PX_PER_CHAR + 16 if title else 0
    width, height = max(label_w + grid_w, title_w), title_h + grid_h
    # +0.01 px: matplotlib truncates width_in * dpi, and e.g. 57 / 100 * 100 is 56.99999...
    fig = Figure(figsize=((width + 0.01) / _DPI, (height + 0.01) / _DPI), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((label_w / width, 0.0, grid_w / width, grid_h / height))
    ax.imshow(grid, interpolation="nearest", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_axis_off()
    if title:
        fig.text(0.5, 1.0 - title_h / 2 / height, title, ha="center", va="center", fontsize=13)
    for i, label in enumerate(labels):
        y = (grid_h - (i + 0.5) * grid_h / len(labels)) / height
        fig.text((label_w - 8) / width, y, label, ha="right", va="center", fontsize=12)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, facecolor="white")


def image_grid(images: torch.Tensor, ncol: int) -> np.ndarray:
    """Images ``[N, C, H, W]`` in [-1, 1] tiled ``ncol`` to a row, as one RGB ``[H, W, 3]`` array in [0, 1].

    The form TensorBoard's ``add_image(..., dataformats="HWC")`` takes.
    """
    return _tile(_to_hwc(images), ncol)


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int = 8, title: str | None = None) -> None:
    """Write images as a PNG grid, ``nrow`` images per grid row (any count; the last row may be short).

    Args:
        images: ``[N, C, H, W]`` in [-1, 1], C = 1 or 3.
        path: Destination ``.png``; written atomically, so a failure leaves no file.
        nrow: Images per row (as in ``torchvision.utils.make_grid``).
        title: Optional caption above the grid.

    Raises:
        NeurovaeError: ``images`` is not an image batch.
    """
    if nrow < 1:
        raise NeurovaeError(f"nrow must be positive, got {nrow}")
    x = _to_hwc(images)
    _render(_tile(x, min(nrow, len(x))), _zoom(x.shape[1]), path, title, labels=[])


def save_comparison_grid(
    rows: dict[str, torch.Tensor], path: str | os.PathLike, title: str | None = None, ncol: int = 8
) -> None:
    """Write one labelled row per entry, e.g. ``{"input": x, "reconstruction": y}`` or one row per model.

    Row ``k`` shows the first ``ncol`` images of ``rows[k]`` with the key as its label, so column ``j``
    compares the same sample across rows when the tensors are aligned.

    Args:
        rows: Label -> ``[N, C, H, W]`` in [-1, 1]; every entry must share H and W (C may be 1 or 3).
        path: Destination ``.png``; written atomically, so a failure leaves no file.
        title: Optional caption above the grid.
        ncol: Images per row at most.

    Raises:
        NeurovaeError: ``rows`` is empty or its images are not compatible.
    """
    if not rows:
        raise NeurovaeError("comparison grid: no rows to draw")
    if ncol < 1:
        raise NeurovaeError(f"ncol must be positive, got {ncol}")
    strips = {label: _to_hwc(x[:ncol], name=f"row {label!r}") for label, x in rows.items()}
    sizes = {s.shape[1:3] for s in strips.values()}
    if len(sizes) != 1:
        raise NeurovaeError(f"comparison grid: rows have different image sizes {sorted(sizes)}")
    width = max(len(s) for s in strips.values())
    h, w = sizes.pop()
    blank = np.ones((h, w, 3), dtype=np.float32)
    padded = [np.concatenate([s, np.repeat(blank[None], width - len(s), axis=0)]) for s in strips.values()]
    _render(_tile(np.concatenate(padded), width), _zoom(h), path, title, labels=list(strips))
