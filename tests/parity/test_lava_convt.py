"""neurovae's ConvT Lava process equals torch.nn.functional.conv_transpose2d (float; fixed on integers)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("lava", reason="Lava (lava-nc) is not installed")

from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.io.sink import RingBuffer as Sink  # noqa: E402
from lava.proc.io.source import RingBuffer as Source  # noqa: E402

from neurovae.simulate.convt.models import conv_transpose  # noqa: E402
from neurovae.simulate.convt.process import ConvT  # noqa: E402

# (C_in, C_out, H, W, kernel, stride, padding, output_padding, dilation, groups)
CASES = [
    (2, 3, 4, 5, (3, 3), (1, 1), (0, 0), (0, 0), (1, 1), 1),
    (2, 3, 4, 4, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1),
    (4, 2, 3, 5, (4, 3), (2, 1), (1, 0), (1, 0), (1, 2), 2),
]


def _torch(x, w, case):
    *_, stride, padding, output_padding, dilation, groups = case
    return F.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, stride, padding, output_padding, groups,
                              dilation).numpy()


def _weight(rng, case, integer=False):
    c_in, c_out, _, _, kernel, *_, groups = case
    shape = (c_in, c_out // groups, *kernel)
    return rng.integers(-50, 50, shape).astype(float) if integer else rng.normal(size=shape)


@pytest.mark.parametrize("case", CASES)
def test_numpy_conv_transpose_equals_torch(case):
    rng = np.random.default_rng(0)
    c_in, _, height, width, _, stride, padding, output_padding, dilation, groups = case
    for _ in range(5):
        x = rng.normal(size=(1, c_in, height, width))
        w = _weight(rng, case)
        ours = conv_transpose(x[0], w, stride, padding, dilation, output_padding, groups)
        np.testing.assert_allclose(ours, _torch(x, w, case)[0], rtol=0, atol=1e-12)


def _run_lava(frames, w, case, output_shape, precision):
    """Send CHW frames [T, C, H, W] through one ConvT; return its output at steps 1..T-1 as [T-1, C, H, W]."""
    *_, stride, padding, output_padding, dilation, groups = case
    data = frames.transpose(3, 2, 1, 0)  # [W, H, C, T]
    source = Source(data=data)
    conv = ConvT(weight=w, input_shape=data.shape[:-1], output_shape=tuple(reversed(output_shape)), stride=stride,
                 padding=padding, dilation=dilation, output_padding=output_padding, groups=groups,
                 num_message_bits=24)
    sink = Sink(shape=conv.a_out.shape, buffer=frames.shape[0])
    source.s_out.connect(conv.s_in)
    conv.a_out.connect(sink.a_in)
    tag = "floating_pt" if precision == "float" else "fixed_pt"
    try:
        source.run(condition=RunSteps(num_steps=frames.shape[0]), run_cfg=Loihi2SimCfg(select_tag=tag))
        out = sink.data.get()
    finally:
        source.stop()
    return out.transpose(3, 2, 1, 0)[1:]  # the output of step t's input arrives at step t+1


@pytest.mark.parametrize("case", CASES)
def test_lava_convt_float_equals_torch(case):
    rng = np.random.default_rng(1)
    c_in, _, height, width, *_ = case
    frames = rng.normal(size=(4, c_in, height, width))
    w = _weight(rng, case)
    expected = _torch(frames, w, case)
    ours = _run_lava(frames, w, case, expected.shape[1:], "float")
    np.testing.assert_allclose(ours, expected[:-1], rtol=0, atol=1e-12)


def test_lava_convt_fixed_is_exact_on_integers():
    rng = np.random.default_rng(2)
    case = CASES[1]
    frames = (rng.uniform(size=(4, case[0], case[2], case[3])) < 0.5).astype(float)
    w = _weight(rng, case, integer=True)
    expected = _torch(frames, w, case)
    ours = _run_lava(frames, w.astype(np.int32), case, expected.shape[1:], "fixed")
    np.testing.assert_array_equal(ours, expected[:-1])
