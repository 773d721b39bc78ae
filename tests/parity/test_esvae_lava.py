"""Export -> Lava parity for an ESVAE-shaped model: every layer, every step, several inputs.

A small ESVAE (conv encoder, transposed-conv decoder with a membrane readout) with trained-looking
tdBN statistics is exported to netx and run in Lava ``floating_pt``. Its spikes must equal the PyTorch
model's (float64) for every layer at every time step, and the decoded images must agree to float
tolerance. The full ESVAE flow (encoder in Lava -> rates -> Poisson sampling on the host -> decoder in
Lava) is checked too.
"""

import numpy as np
import pytest
import torch

from neurovae.export import export_model
from neurovae.models.esvae import ESVAE, ESVAEConfig
from neurovae.netx import read_netx, write_netx
from neurovae.neurons import SpikingBlock

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")
from neurovae.simulate import run_lava  # noqa: E402
from neurovae.simulate.host import pad_latency  # noqa: E402

CONFIG = ESVAEConfig(in_channels=1, image_size=8, channels=(4, 6), latent_dim=10, steps=6)


def randomize_norms(model: torch.nn.Module) -> torch.nn.Module:
    """Give every spiking block's tdBN running statistics and affine terms that are not the defaults (in place)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, SpikingBlock) and module.norm is not None:
                norm = module.norm
                norm.running_mean.uniform_(-0.2, 0.2)
                norm.running_var.uniform_(0.5, 2.0)
                norm.weight.uniform_(0.8, 2.5)
                norm.bias.uniform_(-0.1, 0.3)
    return model


def trained_like_model(seed: int) -> ESVAE:
    """A tiny ESVAE whose tdBN running statistics and affine terms are not the defaults, in float64."""
    torch.manual_seed(seed)
    return randomize_norms(ESVAE(CONFIG).double()).eval()


def layer_outputs(stack, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of the spiking blocks of ``stack`` (reshapes skipped), [T, N, ...] / [N, ...]."""
    outputs, x = [], inputs
    for layer in stack:
        x = layer(x)
        if isinstance(layer, SpikingBlock):
            outputs.append(x)
    return outputs


def compare_spikes(network, result, torch_outputs) -> int:
    """Assert zero mismatches in every spiking layer; return the number of spikes compared."""
    spiking = [i for i, layer in enumerate(network.layers) if layer.spiking]
    assert len(spiking) == len(torch_outputs)
    total = 0
    for index, ours in zip(spiking, torch_outputs, strict=True):
        if ours.dim() == result.spikes[index].ndim - 1:  # readout layer: voltage, not spikes
            continue
        expected = ours.permute(1, *range(2, ours.dim()), 0).numpy().astype(bool)  # [N, *shape, T]
        expected = expected.reshape(result.spikes[index].shape)  # a dense layer may be viewed as CHW
        mismatches = int((result.spikes[index] != expected).sum())
        assert mismatches == 0, f"layer {index} ({network.layers[index].type}): {mismatches} mismatches"
        total += int(expected.sum())
    return total


@pytest.mark.parametrize("seed", [0, 1])
def test_esvae_encoder_and_decoder_equal_lava_float_spike_for_spike(seed, tmp_path):
    model = trained_like_model(seed)
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand((3, 1, 8, 8), generator=generator, dtype=torch.float64) * 2 - 1

    encoder_net = export_model(model, "encoder")
    write_netx(encoder_net, tmp_path / "encoder.net")
    encoder_net = read_netx(tmp_path / "encoder.net")
    with torch.no_grad():
        torch_enc = layer_outputs(model.encoder, model.direct_input(images))
    total_steps = CONFIG.steps + model.encoder.latency
    result = run_lava(encoder_net, images.numpy(), precision="float", steps=total_steps, progress=False)
    spikes_compared = compare_spikes(encoder_net, result, torch_enc)

    latent = (torch.rand((CONFIG.steps, 3, CONFIG.latent_dim), generator=generator) < 0.4).double()
    decoder_net = export_model(model, "decoder")
    write_netx(decoder_net, tmp_path / "decoder.net")
    decoder_net = read_netx(tmp_path / "decoder.net")
    with torch.no_grad():
        torch_dec = layer_outputs(model.decoder, model.decoder_input(latent))
        torch_images = model.decode(latent)
    lava_latent = pad_latency(decoder_net, latent.permute(1, 2, 0).numpy())
    result = run_lava(decoder_net, lava_latent, precision="float", progress=False)
    spikes_compared += compare_spikes(decoder_net, result, torch_dec)
    assert spikes_compared > 100, "the test model should spike"

    lava_images = np.tanh(result.readout_voltage / decoder_net.weight_scale)
    np.testing.assert_allclose(lava_images, torch_images.numpy(), atol=1e-9)


def test_exporting_never_changes_the_model():
    model = trained_like_model(3).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_model(model, "encoder")
    export_model(model, "decoder")
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
