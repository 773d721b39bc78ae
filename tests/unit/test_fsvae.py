"""FSVAE: the autoregressive Bernoulli sampler's distribution, roll-out = teacher forcing, the PSP MMD by hand,
scheduled sampling, host arrays, configs, and a short training run that lowers the loss."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from neurovae.config import load_config
from neurovae.models.fsvae import FSVAE, FSVAEConfig
from neurovae.models.losses import psp_mmd2
from neurovae.neurons import LIFParams
from neurovae.neurons.autoregressive import CandidateNet, pick, shift_in_time

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
LIF = LIFParams(beta=0.25, threshold=0.2, surrogate_width=1.0)


def firing(net: CandidateNet) -> CandidateNet:
    """``net`` in eval mode with tdBN statistics that make its neurons fire at intermediate rates."""
    with torch.no_grad():
        for layer in net.layers:
            layer.norm.running_mean.uniform_(-0.2, 0.2)
            layer.norm.running_var.uniform_(0.05, 0.3)
            layer.norm.bias.uniform_(0.0, 0.3)
    return net.eval()


def spiking_net(context: int, latent: int = 5, candidates: int = 20, seed: int = 0) -> CandidateNet:
    """A float64 candidate net that fires (see :func:`firing`)."""
    torch.manual_seed(seed)
    return firing(CandidateNet(context, latent, (12, 16), candidates, LIF).double())


def test_picking_one_of_k_candidates_fires_at_their_mean():
    """Each candidate column has m of k spikes; a uniform pick must fire with probability m / k."""
    k, draws = 20, 20_000
    fired = torch.arange(k + 1)  # one latent neuron per count m = 0..k
    candidates = (torch.arange(k)[None, :] < fired[:, None]).double()  # [k+1, k]
    generator = torch.Generator().manual_seed(0)
    choice = torch.randint(k, (draws, k + 1), generator=generator)
    rates = pick(candidates.expand(draws, -1, -1), choice).mean(0)
    probability = fired.double() / k
    tolerance = 5 * torch.sqrt(probability * (1 - probability) / draws)  # 5 sigma of a binomial mean
    assert torch.all((rates - probability).abs() <= tolerance)
    assert rates[0] == 0 and rates[-1] == 1


@pytest.mark.parametrize("context", [0, 4])
def test_roll_out_equals_teacher_forcing_and_is_bernoulli_at_the_nets_probabilities(context):
    """Stepped with state carried, z_t is candidate choice[t] of the teacher-forced pass on z itself; and
    sum_t,n (z - pi) / sqrt(sum pi (1 - pi)) is a standardized martingale sum, |.| < 5 for a seeded draw."""
    net, steps, batch = spiking_net(context), 8, 400
    generator = torch.Generator().manual_seed(1)
    inputs = (torch.rand(steps, batch, context, generator=generator) < 0.5).double() if context else None
    choice = torch.randint(net.candidates, (steps, batch, net.latent), generator=generator)
    latent = net.sample(inputs, choice)
    with torch.no_grad():
        candidates = net(inputs, shift_in_time(latent))
    assert torch.equal(latent, pick(candidates, choice))
    probability = candidates.mean(-1)
    assert 0.1 < probability.mean() < 0.9 and probability.std() > 0.05, "the test net should fire variably"
    z_score = (latent - probability).sum() / torch.sqrt((probability * (1 - probability)).sum())
    assert abs(z_score) < 5


def test_training_roll_out_normalizes_with_the_batch_statistics_so_far():
    """For one step, the causal statistics are the whole window's: roll-out = teacher-forced training pass."""
    net = spiking_net(context=3).train()
    generator = torch.Generator().manual_seed(2)
    inputs = (torch.rand(1, 64, 3, generator=generator) < 0.5).double()
    choice = torch.randint(net.candidates, (1, 64, net.latent), generator=generator)
    latent = net.sample(inputs, choice)
    with torch.no_grad():
        forced = pick(net(inputs, torch.zeros_like(latent)), choice)
    assert torch.equal(latent, forced) and 0 < latent.mean() < 1


def test_folded_host_arrays_rebuild_the_same_sampler():
    net = spiking_net(context=4)
    arrays = {name: t.numpy() for name, t in net.folded_arrays("posterior").items()}
    rebuilt = CandidateNet.from_folded_arrays(arrays, "posterior")
    assert CandidateNet.stored_in(arrays, "posterior") and not CandidateNet.stored_in(arrays, "prior")
    generator = torch.Generator().manual_seed(3)
    inputs = (torch.rand(6, 10, 4, generator=generator) < 0.5).double()
    choice = torch.randint(20, (6, 10, 5), generator=generator)
    assert torch.equal(net.sample(inputs, choice), rebuilt.sample(inputs, choice))


def test_psp_mmd_by_hand():
    """tau = 2: s_0 = x_0 / 2, s_1 = s_0 / 2 + x_1 / 2; difference of two one-neuron processes."""
    q = torch.tensor([[1.0], [0.0]])
    p = torch.tensor([[0.0], [1.0]])
    # PSP(q - p) = [0.5, 0.25 - 0.5] = [0.5, -0.25]; mean of squares = (0.25 + 0.0625) / 2
    assert psp_mmd2(q, p, tau=2.0).item() == pytest.approx(0.15625)
    assert psp_mmd2(q, q).item() == 0


def tiny(**overrides) -> FSVAEConfig:
    return FSVAEConfig(**{"channels": (4, 8), "image_size": 8, "latent_dim": 6, "steps": 8, **overrides})


def test_scheduled_sampling_replaces_late_steps_by_the_priors_vote():
    model = FSVAE(tiny(scheduled_from_step=3)).train()
    latent = (torch.rand(8, 5, 6, generator=torch.Generator().manual_seed(4)) < 0.5).float()
    model.scheduled_p = 0.0
    assert torch.equal(model.prior_input(latent), shift_in_time(latent))
    model.scheduled_p = 1.0
    firing(model.prior)  # eval mode: running statistics, so that a teacher-forced pass recomputes the votes
    fed = model.prior_input(latent)
    assert torch.equal(fed[:4], shift_in_time(latent)[:4])  # inputs 0..3 are 0, z_0, z_1, z_2: never replaced
    with torch.no_grad():
        votes = model.prior(None, fed).mean(-1)  # votes[t] decides input t + 1 from t = 3 on
    clear = (votes[3:-1] - 0.5).abs() > 0.01  # away from ties, which the reference's noise breaks at random
    assert clear.float().mean() > 0.5
    assert torch.equal(fed[4:][clear], (votes[3:-1] > 0.5).float()[clear])
    assert not torch.equal(fed, shift_in_time(latent))
    model.eval()
    assert torch.equal(model.prior_input(latent), shift_in_time(latent))  # teacher forcing at test time


def test_scheduled_probability_grows_linearly_over_the_epochs():
    model = FSVAE(tiny())
    model.start_epoch(0, 150)
    assert model.scheduled_p == pytest.approx(0.1)
    model.start_epoch(75, 150)
    assert model.scheduled_p == pytest.approx(0.2)


def test_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = FSVAE(tiny(steps=6)).train()
    # a shared pattern (left half dark, right half bright) plus noise: something a few steps can learn
    pattern = torch.ones(1, 1, 8, 8).index_fill_(3, torch.arange(4), -1.0)
    images = 0.8 * pattern + 0.2 * (torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(5)) * 2 - 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.02)

    def loss_at(seed: int) -> float:
        torch.manual_seed(seed)
        return model.loss(images, model(images))["loss"]

    before = loss_at(0).item()
    for step in range(6):
        optimizer.zero_grad()
        loss_at(step + 1).backward()
        optimizer.step()
    assert loss_at(0).item() < 0.9 * before


@pytest.mark.parametrize("name", ["mnist", "fmnist", "cifar10", "celeba", "fmnist_small"])
def test_configs_load_with_the_papers_values(name):
    config = load_config(CONFIGS / f"fsvae_{name}.yaml")
    model = config.model
    assert config.model_name == "fsvae" and isinstance(model, FSVAEConfig)
    assert (model.candidates, model.threshold, model.beta, model.psp_tau) == (20, 0.2, 0.25, 2.0)
    if name != "fmnist_small":
        assert (model.latent_dim, model.steps, config.train.lr, config.train.batch_size) == (128, 16, 0.001, 250)
        assert model.channels[:4] == (32, 64, 128, 256) and config.train.epochs == 150
    assert model.image_size == (64 if name == "celeba" else 32)
    assert math.isclose(config.train.weight_decay, 0.001) and np.isfinite(model.mmd_weight)
