"""Operation counts are a property of the network and its input, not of the simulator: the snnTorch model, Lava
and the emulator give equal counts for every layer (float), and Lava and the emulator also in fixed point."""

import numpy as np
import pytest
from test_esvae_lava import trained_like_model

from neurovae.energy import count_chain
from neurovae.export import export_model

pytest.importorskip("lava.proc.lif.process", reason="Lava (lava-nc) is not installed (it needs Python 3.10)")


def test_counts_equal_on_torch_lava_and_the_emulator_float():
    model = trained_like_model(0)
    networks = [export_model(model, part) for part in ("encoder", "decoder")]
    stacks = [model.deployable_parts()[part][0] for part in ("encoder", "decoder")]
    images = np.random.default_rng(0).uniform(-1, 1, (3, 1, 8, 8))
    counts = {backend: count_chain(networks, images, backend=backend, stacks=stacks, seed=1, progress=False)
              for backend in ("torch", "lava", "emulator")}
    assert counts["torch"] == counts["lava"] == counts["emulator"]
    decoder = counts["lava"][1]
    assert all(layer.synaptic_ops > 0 for layer in decoder) and sum(layer.output_spikes for layer in decoder) > 100


def test_counts_equal_on_lava_and_the_emulator_fixed():
    model = trained_like_model(1)
    decoder = export_model(model, "decoder", precision="fixed")
    latent = (np.random.default_rng(2).uniform(size=(2, 10, 10)) < 0.4).astype(float)
    lava, emulator = (count_chain([decoder], latent, backend=backend, precision="fixed", progress=False)
                      for backend in ("lava", "emulator"))
    assert lava == emulator
    assert sum(layer.active_updates for layer in lava[0]) > 0
