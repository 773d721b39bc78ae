"""Quantization-aware training (no Lava needed): the hooked forward is the emulator's fixed-point run of the
exported files, gradients still reach the weights, `neurovae train --precision fixed` / `eval --precision fixed`
use it, and a model without a spiking part is refused in one line."""

import json

import numpy as np
import pytest
import torch
import yaml

from neurovae.cli.main import main
from neurovae.export import ExportError, export_model
from neurovae.registry import MODELS
from neurovae.simulate.emulator import run_emulator
from neurovae.simulate.host import pad_latency
from neurovae.train.qat import FixedPointForward


def test_hooked_decoder_is_the_exported_fixed_point_network_and_gradients_flow(tiny_model_config):
    torch.manual_seed(0)
    model = MODELS.create("esvae", tiny_model_config("esvae")).double().eval()
    config = model.config
    latent = (torch.rand((config.steps, 3, config.latent_dim)) < 0.5).double()
    decoder = export_model(model, "decoder", precision="fixed")
    emulated = run_emulator(decoder, pad_latency(decoder, latent.permute(1, 2, 0).numpy()), precision="fixed",
                            progress=False)
    with FixedPointForward(model):
        decoded = model.decode(latent)
        (decoded - 0.5).square().mean().backward()
    np.testing.assert_allclose(decoded.detach().numpy(), np.tanh(emulated.readout_voltage / decoder.weight_scale),
                               rtol=0, atol=1e-12)
    quantized = {name: p.grad.clone() for name, p in model.decoder.named_parameters()}
    model.zero_grad()
    (model.decode(latent) - 0.5).square().mean().backward()  # hooks removed: the float model's gradient
    reached = {name for name, grad in quantized.items() if grad.abs().sum() > 0}
    assert "0.synapse.weight" in reached
    assert reached == {name for name, p in model.decoder.named_parameters() if p.grad.abs().sum() > 0}


def test_train_qat_then_eval_fixed_point(tmp_path, capsys, tiny_config_dict, idx):
    data = idx.folder(tmp_path / "mnist", n_train=32, n_test=32, gz=True)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config_dict(dataset="mnist", batch_size=16)))
    run = tmp_path / "run"
    base = ["train", config, "--data", data, "--out", run, "--no-progress", "--device", "cpu"]
    assert main([str(a) for a in [*base, "--epochs", "1"]]) == 0
    before = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    assert main([str(a) for a in [*base, "--epochs", "2", "--resume", "--precision", "fixed"]]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["qat"] is True
    after = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert main(["eval", str(run), "--data", str(data), "-n", "32", "--probe-images", "0", "--precision", "fixed",
                 "--no-progress", "--device", "cpu"]) == 0
    assert '"precision": "fixed"' in capsys.readouterr().out
    assert json.loads((run / "eval-fixed" / "metrics.json").read_text())["test_images"] == 32


def test_a_model_without_spiking_parts_has_no_fixed_point_forward(tiny_model_config):
    model = MODELS.create("ann_ae", tiny_model_config("ann_ae"))
    with pytest.raises(ExportError, match="no spiking part"):
        FixedPointForward(model)
