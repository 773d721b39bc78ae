"""The SAE's bounded LIF on Lava: export -> netx -> Lava equals PyTorch, and the emulator equals Lava.

A tiny SAE (Hübotter et al. 2021: tau 0.99, threshold 1, lower bound -1) is exported; its spiking layers carry
``vMinMant`` and run as neurovae's ``LIFResetBounded``. With Lava ``floating_pt``, every layer's spikes and
voltages at every step equal the PyTorch model's (the voltage reaching the bound in places, so the bound is
exercised), and the decoder's readout voltage is ``U(t)``, whose maximum is the reconstruction. The emulator
equals Lava in floating point and bit for bit in fixed point (``export --precision fixed``).
"""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest
import torch

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")

from test_emulator_lava import assert_equal_runs  # noqa: E402

from neurovae.export import export_model  # noqa: E402
from neurovae.models.sae import SAE, SAEConfig  # noqa: E402
from neurovae.netx import read_netx, write_netx  # noqa: E402
from neurovae.simulate import run_lava  # noqa: E402

CONFIG = SAEConfig(image_size=7, channels=(2, 3), kernel_size=3, latent_dim=6, steps=10, input_scale=1.0)
SCALE = 64.0


def tiny_sae(seed: int) -> SAE:
    """A tiny SAE in float64 whose layers all fire within the window."""
    torch.manual_seed(seed)
    model = SAE(CONFIG).double()
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(2.0)
    return model.eval()


def to_lava_time(x: torch.Tensor) -> np.ndarray:
    """``[T, N, ...]`` -> ``[N, ..., T]``."""
    return x.permute(*range(1, x.dim()), 0).numpy()


def exported(model: SAE, part: str, tmp_path, precision: str = "float"):
    path = tmp_path / f"{part}-{precision}.net"
    write_netx(export_model(model, part, precision=precision), path)
    return read_netx(path)


@pytest.mark.parametrize("seed", [0, 1])
def test_sae_equals_lava_float_every_layer_and_step(seed, tmp_path):
    model = tiny_sae(seed)
    images = torch.rand((2, 1, 7, 7), generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1
    torch.manual_seed(seed)
    inputs = model.encode_input(images)
    with torch.no_grad():
        torch_enc = model.encoder.trace(inputs)
        latent = torch_enc[-1][0]
        torch_dec = model.decoder.trace(latent)
        torch.manual_seed(seed)
        reconstruction = model(images).reconstruction
    bound_hits = spikes_compared = 0
    for part, stack_input, records in (("encoder", inputs, torch_enc), ("decoder", latent, torch_dec)):
        network = exported(model, part, tmp_path)
        spiking = network.spiking_layers
        assert all(network.layers[i].neuron.vMinMant == -SCALE for i in spiking if network.layers[i].neuron.vThMant
                   == SCALE), "every LIF layer carries the bound -omega in device units"
        result = run_lava(network, to_lava_time(stack_input), precision="float", record_voltage=True, progress=False)
        for index, (spikes, voltages) in zip(spiking, records, strict=True):
            where = f"{part} layer {index} ({network.layers[index].type})"
            expected = to_lava_time(spikes).astype(bool).reshape(result.spikes[index].shape)
            assert int((result.spikes[index] != expected).sum()) == 0, where
            spikes_compared += int(expected.sum())
            lava_v = result.voltages[index] / SCALE
            np.testing.assert_allclose(lava_v, to_lava_time(voltages).reshape(lava_v.shape), atol=1e-9, err_msg=where)
            bound_hits += int(np.isclose(lava_v, -1.0).sum())
    assert bound_hits > 0 and spikes_compared > 100, "the test should spike and drive membranes to the bound"
    trace = result.voltages[network.spiking_layers[-1]] / SCALE  # U(t) of the readout, [N, C, H, W, T]
    lava_images = 2 * trace.max(-1) / (CONFIG.input_scale * CONFIG.steps) - 1
    np.testing.assert_allclose(lava_images, reconstruction.numpy(), atol=1e-9)


@pytest.mark.parametrize("precision", ["float", "fixed"])
def test_emulator_equals_lava_on_the_bounded_sae(precision, tmp_path):
    model = tiny_sae(0)
    torch.manual_seed(3)
    inputs = model.encode_input(torch.rand((2, 1, 7, 7), dtype=torch.float64) * 2 - 1)
    with torch.no_grad():
        latent = model.encoder(inputs)
    spikes = 0
    for part, stack_input in (("encoder", inputs), ("decoder", latent)):
        network = exported(model, part, tmp_path, precision)
        assert any(layer.neuron.vMinMant is not None for layer in network.layers if layer.spiking)
        spikes += assert_equal_runs(network, to_lava_time(stack_input), precision)
    assert spikes > 50, "the test network should spike"


def test_bound_field_is_backward_compatible(tmp_path):
    """lava-dl's own netx loads a file with ``vMinMant`` (ignoring it); a file without it reads as unbounded."""
    from lava.lib.dl.netx.hdf5 import Network

    network = exported(tiny_sae(0), "encoder", tmp_path)  # conv, conv, flatten, dense: stock layer types
    stock = Network(net_config=str(tmp_path / "encoder-float.net"))
    assert len(stock.layers) == len(network.spiking_layers)
    layers = tuple(layer if not layer.spiking else dataclasses.replace(
        layer, neuron=dataclasses.replace(layer.neuron, vMinMant=None)) for layer in network.layers)
    write_netx(dataclasses.replace(network, layers=layers), tmp_path / "plain.net")
    with h5py.File(tmp_path / "plain.net") as handle:
        assert "vMinMant" not in handle["layer/1/neuron"]
    assert all(layer.neuron.vMinMant is None for layer in read_netx(tmp_path / "plain.net").layers if layer.spiking)
