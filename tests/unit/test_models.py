"""Every registered model (forward, loss, gradients, sampling, deployable parts), the Poisson sampler and the
MMD loss, each against a hand computation or a statistical bound."""

import math

import pytest
import torch

from neurovae.models import VAEOutput
from neurovae.models.losses import rbf_mmd2
from neurovae.models.sampling import poisson_spikes
from neurovae.neurons import SpikingStack
from neurovae.registry import MODELS, ModelEntry, Registry

MODEL_NAMES = MODELS.names()
BATCH = 6


@pytest.fixture(params=MODEL_NAMES)
def model(request, tiny_model_config):
    torch.manual_seed(0)
    return MODELS.create(request.param, tiny_model_config(request.param))


def _images(config, count=BATCH, seed=0):
    generator = torch.Generator().manual_seed(seed)
    size = config.image_size
    return torch.rand(count, config.in_channels, size, size, generator=generator) * 2 - 1


def test_registry_lists_esvae_and_rejects_unknown_names():
    assert "esvae" in MODEL_NAMES
    with pytest.raises(ValueError, match="esvae"):
        MODELS.entry("no_such_model")
    registry = Registry()
    registry.register("x", dict)(torch.nn.Identity)
    with pytest.raises(ValueError, match="twice"):
        registry.register("x", dict)(torch.nn.Identity)
    assert isinstance(MODELS.entry("esvae"), ModelEntry)


def test_forward_shapes(model):
    config = model.config
    images = _images(config)
    out = model(images)
    assert out.reconstruction.shape == images.shape
    if not isinstance(out, VAEOutput):  # an auto-encoder: no posterior or prior
        return
    assert out.posterior.shape[0] == BATCH and out.prior.shape == out.posterior.shape
    assert out.latent.shape[-2] == BATCH  # [T, N, d] spikes or [N, d] codes
    assert out.reconstruction.abs().max() < 1
    if getattr(model, "spiking", True):
        assert set(out.latent.unique().tolist()) <= {0.0, 1.0}


def test_loss_is_finite_and_every_parameter_gets_a_gradient(model):
    images = _images(model.config)
    losses = model.loss(images, model(images))
    assert losses["loss"].dim() == 0
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"{name} gets no gradient"
        assert torch.isfinite(param.grad).all(), name
    # every top-level part (ESVAE: encoder, decoder, bottleneck) learns from the loss
    for part, module in model.named_children():
        norm = sum(p.grad.abs().sum() for p in module.parameters())
        assert norm > 0, f"{part} gets an all-zero gradient"
    # every parameter learns, except a synapse bias right before a batch norm (BN subtracts it right away)
    def before_norm(name):
        owner = name.rsplit(".synapse.bias", 1)[0]
        return name.endswith(".synapse.bias") and getattr(model.get_submodule(owner), "norm", None) is not None

    dead = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0 and not before_norm(n)]
    assert not dead, dead


def test_reconstruction_depends_on_the_image(model):
    """Through every layer's one-step delay, the image must still reach the readout within T steps."""
    images = _images(model.config)
    torch.manual_seed(1)
    first = model(images).reconstruction
    torch.manual_seed(1)
    second = model(_images(model.config, seed=1)).reconstruction
    assert (first - second).abs().max() > 1e-4
    # and the readout sees the latent spikes, not only the layers' biases
    images = _images(model.config)
    torch.manual_seed(1)
    out = model(images)
    if not hasattr(model, "decode"):
        return
    silent = model.decode(torch.zeros_like(out.latent))
    assert (out.reconstruction - silent).abs().max() > 1e-4


def test_eval_mode_is_deterministic_given_the_rng(model):
    model.eval()
    images = _images(model.config)
    torch.manual_seed(1)
    first = model(images).reconstruction
    torch.manual_seed(1)
    assert torch.equal(first, model(images).reconstruction)


def test_sample_shape_and_range(model):
    if not hasattr(model, "sample"):
        pytest.skip("an auto-encoder has no prior to sample from")
    config = model.config
    samples = model.sample(5, torch.Generator().manual_seed(0))
    assert samples.shape == (5, config.in_channels, config.image_size, config.image_size)
    assert torch.isfinite(samples).all() and samples.abs().max() < 1
    assert not samples.requires_grad
    assert torch.equal(samples, model.sample(5, torch.Generator().manual_seed(0)))  # seeded generator decides


def test_latent_features_one_row_per_image(model):
    features = model.latent_features(_images(model.config))
    assert features.dim() == 2 and features.shape[0] == BATCH


def test_deployable_parts_are_stacks_whose_input_shape_matches(model):
    if not hasattr(model, "deployable_parts"):
        pytest.skip("a non-spiking baseline has nothing to deploy")
    parts = model.deployable_parts()
    if not getattr(model, "spiking", True):
        assert parts == {}, "an ANN model is deployed by conversion (neurovae sleep), not as spiking stacks"
        return
    assert parts, "a spiking model must name at least one deployable part"
    config = model.config
    steps = getattr(config, "steps", 4)
    for name, (stack, encoding, readout) in parts.items():
        assert isinstance(stack, SpikingStack), name
        assert isinstance(encoding, str) and isinstance(readout, str)
        assert any(stack is m for m in model.modules()), f"{name} is not a sub-module of the model"
        out = stack(torch.zeros(steps, 2, *stack.input_shape))  # runs on exactly its declared input
        assert 2 in out.shape[:2], name
    if "encoder" in parts:
        encoder = parts["encoder"][0]
        assert encoder.input_shape == (config.in_channels, config.image_size, config.image_size)
        assert encoder(torch.zeros(steps, 2, *encoder.input_shape)).shape == (steps, 2, config.latent_dim)
    if "decoder" in parts:
        decoder = parts["decoder"][0]
        assert decoder.input_shape == (config.latent_dim,)
        size = config.image_size
        assert decoder(torch.zeros(steps, 2, *decoder.input_shape)).shape == (2, config.in_channels, size, size)


def test_esvae_parts_compose_to_the_forward_pass(tiny_model_config):
    """``decode(encoder spikes -> rates -> Poisson)`` with one RNG state equals ``forward``.

    Each synapse adds one step of delay: the encoder sees the image for ``T + latency`` steps and its rates
    are taken over the last ``T``; the decoder runs ``latency`` silent steps after the ``T`` latent steps.
    """
    torch.manual_seed(0)
    model = MODELS.create("esvae", tiny_model_config("esvae")).eval()
    images = _images(model.config)
    encoder, _, _ = model.deployable_parts()["encoder"]
    decoder, _, _ = model.deployable_parts()["decoder"]
    steps = model.config.steps
    rates = encoder(images.unsqueeze(0).expand(steps + encoder.latency, *images.shape))[encoder.latency:].mean(0)
    torch.manual_seed(3)
    out = model(images)
    torch.manual_seed(3)
    latent = poisson_spikes(rates, model.config.steps, model.config.sampling_width)
    torch.testing.assert_close(out.posterior, rates)
    assert torch.equal(out.latent, latent)
    silence = latent.new_zeros((decoder.latency, *latent.shape[1:]))
    torch.testing.assert_close(out.reconstruction, torch.tanh(decoder(torch.cat([latent, silence]))))


# ------------------------------------------------------------------------------------------ Poisson sampler


def test_poisson_firing_rates_match_within_three_sigma():
    rates = torch.tensor([[0.0, 0.02, 0.2, 0.5, 0.8, 0.97, 1.0]], dtype=torch.float64)
    steps, batch = 20, 1000  # 20k draws per rate
    spikes = poisson_spikes(rates.expand(batch, -1), steps, generator=torch.Generator().manual_seed(0))
    assert spikes.shape == (steps, batch, rates.shape[1])
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    draws = steps * batch
    empirical = spikes.mean((0, 1))
    sigma = torch.sqrt(rates[0] * (1 - rates[0]) / draws)
    assert ((empirical - rates[0]).abs() <= 3 * sigma).all(), (empirical, rates)
    # independent over time: consecutive steps are uncorrelated for the r = 0.5 neuron
    half = spikes[:, :, 3]
    both = (half[1:] * half[:-1]).mean()
    assert abs(both - 0.25) <= 3 * math.sqrt(0.25 * 0.75 / half[1:].numel())


@pytest.mark.parametrize("width", [0.5, 0.2])
def test_poisson_surrogate_gradient_is_eq8(width):
    """``d z[t, i] / d r[i] = [|r[i] - u[t, i]| < a/2] / a``, summed over t by the chain rule."""
    steps = 8
    rates = torch.rand(5, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64).requires_grad_()
    upstream = torch.randn(steps, 5, 7, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    spikes = poisson_spikes(rates, steps, width, generator=torch.Generator().manual_seed(9))
    (spikes * upstream).sum().backward()

    uniform = torch.rand((steps, 5, 7), generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    r = rates.detach()
    assert torch.equal(spikes, (uniform < r).double()), "the sampler no longer draws u ~ U(0,1) as documented"
    box = ((r - uniform).abs() < width / 2).double() / width
    torch.testing.assert_close(rates.grad, (upstream * box).sum(0))
    assert (rates.grad != 0).any() and (box == 0).any()  # the case exercises both sides of the box


# --------------------------------------------------------------------------------------------------- MMD


def reference_mmd2(source, target, kernels=5, multiplier=2.0):
    """Double loops over the pooled samples, in float64."""
    pooled = [p.double() for p in torch.cat([source, target])]
    count, n = len(pooled), len(source)
    sq = [[float(((a - b) ** 2).sum()) for b in pooled] for a in pooled]
    bandwidth = sum(map(sum, sq)) / (count * count - count) / multiplier ** (kernels // 2)

    def k(i, j):
        return sum(math.exp(-sq[i][j] / (bandwidth * multiplier**q)) for q in range(kernels))

    def mean(rows, cols):
        return sum(k(i, j) for i in rows for j in cols) / (len(rows) * len(cols))

    src, tgt = range(n), range(n, count)
    return mean(src, src) + mean(tgt, tgt) - 2 * mean(src, tgt)


def test_mmd_of_identical_sets_is_zero():
    x = torch.rand(16, 8, generator=torch.Generator().manual_seed(0))
    assert abs(rbf_mmd2(x, x.clone()).item()) < 1e-5


def test_mmd_grows_with_a_shift():
    generator = torch.Generator().manual_seed(0)
    x, y = torch.rand(32, 8, generator=generator), torch.rand(32, 8, generator=generator)
    near, far = rbf_mmd2(x, y + 0.1).item(), rbf_mmd2(x, y + 1.0).item()
    assert 0 < near < far


def test_mmd_two_point_hand_computation():
    """One point each: bandwidth h = d^2 / m^(K//2), so MMD^2 = 2K - 2 sum_i exp(-m^(K//2 - i)) for any d."""
    for d in (0.3, 2.0):
        a, b = torch.zeros(1, 3, dtype=torch.float64), torch.tensor([[d, 0.0, 0.0]], dtype=torch.float64)
        expected = 2 * 5 - 2 * sum(math.exp(-(2.0 ** (2 - i))) for i in range(5))
        assert rbf_mmd2(a, b).item() == pytest.approx(expected, rel=1e-9)
        assert rbf_mmd2(a, b, kernels=1, multiplier=3.0).item() == pytest.approx(2 - 2 * math.exp(-1), rel=1e-9)


@pytest.mark.parametrize("sizes", [(2, 2), (3, 5), (6, 1)])
def test_mmd_equals_double_loop_reference(sizes):
    generator = torch.Generator().manual_seed(sum(sizes))
    x = torch.rand(sizes[0], 4, generator=generator, dtype=torch.float64)
    y = torch.rand(sizes[1], 4, generator=generator, dtype=torch.float64) + 0.3
    assert rbf_mmd2(x, y).item() == pytest.approx(reference_mmd2(x, y), rel=1e-9, abs=1e-12)


def test_mmd_gradient_is_finite_with_repeated_points():
    """Binary-ish firing rates repeat exactly; zero distances must not give NaN gradients."""
    x = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], requires_grad=True)
    y = torch.tensor([[0.5, 0.5], [0.0, 1.0]], requires_grad=True)
    rbf_mmd2(x, y).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


@pytest.mark.parametrize("name", ["esvae", "fsvae"])
def test_training_step_traces_into_one_graph(name, tiny_model_config):
    """torch.compile fuses the whole step (``neurovae train --compile``) only if dynamo meets no graph break;
    FSVAE's scheduled sampling included (drawn with a high probability, so that it happens)."""
    import torch._dynamo

    torch.manual_seed(0)
    model = MODELS.create(name, tiny_model_config(name, scheduled_p_start=0.9, scheduled_from_step=1)).train()
    images = _images(model.config)
    explanation = torch._dynamo.explain(lambda x: model.loss(x, model(x))["loss"])(images)
    assert explanation.graph_break_count == 0, [str(b.reason)[:200] for b in explanation.break_reasons]
    assert explanation.graph_count == 1
