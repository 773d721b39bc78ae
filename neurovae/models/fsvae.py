"""FSVAE: fully spiking VAE with autoregressive Bernoulli spike sampling (Kamata et al. 2022).

Encoder and decoder are ESVAE's (ESVAE took them from FSVAE): ``32C3-64C3-128C3-256C3-128FC`` stride-2
convolutions with tdBN and LIF, the image as direct input at every step; ``128FC-256C3-128C3-64C3-32C3-32C3-C``
transposed convolutions ending in a leaky membrane readout (decay 0.8) and ``tanh``. The latent space is a
Bernoulli process sampled by two delay-free spiking MLPs (:mod:`neurovae.neurons.autoregressive`), each
``2C-4C-kC`` with ``k = 20`` candidates per latent neuron:

* posterior ``q(z_t | x_<=t, z_<t)`` from the encoder's spikes ``x_t`` and ``z_{t-1}``;
* prior ``p(z_t | z_<t)`` from ``z_{t-1}``, trained with scheduled sampling: from step 5 on, each step is, with
  probability ``p`` (0.1 -> 0.3 over the epochs), replaced by the prior's own majority vote over its candidates.

Loss: ``MSE(x, x_hat) + MMD^2`` between the posterior's and the prior's spike trains, with the kernel of a
post-synaptic potential: ``mean((PSP(E q) - PSP(E p))^2)`` (:func:`~neurovae.models.losses.psp_mmd2`).

The neuron is neurovae's LIF (Lava's update, zero reset; the reference's ``LIFSpike``: beta = 0.25, V_th = 0.2).
Two mappings: the reference's surrogate gradient is a box ``|u| < 0.5`` of height 1 around ``u = 0``; ours has the
same width and height (``surrogate_width = 1``) but is centred on the threshold as in the paper's eq. 4. And as in
every exported neurovae stack, each synapse of the encoder and decoder delays by one step (Lava's), with the
pipeline latency compensated as in ESVAE.

Deployed, encoder and decoder run on the neuromorphic target; the autoregressive sampling (posterior and prior
MLPs and the random choice among candidates) runs on the host, from the folded MLPs stored in each file's
``/host`` arrays (:meth:`FSVAE.host_arrays`, :mod:`neurovae.simulate.host`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neurovae.models.esvae import BackboneConfig, build_decoder, build_encoder
from neurovae.models.losses import psp_mmd2
from neurovae.models.outputs import VAEOutput
from neurovae.neurons import LIFParams, SpikingStack
from neurovae.neurons.autoregressive import CandidateNet, pick, shift_in_time
from neurovae.registry import MODELS


@dataclass
class FSVAEConfig(BackboneConfig):
    """FSVAE hyper-parameters (defaults: the reference code's MNIST/Fashion-MNIST/CIFAR-10 settings)."""

    surrogate_width: float = 1.0  # the reference's box |u| < 0.5, centred on V_th here (paper eq. 4)
    candidates: int = 20  # k
    sampler_norm_alpha: float = 2.0  # tdBN alpha in the posterior and prior MLPs
    psp_tau: float = 2.0  # time constant of the PSP kernel of the MMD
    mmd_weight: float = 1.0  # loss = MSE + mmd_weight * MMD^2 (reference: 1)
    scheduled_sampling: bool = True
    scheduled_p_start: float = 0.1  # probability of scheduled sampling in the first epoch ...
    scheduled_p_end: float = 0.3  # ... growing linearly towards this one
    scheduled_from_step: int = 5  # steps before this one are never replaced

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.candidates < 1:
            raise ValueError(f"candidates (k) must be positive, got {self.candidates}")
        if not 0 <= self.scheduled_p_start <= 1 or not 0 <= self.scheduled_p_end <= 1:
            raise ValueError("scheduled sampling probabilities must be in [0, 1]")
        if self.psp_tau < 1:
            raise ValueError(f"psp_tau must be >= 1 (a decay of 1 - 1/tau), got {self.psp_tau}")

    def lif(self) -> LIFParams:
        """The neurons of the posterior and prior MLPs."""
        return LIFParams(self.beta, self.threshold, self.surrogate_width)


@MODELS.register("fsvae", FSVAEConfig)
class FSVAE(nn.Module):
    """Fully spiking VAE; see the module docstring for the architecture, sampling and loss."""

    def __init__(self, config: FSVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        self.decoder = build_decoder(config)
        latent, hidden = config.latent_dim, (2 * config.latent_dim, 4 * config.latent_dim)
        k, lif, alpha = config.candidates, config.lif(), config.sampler_norm_alpha
        self.posterior = CandidateNet(latent, latent, hidden, k, lif, alpha)
        self.prior = CandidateNet(0, latent, hidden, k, lif, alpha)
        self.scheduled_p = config.scheduled_p_start

    def start_epoch(self, epoch: int, epochs: int) -> None:
        """Scheduled-sampling probability of ``epoch``: linear from ``scheduled_p_start`` (the reference's update_p)."""
        start, end = self.config.scheduled_p_start, self.config.scheduled_p_end
        self.scheduled_p = start + (end - start) * epoch / max(epochs, 1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's output spikes ``x`` ``[T, N, C]``: the last ``T`` steps of a ``T + latency`` run."""
        return self.encoder.window(images.unsqueeze(0).expand(self.config.steps, *images.shape))

    def decode(self, latent_spikes: torch.Tensor) -> torch.Tensor:
        """Images ``[N, C, H, W]`` in (-1, 1) from latent spikes ``[T, N, C]`` (plus ``latency`` silent steps)."""
        return torch.tanh(self.decoder.window(latent_spikes))

    def draw_choice(self, steps: int, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Which of the ``k`` candidates becomes ``z_t``, per step, sample and latent neuron ``[T, N, C]``."""
        device = self.prior.layers[0].synapse.weight.device
        return torch.randint(self.config.candidates, (steps, batch, self.config.latent_dim), generator=generator,
                             device=device)

    def posterior_sample(self, spikes: torch.Tensor, generator: torch.Generator | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidates ``[T, N, C, k]`` of ``q`` and the sampled latent ``[T, N, C]`` (gradients flow through both).

        The latent is sampled step by step without gradients; the teacher-forced pass on it then gives the
        candidates with gradients, and the latent is re-picked from them (as the reference does).
        """
        choice = self.draw_choice(*spikes.shape[:2], generator)
        rolled = self.posterior.sample(spikes.detach(), choice)
        candidates = self.posterior(spikes, shift_in_time(rolled))
        return candidates, pick(candidates, choice)

    def prior_input(self, latent: torch.Tensor) -> torch.Tensor:
        """The prior's input ``[0, z_0 .. z_{T-2}]`` for a posterior latent, with scheduled sampling in training.

        A step chosen for scheduled sampling takes the prior's own majority vote over its candidates (ties broken by
        a little noise, as in the reference) instead of ``z_t``. The prior is stepped over every step and the choice
        applied with ``torch.where``, so the step is one graph for ``torch.compile`` whatever steps are drawn.
        """
        previous = shift_in_time(latent)
        steps = latent.shape[0]
        if not (self.training and self.config.scheduled_sampling and self.scheduled_p > 0):
            return previous
        times = torch.arange(steps - 1, device=latent.device)
        chosen = (torch.rand(steps - 1, device=latent.device) < self.scheduled_p) & (
            times >= self.config.scheduled_from_step)  # a tensor, not host control flow: one compiled graph

        def vote_or_posterior(t: int, candidates: torch.Tensor) -> torch.Tensor:
            votes = candidates.mean(-1)
            vote = (votes + 1e-3 * torch.randn_like(votes) > 0.5).to(latent.dtype)
            return torch.where(chosen[t], vote, latent[t])

        rolled = self.prior.roll_out(None, steps - 1, latent.shape[1], vote_or_posterior)
        return torch.cat([previous[:1], rolled])

    def forward(self, images: torch.Tensor) -> VAEOutput:
        """Reconstruct ``images``; ``posterior``/``prior`` are Bernoulli probabilities ``[N, T, C]``."""
        q_candidates, latent = self.posterior_sample(self.encode(images))
        p_candidates = self.prior(None, self.prior_input(latent.detach()))
        probabilities = (c.mean(-1).transpose(0, 1) for c in (q_candidates, p_candidates))
        return VAEOutput(self.decode(latent), *probabilities, latent)

    def loss(self, images: torch.Tensor, output: VAEOutput) -> dict[str, torch.Tensor]:
        """Reconstruction MSE plus the PSP-kernel MMD between posterior and prior spike trains."""
        recon = F.mse_loss(output.reconstruction, images)
        mmd = psp_mmd2(output.posterior.transpose(0, 1), output.prior.transpose(0, 1), self.config.psp_tau)
        return {"loss": recon + self.config.mmd_weight * mmd, "mse": recon, "mmd": mmd}

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images generated from the prior, sampled step by step."""
        return self.decode(self.prior.sample(None, self.draw_choice(self.config.steps, count, generator)))

    def latent_features(self, images: torch.Tensor) -> torch.Tensor:
        """Features for the linear probe: the posterior's spike probabilities averaged over time ``[N, C]``."""
        candidates, _ = self.posterior_sample(self.encode(images))
        return candidates.mean((0, -1))

    def host_arrays(self, part: str) -> dict[str, torch.Tensor]:
        """The sampler a deployed ``part`` needs on the host (tdBN folded in, :meth:`CandidateNet.folded_arrays`).

        The encoder's file holds the posterior MLP that turns its spikes into ``z``; the decoder's the prior MLP.
        """
        if part == "encoder":
            return self.posterior.folded_arrays("posterior")
        if part == "decoder":
            return self.prior.folded_arrays("prior")
        return {}

    def deployable_parts(self) -> dict[str, tuple[SpikingStack, str, str]]:
        """``name -> (stack, input encoding, output readout)`` for export to a neuromorphic target."""
        return {
            "encoder": (self.encoder, "direct", "spike_train"),
            "decoder": (self.decoder, "spikes", "voltage_tanh"),
        }
