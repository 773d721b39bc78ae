"""Convolution layer records: ``conv`` (stock netx loads it) and ``convT`` (neurovae's own Lava process).

Geometry is stored as SLAYER's ``export_hdf5`` writes it: ``kernelSize``, ``stride``, ``padding`` and
``dilation`` as (H, W) pairs, ``groups`` as an int, ``shape`` as the output ``(C, H, W)``, weights in PyTorch's
layouts (``conv``: OIHW, ``convT``: IOHW) and an optional per-channel ``bias``.

Example:
    >>> import numpy as np
    >>> conv = ConvLayer(weight=np.ones((4, 1, 3, 3)), neuron=CubaNeuron(), shape=(4, 6, 6))
    >>> conv.output_shape((1, 8, 8))
    (4, 6, 6)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from neurovae.netx.errors import NetxError
from neurovae.netx.layers import Layer, _array, _ints, _reject_unsupported, _required, _SpikingLayer, register_layer
from neurovae.netx.neuron import CubaNeuron


@dataclass(frozen=True, eq=False)
class _ConvBase(_SpikingLayer):
    """Shared fields and checks of ``conv`` and ``convT`` (see those classes for the weight layouts)."""

    weight: np.ndarray
    neuron: CubaNeuron
    shape: tuple[int, ...]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._check_geometry()

    @property
    def inChannels(self) -> int:  # noqa: N802 - netx's name
        """Number of input channels."""
        raise NotImplementedError

    @property
    def outChannels(self) -> int:  # noqa: N802 - netx's name
        """Number of output channels."""
        raise NotImplementedError

    def _check_geometry(self) -> None:
        object.__setattr__(self, "weight", _array(self.weight, "weight", 4))
        object.__setattr__(self, "shape", _ints(self.shape, "shape", 3))
        object.__setattr__(self, "stride", _ints(self.stride, "stride", 2))
        object.__setattr__(self, "padding", _ints(self.padding, "padding", 2, minimum=0))
        object.__setattr__(self, "dilation", _ints(self.dilation, "dilation", 2))
        object.__setattr__(self, "groups", _ints(self.groups, "groups", 1)[0])
        if self.outChannels != self.shape[0]:
            raise NetxError(f"weight makes {self.outChannels} channels but shape is {self.shape}")
        if self.inChannels % self.groups or self.outChannels % self.groups:
            raise NetxError(f"groups={self.groups} does not divide the channels")
        self._check_neuron_and_bias(self.outChannels)

    @property
    def kernelSize(self) -> tuple[int, int]:  # noqa: N802 - netx's name
        """Kernel (H, W)."""
        return (int(self.weight.shape[2]), int(self.weight.shape[3]))

    def _geometry(self) -> list[tuple[int, int, int, int]]:
        """(padding, dilation, kernel, stride) for H then W."""
        return list(zip(self.padding, self.dilation, self.kernelSize, self.stride, strict=True))

    def _check_input(self, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        if input_shape is None:
            raise NetxError(f"is a {self.type} layer with no input shape; start the network with an input layer")
        if len(input_shape) != 3 or input_shape[0] != self.inChannels:
            raise NetxError(f"expects (C={self.inChannels}, H, W) input but gets shape {tuple(input_shape)}")
        return tuple(input_shape)

    def datasets(self) -> dict[str, Any]:
        """SLAYER Conv/ConvT block's datasets.

        type, shape, inChannels, outChannels, kernelSize, stride, padding, dilation, groups, weight, [bias],
        neuron/*.
        """
        out = self._common_datasets()
        out["inChannels"] = self.inChannels
        out["outChannels"] = self.outChannels
        out["kernelSize"] = np.array(self.kernelSize, dtype=np.int64)
        for key in ("stride", "padding", "dilation"):
            out[key] = np.array(getattr(self, key), dtype=np.int64)
        out["groups"] = int(self.groups)
        out.update(self._tail_datasets())
        return out

    @classmethod
    def from_datasets(cls, data: Mapping[str, Any]) -> Layer:
        """Read a convolution layer (SLAYER's 5-D weights with a unit time axis are squeezed)."""
        _reject_unsupported(data)
        weight = np.asarray(_required(data, "weight"))
        if weight.ndim == 5 and weight.shape[-1] == 1:
            weight = weight[..., 0]
        return cls(
            weight=weight,
            neuron=CubaNeuron.from_datasets(data),
            shape=tuple(np.atleast_1d(_required(data, "shape"))),
            stride=data.get("stride", 1),
            padding=data.get("padding", 0),
            dilation=data.get("dilation", 1),
            groups=data.get("groups", 1),
            bias=data.get("bias"),
        )


@register_layer
@dataclass(frozen=True, eq=False)
class ConvLayer(_ConvBase):
    """``conv``: 2-D convolution (cross-correlation, as ``torch.nn.functional.conv2d``) + CUBA neuron.

    Attributes:
        weight: ``(outChannels, inChannels/groups, kH, kW)`` (OIHW).
        neuron: the CUBA neuron of every output.
        shape: output ``(C, H, W)``.
        stride: (H, W).
        padding: (H, W), zeros on both sides.
        dilation: (H, W).
        groups: channel groups.
        bias: ``(outChannels,)`` per-channel bias, or None.
    """

    type: ClassVar[str] = "conv"

    @property
    def inChannels(self) -> int:  # noqa: N802 - netx's name
        """``weight.shape[1] * groups``."""
        return int(self.weight.shape[1]) * self.groups

    @property
    def outChannels(self) -> int:  # noqa: N802 - netx's name
        """``weight.shape[0]``."""
        return int(self.weight.shape[0])

    def output_shape(self, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        """``shape``, checked against ``floor((n + 2p - d(k-1) - 1) / s) + 1`` for H and W."""
        _, height, width = self._check_input(input_shape)
        size = tuple(
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, (p, d, k, s) in zip((height, width), self._geometry(), strict=True)
        )
        if size != self.shape[1:]:
            raise NetxError(f"has shape {self.shape} but its input {tuple(input_shape)} gives (H, W) = {size}")
        return self.shape


@register_layer
@dataclass(frozen=True, eq=False)
class ConvTLayer(_ConvBase):
    """``convT``: transposed 2-D convolution (as ``torch.nn.functional.conv_transpose2d``) + CUBA neuron.

    Stock netx does not load this layer; neurovae simulates it with its own Lava process. The output padding
    is not stored (SLAYER's keys have none): it is what makes ``(n-1)s - 2p + d(k-1) + 1 + op`` equal the
    stored output shape, and it must satisfy ``0 <= op < max(s, d)``.

    Attributes:
        weight: ``(inChannels, outChannels/groups, kH, kW)`` (IOHW, PyTorch's layout).
        neuron: the CUBA neuron of every output.
        shape: output ``(C, H, W)``.
        stride: (H, W).
        padding: (H, W), cropped from both sides of the full output.
        dilation: (H, W).
        groups: channel groups.
        bias: ``(outChannels,)`` per-channel bias, or None.
    """

    type: ClassVar[str] = "convT"
    stock_netx: ClassVar[bool] = False

    @property
    def inChannels(self) -> int:  # noqa: N802 - netx's name
        """``weight.shape[0]``."""
        return int(self.weight.shape[0])

    @property
    def outChannels(self) -> int:  # noqa: N802 - netx's name
        """``weight.shape[1] * groups``."""
        return int(self.weight.shape[1]) * self.groups

    def output_padding(self, input_shape: tuple[int, ...]) -> tuple[int, int]:
        """The (H, W) output padding that maps ``input_shape`` onto ``shape``."""
        _, height, width = self._check_input(input_shape)
        pads = []
        for n, out, (p, d, k, s) in zip((height, width), self.shape[1:], self._geometry(), strict=True):
            pad = out - ((n - 1) * s - 2 * p + d * (k - 1) + 1)
            if not 0 <= pad < max(s, d):
                raise NetxError(f"has shape {self.shape}, which its input {tuple(input_shape)} cannot give")
            pads.append(pad)
        return (pads[0], pads[1])

    def output_shape(self, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        """``shape``, checked to be reachable from ``input_shape`` with a valid output padding."""
        self.output_padding(input_shape)  # type: ignore[arg-type]
        return self.shape
