"""Neurons against slow, obvious references: LIF / readout dynamics, surrogate gradient, parameter records and
their device mapping, the one-step synapse delay, tdBN statistics and its folding into the synapse."""

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from neurovae.neurons import (
    DECAY_SCALE,
    LIF,
    LeakyReadout,
    LIFParams,
    SpikingBlock,
    SpikingStack,
    TDBatchNorm,
    TimeFlatten,
    TimeUnflatten,
    delay_one_step,
    fold_into_synapse,
    fold_time,
    init_readout,
    unfold_time,
)
from neurovae.neurons.blocks import true_fan_in

PROPERTY = settings(max_examples=30, deadline=None)


def reference_lif(current: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    """``v_t = beta v_{t-1} (1 - s_{t-1}) + I_t``, ``s_t = [v_t > threshold]``, one neuron at a time."""
    steps, flat = current.shape[0], current.reshape(current.shape[0], -1)
    spikes = torch.zeros_like(flat)
    for i in range(flat.shape[1]):
        v, s = 0.0, 0.0
        for t in range(steps):
            v = beta * v * (1.0 - s) + float(flat[t, i])
            s = 1.0 if v > threshold else 0.0
            spikes[t, i] = s
    return spikes.reshape(current.shape)


# ---------------------------------------------------------------------------------------------------- LIF


@pytest.mark.parametrize("beta, threshold", [(0.25, 0.2), (0.0, 0.5), (1.0, 1.0), (0.9, 0.05)])
def test_lif_equals_reference_loop(beta, threshold):
    generator = torch.Generator().manual_seed(1)
    current = threshold * (torch.rand(24, 3, 2, 5, generator=generator, dtype=torch.float64) * 1.3 - 0.2)
    spikes = LIF(LIFParams(beta, threshold))(current)
    expected = reference_lif(current, beta, threshold)
    assert spikes.dtype == torch.float64 and spikes.shape == current.shape
    assert int((spikes != expected).sum()) == 0
    assert 0 < int(spikes.sum()) < spikes.numel()  # the case exercises both firing and resetting


@PROPERTY
@given(
    beta=st.floats(0.0, 1.0),
    threshold=st.floats(0.01, 2.0),
    seed=st.integers(0, 2**31 - 1),
    steps=st.integers(1, 12),
)
def test_lif_equals_reference_loop_property(beta, threshold, seed, steps):
    generator = torch.Generator().manual_seed(seed)
    current = (torch.rand(steps, 2, 4, generator=generator, dtype=torch.float64) * 2 - 0.5) * threshold
    spikes = LIF(LIFParams(beta, threshold))(current)
    assert torch.equal(spikes, reference_lif(current, beta, threshold))


def test_lif_state_starts_at_zero_on_every_call():
    lif = LIF(LIFParams(0.9, 0.5))
    current = torch.full((3, 1, 1), 0.3, dtype=torch.float64)
    first = lif(current)
    assert torch.equal(first, lif(current))  # no voltage carried over from the previous call
    assert first.flatten().tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("beta", [0.8, 0.25, 0.0, 1.0])
def test_leaky_readout_is_discounted_sum(beta):
    generator = torch.Generator().manual_seed(2)
    current = torch.randn(9, 4, 3, generator=generator, dtype=torch.float64)
    steps = current.shape[0]
    expected = sum(beta ** (steps - 1 - t) * current[t] for t in range(steps))
    out = LeakyReadout(beta)(current)
    assert out.shape == current.shape[1:]
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-9)


def test_leaky_readout_never_resets_even_far_above_any_threshold():
    out = LeakyReadout(1.0)(torch.full((5, 1), 10.0, dtype=torch.float64))
    assert out.item() == 50.0


@PROPERTY
@given(
    threshold=st.sampled_from([0.2, 0.5, 1.0]),
    width=st.sampled_from([0.25, 0.5, 1.0]),
    offsets=st.lists(st.floats(-1.5, 1.5), min_size=1, max_size=20),
)
def test_surrogate_gradient_is_a_box(threshold, width, offsets):
    """One step from rest: ``v = I``, so ``ds/dI = [|I - thr| < a/2] / a``."""
    # keep away from the box edges, where float32 rounding decides
    offsets = [o for o in offsets if abs(abs(o) - width / 2) > 1e-4]
    current = (threshold + torch.tensor(offsets, dtype=torch.float64)).reshape(1, 1, -1).requires_grad_()
    spikes = LIF(LIFParams(0.25, threshold, surrogate_width=width))(current)
    spikes.sum().backward()
    expected = ((current.detach() - threshold).abs() < width / 2).double() / width
    torch.testing.assert_close(current.grad, expected)
    assert torch.equal(spikes.detach(), (current.detach() > threshold).double())


def test_surrogate_gradient_scales_the_incoming_gradient():
    current = torch.tensor([[[0.2, 0.3, 1.0]]], requires_grad=True)
    weights = torch.tensor([[[3.0, -2.0, 5.0]]])
    (LIF(LIFParams(0.25, 0.2, surrogate_width=0.5))(current) * weights).sum().backward()
    torch.testing.assert_close(current.grad, torch.tensor([[[6.0, -4.0, 0.0]]]))


# ---------------------------------------------------------------------------------------------- LIFParams


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(beta=-0.1, threshold=0.2), "beta"),
        (dict(beta=1.5, threshold=0.2), "beta"),
        (dict(beta=math.nan, threshold=0.2), "beta"),
        (dict(beta=0.25, threshold=0.0), "threshold"),
        (dict(beta=0.25, threshold=-1.0), "threshold"),
        (dict(beta=0.25, threshold=math.nan), "threshold"),
        (dict(beta=0.25, threshold=0.2, surrogate_width=0.0), "width"),
        (dict(beta=0.25, threshold=0.2, surrogate_width=-0.5), "width"),
    ],
)
def test_lif_params_reject_bad_values(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        LIFParams(**kwargs)
    assert "\n" not in str(info.value)
    assert fragment in str(info.value)


def test_lif_params_are_frozen_and_lif_needs_finite_threshold():
    params = LIFParams(0.25, 0.2)
    with pytest.raises(AttributeError):
        params.beta = 0.5  # type: ignore[misc]
    assert not LIFParams(0.8, math.inf).spiking
    with pytest.raises(ValueError, match="LeakyReadout"):
        LIF(LIFParams(0.8, math.inf))


@PROPERTY
@given(
    beta=st.floats(0.0, 1.0),
    threshold=st.floats(1e-3, 100.0),
    weight_scale=st.sampled_from([1.0, 64.0, 2.5, 4096.0]),
)
def test_cuba_round_trip(beta, threshold, weight_scale):
    params = LIFParams(beta, threshold)
    cuba = params.to_cuba(weight_scale)
    assert cuba["iDecay"] == DECAY_SCALE
    assert cuba["vDecay"] == pytest.approx(DECAY_SCALE * (1 - beta))
    assert cuba["vThMant"] == pytest.approx(threshold * weight_scale)
    back = LIFParams.from_cuba(cuba, weight_scale)
    assert back.beta == pytest.approx(beta, abs=1e-12)
    assert back.threshold == pytest.approx(threshold, rel=1e-12)


def test_cuba_of_the_paper_neuron_and_of_a_readout():
    assert LIFParams(0.25, 0.2).to_cuba(64) == {"iDecay": 4096, "vDecay": 3072.0, "vThMant": pytest.approx(12.8)}
    readout = LIFParams(0.8, math.inf)
    back = LIFParams.from_cuba(readout.to_cuba(64), 64)
    assert back.beta == pytest.approx(0.8) and not back.spiking


def test_from_cuba_rejects_current_memory():
    with pytest.raises(ValueError, match="iDecay"):
        LIFParams.from_cuba({"iDecay": 1024, "vDecay": 3072, "vThMant": 12.8}, 64)


# ---------------------------------------------------------------------------------------- SpikingBlock


def _synapses():
    return {
        "linear": (nn.Linear(6, 5), (6,)),
        "conv": (nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 6, 6)),
        "convT": (nn.ConvTranspose2d(2, 3, 3, 2, padding=1, output_padding=1), (2, 3, 3)),
    }


def _eval_norm(channels: int, seed: int = 0) -> TDBatchNorm:
    """A tdBN with random affine parameters and running statistics, in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    norm = TDBatchNorm(channels, threshold=0.2, alpha=1.5)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
        norm.bias.copy_(torch.randn(channels, generator=generator))
        norm.running_mean.copy_(torch.randn(channels, generator=generator))
        norm.running_var.copy_(torch.rand(channels, generator=generator) + 0.2)
    return norm.eval()


def reference_current(block: SpikingBlock, spikes: torch.Tensor) -> torch.Tensor:
    """The definition: ``norm(synapse(s_in(t - 1)))`` with zeros before step 0, all steps folded into the batch."""
    pre = block.synapse(fold_time(delay_one_step(spikes)))
    if block.norm is not None:
        pre = block.norm(pre)
    return unfold_time(pre, spikes.shape[0])


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
@pytest.mark.parametrize("layout", ["spikes", "expanded", "one_step"])
@pytest.mark.parametrize("norm_mode", ["none", "train", "eval"])
def test_block_current_equals_its_definition(kind, layout, norm_mode):
    """Whatever shortcut ``current`` takes (a repeated direct input, a single step), it equals the definition."""
    torch.manual_seed(0)
    synapse, shape = _synapses()[kind]
    channels = synapse.out_features if kind == "linear" else synapse.out_channels
    norm = {"none": None, "train": TDBatchNorm(channels, threshold=0.2), "eval": _eval_norm(channels)}[norm_mode]
    block = SpikingBlock(synapse, LIF(LIFParams(0.25, 0.2)), norm).double()
    reference = copy.deepcopy(block)
    if layout == "spikes":
        x = (torch.rand(5, 3, *shape, dtype=torch.float64) < 0.5).double()
    elif layout == "expanded":  # direct input: one image repeated over T steps (stride 0 in time)
        x = torch.randn(3, *shape, dtype=torch.float64).unsqueeze(0).expand(5, 3, *shape)
    else:
        x = torch.randn(1, 3, *shape, dtype=torch.float64)
    got, expected = block.current(x), reference_current(reference, x.contiguous())
    torch.testing.assert_close(got, expected)
    if norm is not None:  # the running statistics moved identically
        torch.testing.assert_close(block.norm.running_var, reference.norm.running_var)


def test_delay_one_step():
    x = torch.arange(1.0, 7.0).reshape(3, 2)
    assert delay_one_step(x).tolist() == [[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
@pytest.mark.parametrize("with_norm", [False, True])
def test_block_step0_current_is_bias_only(kind, with_norm):
    torch.manual_seed(0)
    synapse, shape = _synapses()[kind]
    channels = synapse.out_features if kind == "linear" else synapse.out_channels
    norm = _eval_norm(channels) if with_norm else None
    block = SpikingBlock(synapse, LIF(LIFParams(0.25, 0.2)), norm)
    spikes = (torch.rand(4, 2, *shape) < 0.5).float()
    with torch.no_grad():
        current = block.current(spikes)
        bias_only = synapse(torch.zeros(2, *shape))
        if norm is not None:
            bias_only = norm(bias_only)
    assert current.shape[:2] == (4, 2)
    torch.testing.assert_close(current[0], bias_only, rtol=0, atol=0)
    bias = synapse.bias if norm is None else norm.scale_shift()[0] * synapse.bias + norm.scale_shift()[1]
    expected = bias.reshape(-1, *([1] * (current.dim() - 3))).expand_as(current[0])
    torch.testing.assert_close(current[0], expected.detach())


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_block_input_spike_at_t_changes_current_at_t_plus_1_only(kind):
    torch.manual_seed(0)
    synapse, shape = _synapses()[kind]
    channels = synapse.out_features if kind == "linear" else synapse.out_channels
    block = SpikingBlock(synapse, LIF(LIFParams(0.25, 0.2)), _eval_norm(channels))
    steps = 5
    spikes = (torch.rand(steps, 2, *shape) < 0.5).float()
    with torch.no_grad():
        base = block.current(spikes)
        for t in range(steps):
            flipped = spikes.clone()
            flipped[t].view(-1)[3] = 1 - flipped[t].view(-1)[3]
            changed = (block.current(flipped) != base).flatten(1).any(1).tolist()
            assert changed == [s == t + 1 for s in range(steps)], (t, changed)
            # and at t+1 the current is exactly the synapse (+ norm) of the spikes at t
            if t + 1 < steps:
                torch.testing.assert_close(block.current(flipped)[t + 1], block.norm(synapse(flipped[t])))


def test_block_forward_is_neuron_of_current_and_rejects_unknown_synapse():
    torch.manual_seed(0)
    block = SpikingBlock(nn.Linear(4, 3), LIF(LIFParams(0.25, 0.2)))
    spikes = (torch.rand(6, 2, 4) < 0.5).float()
    assert torch.equal(block(spikes), block.neuron(block.current(spikes)))
    with pytest.raises(TypeError, match="unsupported synapse"):
        SpikingBlock(nn.Conv1d(1, 1, 1), LIF(LIFParams(0.25, 0.2)))


def test_stack_run_returns_every_layer_and_ends_in_forward():
    torch.manual_seed(0)
    stack = SpikingStack(
        (1, 4, 4),
        SpikingBlock(nn.Conv2d(1, 2, 3, 2, 1), LIF(LIFParams(0.25, 0.2))),
        TimeFlatten(),
        SpikingBlock(nn.Linear(8, 8), LIF(LIFParams(0.25, 0.2))),
        TimeUnflatten((2, 2, 2)),
        SpikingBlock(nn.ConvTranspose2d(2, 1, 3, 2, 1, 1), LeakyReadout(0.8)),
    )
    x = torch.rand(3, 2, *stack.input_shape)
    outputs = stack.run(x)
    assert [tuple(o.shape) for o in outputs] == [(3, 2, 2, 2, 2), (3, 2, 8), (3, 2, 8), (3, 2, 2, 2, 2), (2, 1, 4, 4)]
    assert torch.equal(outputs[-1], stack(x))


def _normed_stack(readout: bool) -> SpikingStack:
    """Conv -> FC -> transposed conv with tdBN everywhere, ending in a readout or in spikes; float64."""
    lif = lambda: LIF(LIFParams(0.25, 0.2))  # noqa: E731
    layers = [
        SpikingBlock(nn.Conv2d(1, 3, 3, 2, 1), lif(), TDBatchNorm(3, 0.2)),
        TimeFlatten(),
        SpikingBlock(nn.Linear(12, 12), lif(), TDBatchNorm(12, 0.2)),
        TimeUnflatten((3, 2, 2)),
    ]
    last = (SpikingBlock(nn.ConvTranspose2d(3, 1, 3, 2, 1, 1), LeakyReadout(0.8)) if readout else
            SpikingBlock(nn.ConvTranspose2d(3, 2, 3, 2, 1, 1), lif(), TDBatchNorm(2, 0.2)))
    stack = SpikingStack((1, 4, 4), *layers, last).double()
    for module in stack.modules():  # running statistics that make the layers fire
        if isinstance(module, TDBatchNorm):
            module.running_mean.uniform_(-0.3, 0.3)
            module.running_var.uniform_(0.2, 0.6)
            module.bias.data.uniform_(0.0, 0.3)
    return stack.eval()


@pytest.mark.parametrize("readout", [True, False])
@pytest.mark.parametrize("held", [True, False])
def test_stack_window_equals_the_full_run_past_the_latency(readout, held):
    torch.manual_seed(1)
    stack = _normed_stack(readout)
    steps, latency = 5, stack.latency
    if held:  # an image held at every step (stride 0 in time), as the ESVAE encoder sees it
        x = (torch.rand(1, 4, *stack.input_shape, dtype=torch.float64) * 2).expand(steps, -1, -1, -1, -1)
    else:
        x = (torch.rand(steps, 4, *stack.input_shape, dtype=torch.float64) < 0.5).double()
    tail = torch.rand(latency, 4, *stack.input_shape, dtype=torch.float64)  # arrives too late to matter
    full = stack(torch.cat([x, tail]))
    window = stack.window(x)
    if readout:
        assert torch.equal(window, full)
    else:
        assert torch.equal(window, full[latency:])
        assert 0 < window.mean() < 1  # the layers do fire


def test_window_tdbn_takes_training_statistics_over_the_data_steps_only():
    torch.manual_seed(0)
    norm = TDBatchNorm(3, threshold=0.2)
    prefix, data = torch.randn(2, 3, 4, 4) + 5, torch.randn(12, 3, 4, 4)
    out_prefix, out_data = norm.window(prefix, data)
    reference = TDBatchNorm(3, threshold=0.2)
    torch.testing.assert_close(out_data, reference(data))
    torch.testing.assert_close(norm.running_mean, reference.running_mean)
    torch.testing.assert_close(norm.running_var, reference.running_var)
    var, mean = torch.var_mean(data, dim=(0, 2, 3), unbiased=False)
    expected = 0.2 * (prefix - mean[:, None, None]) / torch.sqrt(var[:, None, None] + norm.eps)
    torch.testing.assert_close(out_prefix, expected)


def test_hooked_stack_window_runs_every_step_through_the_hooks():
    torch.manual_seed(0)
    stack = _normed_stack(readout=False)
    x = (torch.rand(4, 2, *stack.input_shape, dtype=torch.float64) < 0.5).double()
    expected = stack.window(x)
    seen = []
    handle = stack[0].register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[0]))
    assert torch.equal(stack.window(x), expected)
    handle.remove()
    assert seen == [4 + stack.latency]


def test_true_fan_in_counts_the_inputs_of_one_output():
    assert true_fan_in(nn.Linear(7, 3)) == 7
    assert true_fan_in(nn.Conv2d(4, 8, 3, stride=2)) == 36
    assert true_fan_in(nn.ConvTranspose2d(32, 1, 3, 1, 1)) == 288
    assert true_fan_in(nn.ConvTranspose2d(32, 16, 3, 2, 1, 1)) == 72


def test_init_readout_zeroes_the_bias_and_bounds_the_weights_by_the_window_gain():
    block = SpikingBlock(nn.ConvTranspose2d(32, 1, 3, 1, 1), LeakyReadout(0.8))
    init_readout(block, steps=23)
    gain = (1 - 0.8**23) / 0.2
    assert torch.equal(block.synapse.bias, torch.zeros(1))
    bound = 1 / (math.sqrt(288) * gain)
    assert block.synapse.weight.abs().max() <= bound
    assert block.synapse.weight.abs().max() > 0.9 * bound
    with pytest.raises(TypeError, match="LeakyReadout"):
        init_readout(SpikingBlock(nn.Linear(2, 2), LIF(LIFParams(0.25, 0.2))), steps=4)


# ------------------------------------------------------------------------------------------------- tdBN


@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 4, 5, 6, 6)])
def test_tdbn_training_statistics_are_over_batch_time_and_space(shape):
    """``[T, N, C, ...]`` folded to ``[T*N, C, ...]``: mean/var per channel over T, N and space, times alpha*V_th."""
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64) * 2 + 1
    channels = shape[2]
    norm = TDBatchNorm(channels, threshold=0.2, alpha=1.5).double().train()
    with torch.no_grad():
        norm.weight.copy_(torch.rand(channels, generator=generator, dtype=torch.float64) + 0.5)
        norm.bias.copy_(torch.randn(channels, generator=generator, dtype=torch.float64))
    out = norm(x.reshape(-1, *shape[2:]))

    per_channel = x.transpose(0, 2).reshape(channels, -1)  # every (t, n, spatial) value of a channel
    mean, var = per_channel.mean(1), per_channel.var(1, unbiased=False)
    view = (1, channels) + (1,) * (len(shape) - 3)
    expected = (1.5 * 0.2 * norm.weight.reshape(view) * (x.reshape(-1, *shape[2:]) - mean.reshape(view))
                / torch.sqrt(var.reshape(view) + norm.eps) + norm.bias.reshape(view))
    torch.testing.assert_close(out, expected.detach())
    # running statistics: the first batch replaces the placeholder (mean 0, variance 1) entirely
    torch.testing.assert_close(norm.running_mean, mean)
    torch.testing.assert_close(norm.running_var, per_channel.var(1, unbiased=True))
    assert int(norm.num_batches_tracked) == 1


def test_tdbn_running_statistics_average_the_first_batches_then_follow_the_momentum():
    norm = TDBatchNorm(1, threshold=0.2).double().train()
    means = torch.arange(1.0, 31.0, dtype=torch.float64)
    expected = torch.tensor(0.0, dtype=torch.float64)
    for n, value in enumerate(means, start=1):
        norm(value + torch.tensor([[-1.0], [1.0]], dtype=torch.float64))  # a batch of mean `value`
        weight = max(0.1, 1 / n)
        expected = (1 - weight) * expected + weight * value
        if n <= 10:  # the plain mean of the batches so far
            torch.testing.assert_close(norm.running_mean[0], means[:n].mean())
    torch.testing.assert_close(norm.running_mean[0], expected)


def test_tdbn_output_statistics_match_the_threshold():
    """With gamma = 1 and beta = 0 each channel's output has mean 0 and std alpha * V_th over (T, N, space)."""
    torch.manual_seed(0)
    block = SpikingBlock(nn.Conv2d(2, 3, 3, padding=1), LIF(LIFParams(0.25, 0.2)), TDBatchNorm(3, threshold=0.2,
                                                                                             alpha=2.0))
    current = block.current((torch.rand(6, 4, 2, 5, 5) < 0.3).float())
    per_channel = current.detach().transpose(0, 2).reshape(3, -1)
    torch.testing.assert_close(per_channel.mean(1), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(per_channel.var(1, unbiased=False), torch.full((3,), 0.4**2), rtol=1e-3, atol=0)


def test_tdbn_eval_uses_running_statistics_and_affine_matches():
    norm = _eval_norm(4)
    x = torch.randn(7, 4, 3, 3)
    scale, shift = norm.scale_shift()
    torch.testing.assert_close(norm(x), x * scale.reshape(1, 4, 1, 1) + shift.reshape(1, 4, 1, 1))
    assert int(norm.num_batches_tracked) == 0  # eval does not count batches


@pytest.mark.parametrize("kind, out_axis", [("linear", 0), ("conv", 0), ("convT", 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_fold_into_synapse_reproduces_eval_norm_of_synapse(kind, out_axis, bias):
    torch.manual_seed(4)
    make = {
        "linear": lambda: nn.Linear(6, 5, bias=bias),
        "conv": lambda: nn.Conv2d(2, 5, 3, stride=2, padding=1, bias=bias),
        "convT": lambda: nn.ConvTranspose2d(2, 5, 3, 2, padding=1, output_padding=1, bias=bias),
    }
    synapse = make[kind]()
    norm = _eval_norm(5, seed=5)
    x = torch.rand(8, 6) if kind == "linear" else torch.rand(8, 2, 4, 4)
    before = {k: v.clone() for k, v in {**synapse.state_dict(), **norm.state_dict()}.items()}

    weight, folded_bias = fold_into_synapse(synapse.weight, synapse.bias, norm, out_axis=out_axis)
    folded = make[kind]()
    with torch.no_grad():
        folded.weight.copy_(weight)
        if bias:
            folded.bias.copy_(folded_bias)
    with torch.no_grad():
        expected = norm(synapse(x))
        got = folded(x) if bias else folded(x) + folded_bias.reshape(-1, *([1] * (x.dim() - 2)))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # folding never changes the model
    after = {**synapse.state_dict(), **norm.state_dict()}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert weight.data_ptr() != synapse.weight.data_ptr()


def test_fold_without_norm_returns_copies():
    synapse = nn.Linear(3, 2)
    weight, bias = fold_into_synapse(synapse.weight, synapse.bias, None)
    assert torch.equal(weight, synapse.weight) and torch.equal(bias, synapse.bias)
    weight += 1
    assert not torch.equal(weight, synapse.weight)
    _, zero_bias = fold_into_synapse(nn.Linear(3, 2, bias=False).weight, None, None)
    assert torch.equal(zero_bias, torch.zeros(2))


def test_no_neuron_keeps_state_between_calls():
    """snnTorch keeps the last voltage in a ``mem`` buffer; ours pass state explicitly and leave it empty, so no call
    leaks into the next (and torch.compile sees the same module before every call)."""
    stack = _normed_stack(readout=True).train()
    x = torch.rand(4, 2, *stack.input_shape, dtype=torch.float64, requires_grad=True)
    for run in (stack, stack.window):
        run(x).sum().backward()
        buffers = [m.leaky.mem for m in stack.modules() if isinstance(m, LIF | LeakyReadout)]
        assert len(buffers) == 3 and all(b.numel() == 0 and not b.requires_grad for b in buffers)
