"""The spiking auto-encoder (Hübotter et al. 2021): its neuron, regularizers, readout and activity statistics,
each against a hand computation."""

import math

import pytest
import torch

from neurovae.data import InMemoryImageDataset
from neurovae.evaluate.activity import LayerActivity, intra_inter_distance_ratio
from neurovae.evaluate.run_eval import evaluate_run
from neurovae.export.writers import cuba_neuron
from neurovae.models.sae import SAE, SAEConfig, SAEOutput, final_potential
from neurovae.netx import CubaNeuron, NetxError
from neurovae.neurons import LIF, LIFParams, PeakReadout

# one 3x3 convolution of one channel, so every layer is small enough to count by hand
HAND = dict(image_size=5, channels=(1,), kernel_size=3, latent_dim=2, steps=4)


def test_lif_lower_bound_is_a_clamp_after_each_step():
    """Eq. 4: u' = max(u, -omega) below, 0 after a spike; tau = 0.99, omega = 1."""
    lif = LIF(LIFParams(beta=0.99, threshold=1.0, v_min=-1.0))
    current = torch.tensor([-3.0, 0.5, 0.6, 0.3, 2.0], dtype=torch.float64).reshape(5, 1)
    spikes, voltage = lif.trace(current)
    expected_v = [-1.0, -0.99 + 0.5, 0.99 * -0.49 + 0.6, 0.99 * 0.1149 + 0.3, 0.0]
    torch.testing.assert_close(voltage[:, 0], torch.tensor(expected_v, dtype=torch.float64))
    assert spikes[:, 0].tolist() == [0, 0, 0, 0, 1]
    unbounded = LIF(LIFParams(beta=0.99, threshold=1.0)).trace(current)[1]
    assert unbounded[0, 0] == -3.0
    with pytest.raises(ValueError, match="v_min"):
        LIFParams(beta=0.99, threshold=1.0, v_min=0.5)


def test_the_bound_maps_to_netx_and_back():
    params = LIFParams(beta=0.99, threshold=1.0, v_min=-1.0)
    neuron = cuba_neuron(params, weight_scale=64.0)
    assert neuron.vMinMant == -64.0 and neuron.vThMant == 64.0
    assert CubaNeuron.from_datasets(neuron.datasets()) == neuron
    assert LIFParams.from_cuba(params.to_cuba(64.0), 64.0) == params
    plain = cuba_neuron(LIFParams(beta=0.99, threshold=1.0), weight_scale=64.0)
    assert plain.vMinMant is None and "neuron/vMinMant" not in plain.datasets()
    with pytest.raises(NetxError, match="vMinMant"):
        CubaNeuron(vMinMant=5)


def test_peak_readout_and_final_potential_are_eq7_and_eq8():
    current = torch.tensor([1.0, 2.0, -4.0], dtype=torch.float64).reshape(3, 1)
    # U = 1, 0.5 + 2 = 2.5, 1.25 - 4 = -2.75
    assert PeakReadout(0.5)(current).item() == 2.5
    assert final_potential(current, 0.5).item() == -2.75


def test_regularizers_and_loss_on_a_hand_computed_case():
    config = SAEConfig(**HAND, l2=0.1, p1=0.2, p2=0.3, a1=0.4, a1_latent=0.5)
    model = SAE(config).double()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.5)
    # weights: conv 9 + FC 9x2 + FC 2x9 + convT 9 = 54 of 0.5^2
    layer1 = torch.zeros(4, 1, 2, dtype=torch.float64)
    layer1[[0, 2], 0, 0] = 1  # neuron 0 fires at 2 of 4 steps, neuron 1 never: mean rate 0.25
    latent = torch.ones(4, 1, 1, dtype=torch.float64)  # the latent layer (layer 2 here) fires every step
    silent = torch.zeros(4, 1, 3, dtype=torch.float64)
    potentials = [torch.tensor([[4.0, -8.0]], dtype=torch.float64), torch.tensor([[2.0]], dtype=torch.float64)]
    images = torch.zeros(1, 1, 5, 5, dtype=torch.float64)  # 0.5 on [0, 1]
    reconstruction = torch.full_like(images, 0.2)  # x_hat = 0.6
    output = SAEOutput(reconstruction, latent, [layer1, latent, silent], potentials, {})

    terms = model.regularizers(output)
    assert terms["l2"].item() == pytest.approx(54 * 0.25)
    assert terms["p1"].item() == pytest.approx((1 + 2) / 2 + 0.5)  # |U/T| averaged per layer, summed
    assert terms["p2"].item() == pytest.approx((1 + 4) / 2 + 0.25)
    assert terms["a1"].item() == pytest.approx(0.25 + 1 + 0)
    assert terms["a1_latent"].item() == pytest.approx(1.0)

    losses = model.loss(images, output)
    assert losses["rec"].item() == pytest.approx(0.01)
    assert losses["mse_sum"].item() == pytest.approx(25 * 0.01)
    regularization = 0.1 * 13.5 + 0.2 * 2.0 + 0.3 * 2.75 + 0.4 * 1.25 + 0.5 * 1.0
    assert losses["loss"].item() == pytest.approx(0.01 + regularization)


def test_forward_records_every_layer_and_decodes_the_peak():
    torch.manual_seed(0)
    config = SAEConfig(**HAND)
    model = SAE(config).double()
    images = torch.rand(3, 1, 5, 5, dtype=torch.float64) * 2 - 1
    torch.manual_seed(1)
    out = model(images)
    total = config.steps + model.latency
    assert [s.shape for s in out.layer_spikes] == [(total, 3, 1, 3, 3), (total, 3, 2), (total, 3, 9)]
    assert len(out.final_potentials) == 4 and out.latent is out.layer_spikes[1]
    torch.manual_seed(1)
    spikes = model.encode_input(images)
    peak = model.decoder(model.encoder(spikes))
    torch.testing.assert_close(out.reconstruction, 2 * peak / (0.2 * config.steps) - 1)
    assert spikes[config.steps:].sum() == 0 and set(spikes.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(out.layer_rates["layer2"], out.latent.sum(0) / config.steps)


def test_poisson_encoding_fires_at_s_times_the_pixel():
    model = SAE(SAEConfig(**{**HAND, "steps": 400}))
    images = torch.tensor([-1.0, 0.0, 1.0]).reshape(3, 1, 1, 1).expand(3, 1, 5, 5)
    torch.manual_seed(0)
    rates = model.encode_input(images)[:400].mean((0, 2, 3, 4))
    draws = 400 * 25
    for rate, expected in zip(rates.tolist(), [0.0, 0.1, 0.2], strict=True):
        assert abs(rate - expected) <= 4 * math.sqrt(expected * (1 - expected) / draws) + 1e-12


def test_layer_activity_on_a_hand_built_case():
    stats = LayerActivity(burst_rate=0.5)
    stats.update(torch.tensor([[0.0, 0.5, 0.9, 0.0], [0.0, 0.0, 0.8, 0.0]]))
    stats.update(torch.tensor([[0.0, 0.0, 0.6, 0.25]]))
    result = stats.compute()
    # neuron 0 dead; 1, 2, 3 active; only neuron 2 fires at >= 0.5 for every image
    assert result["anr"] == pytest.approx(3 / 4) and result["dead"] == 1 and result["bursting"] == 1
    assert result["afr"] == pytest.approx((0.5 + 0.9 + 0.8 + 0.6 + 0.25) / (3 * 3))
    assert result["rae"] == pytest.approx(((2 + 1 + 2) / 3) / 3)
    stats.reset()
    with pytest.raises(ValueError, match="update"):
        stats.compute()


def test_intra_inter_distance_ratio_on_a_hand_built_case():
    features = torch.tensor([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    inter = (3 + 3 + 2 * math.sqrt(10)) / 4
    assert intra_inter_distance_ratio(features, labels) == pytest.approx(1 / inter)
    assert math.isnan(intra_inter_distance_ratio(features[:2], labels[:2]))  # one class: undefined
    assert math.isnan(intra_inter_distance_ratio(torch.zeros(4, 2), labels))  # all alike: undefined


def test_eval_of_an_auto_encoder_skips_sampling_and_reports_activity(tmp_path):
    torch.manual_seed(0)
    config = SAEConfig(**{**HAND, "image_size": 8, "channels": (2,), "latent_dim": 4, "steps": 8, "input_scale": 1.0})
    model = SAE(config)  # at this seed every layer fires and the latent rates differ between images
    images = torch.rand(12, 1, 8, 8) * 2 - 1
    dataset = InMemoryImageDataset(images, torch.arange(12) % 3, 3)
    metrics = evaluate_run(model, dataset, None, tmp_path, progress=False)
    assert set(metrics["activity"]) == {"layer1", "layer2", "layer3"}
    assert metrics["activity"]["layer2"]["neurons"] == 4
    assert 0 < metrics["intra_inter_distance_ratio"] and "fad" not in metrics
    assert (tmp_path / "metrics.json").is_file() and not (tmp_path / "samples.png").exists()
