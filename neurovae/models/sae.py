r"""Regularized spiking convolutional auto-encoder (Hübotter, Lanillos & Tomczak 2021).

Encoder ``16C5-32C5-FC(n_z)`` and mirrored decoder ``FC-32T5-16T5-1T5`` (stride 1, no padding, no biases),
every layer LIF with decay ``tau = 0.99``, threshold 1, reset to zero and the lower bound ``-omega = -1``
(eq. 4; a clamp after each step, see :mod:`neurovae.neurons.lif`). Input: the image in [0, 1], optionally
mixed with uniform noise ``x' = (1 - eps) x + eps xi`` (eq. 5), Poisson-encoded as ``[s x' > r(t)]`` with
``s = 0.2`` (eq. 6). Output: the maximum over time of the cumulative membrane potential of the last layer,
``x_hat = max_t U(t) / (s T)`` (eq. 8, with the authors' code's ``s T`` scale).

``U(t) = tau U(t-1) + I(t)`` (eq. 7) is the leaky integral of a layer's input current, the membrane
potential with threshold and reset ignored, as the authors' code computes it. The last layer's spikes reach
nothing, so it is run as that integrator itself with its maximum over time as output
(:class:`~neurovae.neurons.PeakReadout`; on Lava a never-firing LIF whose voltage the host reads at every
step); A1 and the activity statistics cover the five spiking layers.

Every synapse delays by one step, as on Lava: the network sees ``T`` Poisson steps followed by ``latency``
silent ones, so that every input step reaches the readout; rates are spike counts over ``T``.

Loss (eq. 12) ``L_rec + l2 L_L2 + p1 L_P1 + p2 L_P2 + a1 L_A1 + a1_latent L_A1(l=3)`` normalized as the
authors' code does, which is what the paper's coefficients were tuned with:

* ``L_rec``: mean squared error per pixel on [0, 1] (the paper *reports* the sum over pixels, ``mse_sum``);
* ``L_L2 = sum_l sum theta^2`` over every weight;
* ``L_P1 = sum_l mean_i |U_li(t_max) / T|`` and ``L_P2 = sum_l mean_i (U_li(t_max) / T)^2``, means over
  the layer's neurons and the batch, over every layer (readout included);
* ``L_A1 = sum_l mean_i rate_li`` over the spiking layers, ``L_A1(l=3)`` the latent layer's term alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from neurovae.neurons import LIF, LIFParams, PeakReadout, SpikingBlock, SpikingStack, TimeFlatten, TimeUnflatten
from neurovae.registry import MODELS


@dataclass
class SAEConfig:
    """SAE hyper-parameters; defaults are the paper's (Table 3) with the SAE-dense regularization (Table 1)."""

    in_channels: int = 1
    image_size: int = 28
    channels: tuple[int, ...] = (16, 32)
    kernel_size: int = 5
    latent_dim: int = 100  # n_z
    steps: int = 100  # T
    beta: float = 0.99  # potential decay tau
    threshold: float = 1.0  # omega; the membrane's lower bound is -omega
    surrogate_width: float = 1.0  # not in the paper (a straight-through estimate): box of height 1 around omega
    input_scale: float = 0.2  # s
    noise: float = 0.0  # epsilon
    l2: float = 0.0
    p1: float = 0.0
    p2: float = 0.01
    a1: float = 0.0
    a1_latent: float = 0.01

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        side = self.image_size - len(self.channels) * (self.kernel_size - 1)
        if side < 1:
            raise ValueError(f"image_size {self.image_size} is too small for {len(self.channels)} "
                             f"unpadded {self.kernel_size}x{self.kernel_size} convolutions")
        if self.steps < 1 or self.latent_dim < 1:
            raise ValueError("steps and latent_dim must be positive")
        if not 0 < self.input_scale <= 1 or not 0 <= self.noise <= 1:
            raise ValueError("input_scale must be in (0, 1] and noise in [0, 1]")
        if min(self.l2, self.p1, self.p2, self.a1, self.a1_latent) < 0:
            raise ValueError("regularization coefficients must be >= 0")
        self.lif_params()

    def lif_params(self) -> LIFParams:
        """The paper's neuron: decay tau, threshold omega, lower bound -omega."""
        return LIFParams(self.beta, self.threshold, self.surrogate_width, v_min=-self.threshold)


@dataclass
class SAEOutput:
    """What the SAE's forward pass returns.

    Attributes:
        reconstruction: images ``[N, C, H, W]`` on the data's [-1, 1] scale (``2 x_hat - 1``, not clipped).
        latent: latent spikes ``[T + latency, N, n_z]``.
        layer_spikes: spikes ``[T + latency, N, ...]`` of every spiking layer, in order.
        final_potentials: ``U(t_max)`` ``[N, ...]`` of every layer (spiking ones and the readout).
        layer_rates: ``name -> [N, neurons]`` firing rates per image, for the activity statistics.
    """

    reconstruction: torch.Tensor
    latent: torch.Tensor
    layer_spikes: list[torch.Tensor]
    final_potentials: list[torch.Tensor]
    layer_rates: dict[str, torch.Tensor]


def init_weight(synapse: nn.Module) -> None:
    """Eq. 13: ``theta ~ N(0, sqrt(2 / n_l))``, ``n_l`` = fan-in (kernel area x input channels)."""
    weight = synapse.weight
    if isinstance(synapse, nn.ConvTranspose2d):
        fan_in = weight.shape[0] * weight.shape[2] * weight.shape[3]
    else:
        fan_in = weight[0].numel()
    nn.init.normal_(weight, 0.0, math.sqrt(2.0 / fan_in))


def _block(synapse: nn.Module, neuron: nn.Module) -> SpikingBlock:
    init_weight(synapse)
    return SpikingBlock(synapse, neuron)


def build_encoder(config: SAEConfig) -> SpikingStack:
    """Poisson spikes ``[T, N, C, H, W]`` -> latent spikes ``[T, N, n_z]``."""
    lif, k = config.lif_params(), config.kernel_size
    layers: list[nn.Module] = []
    in_ch = config.in_channels
    for out_ch in config.channels:
        layers.append(_block(nn.Conv2d(in_ch, out_ch, k, bias=False), LIF(lif)))
        in_ch = out_ch
    side = config.image_size - len(config.channels) * (k - 1)
    layers += [TimeFlatten(), _block(nn.Linear(in_ch * side * side, config.latent_dim, bias=False), LIF(lif))]
    return SpikingStack((config.in_channels, config.image_size, config.image_size), *layers)


def build_decoder(config: SAEConfig) -> SpikingStack:
    """Latent spikes ``[T, N, n_z]`` -> ``max_t U(t)`` ``[N, C, H, W]`` of the output layer (eq. 8 before 1/(sT))."""
    lif, k = config.lif_params(), config.kernel_size
    side = config.image_size - len(config.channels) * (k - 1)
    rev = config.channels[::-1]
    layers: list[nn.Module] = [
        _block(nn.Linear(config.latent_dim, rev[0] * side * side, bias=False), LIF(lif)),
        TimeUnflatten((rev[0], side, side)),
    ]
    for in_ch, out_ch in zip(rev[:-1], rev[1:], strict=True):
        layers.append(_block(nn.ConvTranspose2d(in_ch, out_ch, k, bias=False), LIF(lif)))
    layers.append(_block(nn.ConvTranspose2d(rev[-1], config.in_channels, k, bias=False), PeakReadout(config.beta)))
    return SpikingStack((config.latent_dim,), *layers)


def final_potential(current: torch.Tensor, beta: float) -> torch.Tensor:
    """``U(t_max) = sum_t beta^(t_max - t) I(t)`` for currents ``[T, N, ...]`` (eq. 7 unrolled)."""
    steps = current.shape[0]
    weights = beta ** torch.arange(steps - 1, -1, -1, dtype=current.dtype, device=current.device)
    return torch.tensordot(weights, current, dims=1)


@MODELS.register("sae", SAEConfig)
class SAE(nn.Module):
    """Spiking auto-encoder; see the module docstring for the architecture, readout and loss."""

    def __init__(self, config: SAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        self.decoder = build_decoder(config)

    @property
    def latency(self) -> int:
        """Steps an input spike takes to reach the readout (one per synapse)."""
        return self.encoder.latency + self.decoder.latency

    def encode_input(self, images: torch.Tensor) -> torch.Tensor:
        """Eqs. 5-6: images in [-1, 1] -> Poisson spikes ``[T + latency, N, C, H, W]`` (silent after ``T``)."""
        x = (images + 1) / 2
        if self.config.noise:
            x = (1 - self.config.noise) * x + self.config.noise * torch.rand_like(x)
        steps = self.config.steps
        spikes = (torch.rand((steps, *x.shape), device=x.device, dtype=x.dtype) < self.config.input_scale * x)
        silence = x.new_zeros((self.latency, *x.shape))
        return torch.cat([spikes.to(x.dtype), silence])

    def _run(self, stack: SpikingStack, x: torch.Tensor, spikes: list, potentials: list) -> torch.Tensor:
        """Run ``stack``, appending each spiking layer's spikes and each layer's ``U(t_max)``."""
        for layer in stack:
            if not isinstance(layer, SpikingBlock):
                x = layer(x)
                continue
            current = layer.current(x)
            x = layer.neuron(current)
            potentials.append(final_potential(current, self.config.beta))
            if isinstance(layer.neuron, LIF):
                spikes.append(x)
        return x

    def forward(self, images: torch.Tensor) -> SAEOutput:
        """Reconstruct ``images``; also returns every layer's spikes and final cumulative potential."""
        spikes: list[torch.Tensor] = []
        potentials: list[torch.Tensor] = []
        latent = self._run(self.encoder, self.encode_input(images), spikes, potentials)
        peak = self._run(self.decoder, latent, spikes, potentials)
        x_hat = peak / (self.config.input_scale * self.config.steps)
        rates = {f"layer{i + 1}": s.sum(0).flatten(1) / self.config.steps for i, s in enumerate(spikes)}
        return SAEOutput(2 * x_hat - 1, latent, spikes, potentials, rates)

    def regularizers(self, output: SAEOutput) -> dict[str, torch.Tensor]:
        """The unweighted terms ``l2, p1, p2, a1, a1_latent`` (module docstring for the normalization)."""
        steps = self.config.steps
        latent_layer = len(self.config.channels)
        scaled = [u / steps for u in output.final_potentials]
        rates = [s.sum(0) / steps for s in output.layer_spikes]
        return {
            "l2": sum(p.pow(2).sum() for name, p in self.named_parameters() if name.endswith("weight")),
            "p1": sum(u.abs().mean() for u in scaled),
            "p2": sum(u.pow(2).mean() for u in scaled),
            "a1": sum(r.mean() for r in rates),
            "a1_latent": rates[latent_layer].mean(),
        }

    def loss(self, images: torch.Tensor, output: SAEOutput) -> dict[str, torch.Tensor]:
        """Eq. 12 with the configured coefficients; also ``mse_sum``, the paper's reported L_rec."""
        target, x_hat = (images + 1) / 2, (output.reconstruction + 1) / 2
        squared = (x_hat - target).pow(2)
        terms = self.regularizers(output)
        total = squared.mean() + sum(getattr(self.config, name) * value for name, value in terms.items())
        return {"loss": total, "rec": squared.mean(), "mse_sum": squared.flatten(1).sum(1).mean(), **terms}

    def latent_features(self, images: torch.Tensor) -> torch.Tensor:
        """Latent firing rates ``[N, n_z]`` (what the paper's latent analysis uses)."""
        return self(images).layer_rates[f"layer{len(self.config.channels) + 1}"]

    def host_arrays(self, part: str) -> dict[str, torch.Tensor]:
        """Nothing runs on the host but the Poisson encoding of the input and the max over time."""
        return {}

    def deployable_parts(self) -> dict[str, tuple[SpikingStack, str, str]]:
        """``name -> (stack, input encoding, output readout)``: the decoder's readout is ``max_t U(t)``."""
        return {
            "encoder": (self.encoder, "spikes", "spike_rate"),
            "decoder": (self.decoder, "spikes", "voltage_max"),
        }
