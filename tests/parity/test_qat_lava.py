"""Quantization-aware forward: with FixedPointForward hooks, the PyTorch model computes exactly what Lava
``fixed_pt`` computes on the exported fixed-point files (encoder spikes and decoded images)."""

import numpy as np
import pytest
import torch
from test_esvae_lava import CONFIG, trained_like_model

from neurovae.export import export_model
from neurovae.simulate.host import pad_latency
from neurovae.train.qat import FixedPointForward

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")
from neurovae.simulate import run_lava  # noqa: E402


def test_hooked_model_equals_lava_fixed_point_on_the_exported_files():
    model = trained_like_model(2)
    generator = torch.Generator().manual_seed(2)
    images = torch.rand((1, 1, 8, 8), generator=generator, dtype=torch.float64) * 2 - 1
    latent = (torch.rand((CONFIG.steps, 1, CONFIG.latent_dim), generator=generator) < 0.4).double()
    encoder, decoder = (export_model(model, part, precision="fixed") for part in ("encoder", "decoder"))
    with FixedPointForward(model), torch.no_grad():
        spikes = model.encoder(model.direct_input(images))  # [T + latency, N, d]
        decoded = model.decode(latent)
    lava_encoder = run_lava(encoder, images.numpy(), precision="fixed", steps=spikes.shape[0], progress=False)
    lava_last = lava_encoder.spikes[encoder.spiking_layers[-1]]
    assert np.array_equal(lava_last, spikes.permute(1, 2, 0).numpy().astype(bool))
    lava_decoder = run_lava(decoder, pad_latency(decoder, latent.permute(1, 2, 0).numpy()), precision="fixed",
                            progress=False)
    np.testing.assert_allclose(np.tanh(lava_decoder.readout_voltage / decoder.weight_scale), decoded.numpy(),
                               rtol=0, atol=1e-12)
    with torch.no_grad():
        assert not torch.allclose(model.decode(latent), decoded)  # without the hooks: the float model again
