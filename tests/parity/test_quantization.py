"""Fixed-point exports in Lava: Loihi's formats behave as ``neurovae.export.quantize`` assumes, a quantized dense
decoder runs identically in neurovae's Lava graph and lava-dl's stock netx, and a quantized ESVAE stays close to
the float one (per-layer scales decoded correctly).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neurovae.export import export_model, export_stack, quantize_network
from neurovae.models.esvae import ESVAE, ESVAEConfig
from neurovae.netx import CubaNeuron, DenseLayer, InputLayer, NetworkRecord, read_netx, write_netx
from neurovae.neurons import LIF, LeakyReadout, LIFParams, SpikingBlock, SpikingStack, TDBatchNorm

pytest.importorskip("lava.lib.dl.netx", reason="Lava (lava-nc / lava-dl) is not installed (it needs Python 3.10)")
from neurovae.simulate import run_lava, run_netx_stock  # noqa: E402
from neurovae.simulate.host import decoded_images  # noqa: E402

CONFIG = ESVAEConfig(in_channels=1, image_size=8, channels=(4, 6), latent_dim=10, steps=6)


def trained_like(module: nn.Module, seed: int) -> nn.Module:
    """Give every tdBN trained-looking running statistics and affine terms; float64, eval mode."""
    torch.manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for norm in (m for m in module.modules() if isinstance(m, TDBatchNorm)):
            norm.running_mean.uniform_(-0.2, 0.2)
            norm.running_var.uniform_(0.5, 2.0)
            norm.weight.uniform_(0.8, 2.5)
            norm.bias.uniform_(-0.1, 0.3)
    return module.eval()


def spike_agreement(reference, other, layers) -> dict[int, float]:
    return {i: float((reference.spikes[i] == other.spikes[i]).mean()) for i in layers}


def test_lava_fixed_point_takes_8_bit_weights_exactly_and_leaves_no_residual_current():
    """One input spike per sample: the voltage then holds the effective weight for 3 more steps (vDecay 0), which
    also shows that iDecay 4096 (Lava du 4095 + its ds_offset 1) leaves no current behind."""
    rng = np.random.default_rng(0)
    weight = rng.integers(-128, 128, (5, 6))
    weight[0, :2] = (-128, 127)
    for rows, expected in ((weight, weight), (np.array([[-128, -3]]), np.array([[-127, -3]]))):  # + netx's quirk
        n_out, n_in = rows.shape
        network = NetworkRecord((InputLayer((n_in,)), DenseLayer(rows, CubaNeuron(vDecay=0, vThMant=(1 << 17) - 1))),
                                precision="fixed", readout="voltage", steps=5)
        inputs = np.zeros((n_in, n_in, 5))
        inputs[np.arange(n_in), np.arange(n_in), 0] = 1
        result = run_lava(network, inputs, precision="fixed", progress=False)
        np.testing.assert_array_equal(result.readout_voltage.T, expected)


def dense_decoder(seed: int) -> SpikingStack:
    """An ESVAE-shaped decoder of dense layers only (stock netx loads it): latent spikes -> LIF -> readout."""
    torch.manual_seed(seed)

    def block(n_in: int, n_out: int) -> SpikingBlock:
        return SpikingBlock(nn.Linear(n_in, n_out), LIF(LIFParams(0.25, 0.2)), TDBatchNorm(n_out, threshold=0.2))

    stack = SpikingStack((10,), block(10, 24), block(24, 16), SpikingBlock(nn.Linear(16, 12), LeakyReadout(0.8)))
    return trained_like(stack, seed)


def test_quantized_dense_decoder_runs_like_stock_netx_and_close_to_float(tmp_path):
    stack = dense_decoder(1)
    float_net = export_stack(stack, steps=8, input_encoding="spikes", readout="voltage",
                             model_config={"output": "voltage_tanh"})
    fixed = quantize_network(float_net)
    path = write_netx(fixed, tmp_path / "decoder.net")
    assert read_netx(path) == fixed
    latent = (np.random.default_rng(1).uniform(size=(3, 10, 8)) < 0.4).astype(float)
    ours = run_lava(path, latent, precision="fixed", progress=False)
    stock = run_netx_stock(path, latent, progress=False)
    for index in fixed.spiking_layers[:-1]:
        assert int((ours.spikes[index] != stock.spikes[index]).sum()) == 0, f"layer {index}"
        assert stock.spikes[index].sum() > 10
    np.testing.assert_array_equal(ours.readout_voltage, stock.readout_voltage)

    reference = run_lava(float_net, latent, precision="float", progress=False)
    agreement = spike_agreement(reference, ours, fixed.spiking_layers[:-1])
    assert min(agreement.values()) > 0.97, agreement
    images_fixed, images_float = decoded_images(fixed, ours), decoded_images(float_net, reference)
    assert np.abs(images_fixed - images_float).max() < 0.05  # voltage / the readout layer's own scale


def test_quantized_esvae_runs_in_lava_fixed_close_to_float(tmp_path):
    model = trained_like(ESVAE(CONFIG), 0)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 1, 8, 8))
    latent = (np.random.default_rng(1).uniform(size=(3, CONFIG.latent_dim, CONFIG.steps)) < 0.4).astype(float)
    for part, inputs in (("encoder", images), ("decoder", latent)):
        float_net = export_model(model, part)
        fixed = export_model(model, part, precision="fixed")
        fixed = read_netx(write_netx(fixed, tmp_path / f"{part}.net"))
        assert fixed.precision == "fixed" and fixed.layer_scales is not None
        reference = run_lava(float_net, inputs, precision="float", steps=CONFIG.steps, progress=False)
        result = run_lava(fixed, inputs, precision="fixed", steps=CONFIG.steps, progress=False)
        spiking = fixed.spiking_layers if part == "encoder" else fixed.spiking_layers[:-1]
        agreement = spike_agreement(reference, result, spiking)
        assert min(agreement.values()) > 0.95, (part, agreement)
        assert sum(int(result.spikes[i].sum()) for i in spiking) > 50, "the test model should spike"
        if part == "decoder":
            difference = decoded_images(fixed, result) - decoded_images(float_net, reference)
            assert np.abs(difference).max() < 0.1
