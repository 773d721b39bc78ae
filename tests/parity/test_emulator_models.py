"""The emulator's integer pieces equal Lava's own model code, called directly on extreme values (fast).

Lava's ``PyLifModelBitAcc`` / ``PyLifModelFloat`` methods run on plain numpy attributes, so the LIF update can
be compared with :func:`fixed_step` / :func:`float_step` on thousands of random states, including currents and
inputs far outside 24 bits (the wraps), without building a Lava network. Weight packing is compared with
``lava.utils.weightutils`` and the convolution wrap with ``lava.proc.conv.utils.signed_clamp``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("lava.proc.lif.models", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")

from lava.proc.conv.utils import signed_clamp  # noqa: E402
from lava.proc.lif.models import PyLifModelBitAcc, PyLifModelFloat  # noqa: E402
from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights  # noqa: E402

from neurovae.netx import CubaNeuron  # noqa: E402
from neurovae.simulate.emulator import FixedLIFParams, FloatLIFParams, LIFState, fixed_step, float_step  # noqa: E402
from neurovae.simulate.emulator import fixedpoint as fx  # noqa: E402
from neurovae.simulate.fixed import optimize_weight_bits  # noqa: E402

SIZE = 4000


def lava_fixed_step(model, a):
    """One step of Lava's bit-accurate LIF on its numpy attributes (``run_spk`` minus the ports)."""
    model.scale_bias()
    model.scale_threshold()
    model.subthr_dynamics(activation_in=a)
    spikes = model.spiking_activation()
    model.reset_voltage(spikes)
    return spikes


@pytest.mark.parametrize("seed", range(6))
def test_fixed_lif_step_equals_lava_bit_accurate_model(seed):
    rng = np.random.default_rng(seed)
    i_decay, v_decay = (int(x) for x in rng.choice([0, 1, 7, 1024, 2048, 4095, 4096], 2))
    neuron = CubaNeuron(iDecay=i_decay, vDecay=v_decay, vThMant=int(rng.integers(1, 2**17)))
    bias = rng.integers(-(2**16), 2**16, SIZE)  # beyond int16: Lava's bias_mant Var wraps it
    params = FixedLIFParams.from_neuron(neuron, bias, (SIZE,))  # no input bound: every wrap applied
    assert params.wrap32 and params.wrap24 and params.dtype == torch.int64

    model = PyLifModelBitAcc({})
    model.u = rng.integers(-(2**25), 2**25, SIZE).astype(np.int32)  # out of 24 bits, as a single wrap leaves it
    model.v = rng.integers(-(2**23) + 1, 2**23, SIZE).astype(np.int32)
    model.du, model.dv, model.vth = i_decay - 1, v_decay, int(neuron.vThMant)  # netx's fixed-point mapping
    model.bias_mant = bias.astype(np.int16)  # what Lava's int16 Var holds
    model.bias_exp = np.full(SIZE, 6, dtype=np.int16)
    state = LIFState(torch.from_numpy(model.u.astype(np.int64)), torch.from_numpy(model.v.astype(np.int64)))
    for _ in range(4):
        scale = int(rng.choice([2**4, 2**16, 2**31]))
        a = rng.integers(-scale, scale, SIZE).astype(np.int32)
        expected = lava_fixed_step(model, a)
        spikes, state = fixed_step(torch.from_numpy(a.astype(np.int64)), state, params)
        np.testing.assert_array_equal(state.u.numpy(), model.u)
        np.testing.assert_array_equal(state.v.numpy(), model.v)
        np.testing.assert_array_equal(spikes.numpy(), expected)


@pytest.mark.parametrize("seed", range(3))
def test_float_lif_step_equals_lava_float_model(seed):
    rng = np.random.default_rng(seed)
    neuron = CubaNeuron(iDecay=float(rng.uniform(0, 4096)), vDecay=float(rng.uniform(0, 4096)),
                        vThMant=float(rng.uniform(1, 50)))
    bias = rng.normal(size=SIZE)
    params = FloatLIFParams.from_neuron(neuron, bias, (SIZE,))
    model = PyLifModelFloat({})
    model.u, model.v = rng.normal(size=SIZE) * 20, rng.normal(size=SIZE) * 20
    model.du, model.dv, model.vth = neuron.iDecay / 4096, neuron.vDecay / 4096, neuron.vThMant
    model.bias_mant = bias
    state = LIFState(torch.from_numpy(model.u.copy()), torch.from_numpy(model.v.copy()))
    for _ in range(4):
        a = rng.normal(size=SIZE) * 30
        model.subthr_dynamics(activation_in=a)
        expected = model.spiking_activation()
        model.reset_voltage(expected)
        spikes, state = float_step(torch.from_numpy(a), state, params)
        np.testing.assert_array_equal(state.u.numpy(), model.u)  # same operations in the same order: bitwise
        np.testing.assert_array_equal(state.v.numpy(), model.v)
        np.testing.assert_array_equal(spikes.numpy(), expected)


def test_dense_weight_packing_equals_lava_dense_model():
    rng = np.random.default_rng(0)
    for trial in range(400):
        low, high = sorted(rng.integers(-400, 400, 2))
        weight = rng.integers(low, high + 1, (5, 7)) * 2 ** int(rng.integers(0, 3))
        packed, bits, exp, _ = optimize_weight_bits(weight)  # what graph.py hands to Lava's Dense
        lava_weight = packed.astype(np.int32)
        mode = determine_sign_mode(lava_weight)  # PyDenseModelBitAcc's first run_spk
        lava_weight = truncate_weights(clip_weights(lava_weight, mode, num_bits=8), mode, bits)
        ours = fx.pack_dense_weights(weight, extra_exp=-6 * (trial % 2))
        np.testing.assert_array_equal(ours.weight, lava_weight)
        assert ours.weight_exp == exp - 6 * (trial % 2)
    odd = np.array([3, -5, 7], dtype=np.int32)  # with 8 weight bits, mixed-sign weights lose their lowest bit
    np.testing.assert_array_equal(fx.truncate_weights(odd, fx.SIGN_MIXED, 8), [2, -6, 6])
    np.testing.assert_array_equal(truncate_weights(odd, determine_sign_mode(odd), 8), [2, -6, 6])
    # netx calls [[0, -3], [-5, -200]] mixed (its max is not < 0) and asks for 9 bits; Lava's Dense calls it
    # inhibitory and truncates by 8 - 9 = -1 bits, a negative numpy shift: every weight becomes 0
    np.testing.assert_array_equal(fx.pack_dense_weights(np.array([[0, -3], [-5, -200]])).weight, 0)


def test_signed_clamp_equals_lava_conv():
    values = np.random.default_rng(0).integers(-(2**40), 2**40, 10_000)
    np.testing.assert_array_equal(fx.signed_clamp(torch.from_numpy(values), 24).numpy(), signed_clamp(values, 24))
