"""ConvT: a Lava connection Process for transposed 2-D convolution (its ProcessModels are in models.py).

Lava has no transposed convolution; lava-dl's netx raises NotImplementedError for ``convT`` layers. This
Process follows Lava's ``Conv`` conventions: ports are WHC (x, y, channel), the output produced from the
input received at step t is sent at step t+1 (``a_buf``), and ``weight_exp`` scales the accumulated sum by
``2**weight_exp`` in fixed point. The weight and the geometry are in PyTorch's conventions: weight
``(C_in, C_out/groups, kH, kW)`` (IOHW) and (H, W) pairs, so that, in floating point,

.. code-block:: text

    a_out[t+1] = conv_transpose2d(s_in[t], weight, stride, padding, output_padding, groups, dilation)

(transposed between CHW and WHC). With ``reset_interval = T > 0`` the pending output is zeroed at steps
1, T+1, 2T+1, ... so that every window of T steps starts like a fresh network.

Example:
    >>> proc = ConvT(weight=w, input_shape=(4, 4, 2), output_shape=(8, 8, 3), stride=(2, 2))  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class ConvT(AbstractProcess):
    """Transposed convolution connection (see the module docstring).

    Args:
        weight: ``(C_in, C_out/groups, kH, kW)``.
        input_shape: input (W, H, C_in).
        output_shape: output (W, H, C_out).
        stride: (H, W).
        padding: (H, W).
        dilation: (H, W).
        output_padding: (H, W).
        groups: channel groups.
        weight_exp: fixed point only: the sum is multiplied by ``2**weight_exp`` (floor for negative).
        num_message_bits: 0 for binary spikes, > 0 for graded input values.
        reset_interval: zero the pending output every this many steps (0: never).
    """

    def __init__(
        self,
        *,
        weight: np.ndarray,
        input_shape: tuple[int, int, int],
        output_shape: tuple[int, int, int],
        stride: tuple[int, int] = (1, 1),
        padding: tuple[int, int] = (0, 0),
        dilation: tuple[int, int] = (1, 1),
        output_padding: tuple[int, int] = (0, 0),
        groups: int = 1,
        weight_exp: int = 0,
        num_message_bits: int = 0,
        reset_interval: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(
            stride=tuple(stride), padding=tuple(padding), dilation=tuple(dilation),
            output_padding=tuple(output_padding), groups=int(groups), weight_exp=int(weight_exp),
            num_message_bits=int(num_message_bits), reset_interval=int(reset_interval), name=name,
        )
        weight = np.asarray(weight)
        if weight.ndim != 4 or weight.shape[0] != input_shape[-1] or weight.shape[1] * groups != output_shape[-1]:
            raise ValueError(
                f"ConvT weight {weight.shape} does not map {input_shape[-1]} to {output_shape[-1]} channels"
            )
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(output_shape)
        self.s_in = InPort(shape=self.input_shape)
        self.a_out = OutPort(shape=self.output_shape)
        self.weight = Var(shape=weight.shape, init=weight)
        self.a_buf = Var(shape=self.output_shape, init=0)
