"""Floating- and fixed-point ProcessModels of :class:`~neurovae.simulate.convt.process.ConvT`.

Both compute the transposed convolution with :func:`conv_transpose` (numpy; exact in int64 for fixed point,
float64 for floating point), hold the result for one step (``a_buf``, as Lava's ``Conv`` does) and zero it
at the start of every reset window. Fixed point then scales by ``2**weight_exp`` (arithmetic shift) and
wraps to 24 signed bits, like Lava's fixed-point ``Conv``.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.conv.utils import signed_clamp

from neurovae.simulate.convt.process import ConvT


def conv_transpose(
    x: np.ndarray,
    weight: np.ndarray,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    output_padding: tuple[int, int] = (0, 0),
    groups: int = 1,
) -> np.ndarray:
    """``torch.nn.functional.conv_transpose2d`` of one CHW sample, in numpy.

    Every input pixel ``x[:, h, w]`` adds ``weight[:, :, i, j]`` (summed over input channels) to output
    pixel ``(h*s + i*d - p, w*s + j*d - p)``; the output has ``(n-1)s - 2p + d(k-1) + 1 + op`` rows/columns.

    Example:
        >>> conv_transpose(np.ones((1, 1, 1)), np.ones((1, 1, 2, 2))).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """
    c_in, height, width = x.shape
    _, c_group, k_h, k_w = weight.shape
    (s_h, s_w), (p_h, p_w), (d_h, d_w), (o_h, o_w) = stride, padding, dilation, output_padding
    full_h = (height - 1) * s_h + d_h * (k_h - 1) + 1 + o_h
    full_w = (width - 1) * s_w + d_w * (k_w - 1) + 1 + o_w
    dtype = np.result_type(x.dtype, weight.dtype)
    full = np.zeros((c_group * groups, full_h, full_w), dtype=dtype)
    in_group = c_in // groups
    for g in range(groups):
        xg = x[g * in_group:(g + 1) * in_group]
        wg = weight[g * in_group:(g + 1) * in_group]
        out = full[g * c_group:(g + 1) * c_group]
        for i in range(k_h):
            rows = slice(i * d_h, i * d_h + (height - 1) * s_h + 1, s_h)
            for j in range(k_w):
                cols = slice(j * d_w, j * d_w + (width - 1) * s_w + 1, s_w)
                out[:, rows, cols] += np.tensordot(wg[:, :, i, j], xg, axes=([0], [0]))
    return full[:, p_h:full_h - p_h, p_w:full_w - p_w]


class AbstractPyConvTModel(PyLoihiProcessModel):
    """Shared step of the ConvT models: send the held output, receive, compute, hold."""

    s_in: PyInPort = None
    a_out: PyOutPort = None
    a_buf: np.ndarray = None
    weight: np.ndarray = None
    compute_dtype: type = np.float64

    def _finish(self, accumulated: np.ndarray) -> np.ndarray:
        return accumulated

    def run_spk(self) -> None:
        """One step: zero at a window start, send ``a_buf``, then accumulate this step's input into it."""
        params = self.proc_params
        interval = params["reset_interval"]
        if interval and (self.time_step - 1) % interval == 0:
            self.a_buf = np.zeros_like(self.a_buf)
        self.a_out.send(self.a_buf)
        received = self.s_in.recv()
        if params["num_message_bits"] == 0:
            received = received.astype(bool)
        x = received.transpose(2, 1, 0).astype(self.compute_dtype)
        y = conv_transpose(
            x, np.asarray(self.weight, dtype=self.compute_dtype), params["stride"], params["padding"],
            params["dilation"], params["output_padding"], params["groups"],
        )
        self.a_buf = self._finish(y).transpose(2, 1, 0)


@implements(proc=ConvT, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyConvTModelFloat(AbstractPyConvTModel):
    """ConvT in float64."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_buf: np.ndarray = LavaPyType(np.ndarray, float)
    weight: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=ConvT, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyConvTModelFixed(AbstractPyConvTModel):
    """ConvT in integers: exact int64 sums, ``2**weight_exp`` scaling, 24-bit signed wrap-around."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    a_buf: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    weight: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    compute_dtype: type = np.int64

    def _finish(self, accumulated: np.ndarray) -> np.ndarray:
        exp = self.proc_params["weight_exp"]
        total = np.left_shift(accumulated, exp) if exp >= 0 else np.right_shift(accumulated, -exp)
        return signed_clamp(total, bits=24).astype(np.int32)
