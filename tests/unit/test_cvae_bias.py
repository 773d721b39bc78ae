"""The CVAE's ``bias`` option: the paper's CVAE stays bias-free and unchanged, ``bias: true`` puts a bias on every
conv / linear layer and trains, ``configs/cvae_biased_fmnist.yaml`` is the paper's setting with biases and beta 1,
and ``neurovae sleep`` refuses a biased run in one line while ``neurovae eval`` reads it."""

import json

import torch
import yaml
from torch import nn

from neurovae import load_config, load_run
from neurovae.cli.main import main
from neurovae.models.cvae import CVAE, CVAEConfig
from neurovae.models.vsc import VSC, VSCConfig

WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
PAPER_WEIGHTS = {  # Talafha 2020 Table 1, Fashion-MNIST: 28x28 -> 32 -> 32 channels (7x7), FC 256, latent 200
    "encoder.0": 32 * 1 * 16, "encoder.2": 32 * 32 * 16, "encoder.5": 32 * 7 * 7 * 256, "mean": 256 * 200,
    "std.0": 256 * 200, "decoder.0": 200 * 256, "decoder.2": 256 * 32 * 7 * 7, "decoder.5": 32 * 32 * 16,
    "decoder.7": 32 * 1 * 16,
}
PAPER_BIASES = {"encoder.0": 32, "encoder.2": 32, "encoder.5": 256, "mean": 200, "std.0": 200, "decoder.0": 256,
                "decoder.2": 32 * 7 * 7, "decoder.5": 32, "decoder.7": 1}


def layers(model):
    return {name: module for name, module in model.named_modules() if isinstance(module, WEIGHTED)}


def test_the_default_cvae_is_the_papers_bias_free_one_unchanged():
    model = CVAE(CVAEConfig())
    assert CVAEConfig().bias is False and CVAEConfig().beta == 2.0
    assert {name: layer.weight.numel() for name, layer in layers(model).items()} == PAPER_WEIGHTS
    assert all(layer.bias is None for layer in layers(model).values())
    assert sum(p.numel() for p in model.parameters()) == sum(PAPER_WEIGHTS.values()) == 990_208
    assert all(layer.bias is None for layer in layers(VSC(VSCConfig())).values())


def test_bias_true_puts_a_bias_on_every_layer_and_nothing_else_changes():
    plain, biased = CVAE(CVAEConfig()), CVAE(CVAEConfig(bias=True))
    assert {name: layer.bias.numel() for name, layer in layers(biased).items()} == PAPER_BIASES
    assert {n: p.shape for n, p in plain.named_parameters()} == {
        n: p.shape for n, p in biased.named_parameters() if not n.endswith(".bias")}
    assert sum(p.numel() for p in biased.parameters()) == 990_208 + sum(PAPER_BIASES.values())
    vsc = layers(VSC(VSCConfig(bias=True)))
    assert all(layer.bias is not None for layer in vsc.values()) and "spike.0" in vsc


def test_one_training_step_moves_every_bias():
    torch.manual_seed(0)
    model = CVAE(CVAEConfig(image_size=8, channels=(4, 8), hidden_dim=16, latent_dim=4, beta=1.0, bias=True))
    before = {name: layer.bias.detach().clone() for name, layer in layers(model).items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.rand(8, 1, 8, 8) * 2 - 1
    loss = model.loss(images, model(images))["loss"]
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert [name for name, layer in layers(model).items() if torch.equal(layer.bias, before[name])] == []


def test_the_shipped_biased_config_is_the_papers_with_biases_and_beta_1():
    paper, biased = load_config("cvae_fmnist"), load_config("cvae_biased_fmnist")
    assert biased.model.bias is True and biased.model.beta == 1.0 and paper.model.bias is False
    assert vars(biased.model) | {"bias": False, "beta": 2.0} == vars(paper.model)
    assert biased.data == paper.data
    assert (biased.train.lr, biased.train.batch_size) == (paper.train.lr, paper.train.batch_size) == (1e-4, 64)
    model = CVAE(biased.model)
    images = torch.rand(2, 1, 28, 28) * 2 - 1
    output = model(images)
    losses = model.loss(images, output)
    torch.testing.assert_close(losses["loss"], losses["nll"] + losses["kl"])  # beta 1: the plain negative ELBO


def test_a_biased_run_trains_evaluates_and_is_refused_by_sleep_in_one_line(capsys, tmp_path, make_idx_folder,
                                                                              tiny_config_dict):
    data = make_idx_folder(n_train=16, n_test=8)
    config = tiny_config_dict(dataset="fashion_mnist", model="cvae", batch_size=16)  # one step
    config["model"].update(hidden_dim=16, latent_dim=4, beta=1.0, bias=True)
    config["train"]["lr_multipliers"] = {}
    path = tmp_path / "biased.yaml"
    path.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["train", str(path), "--data", str(data), "--out", str(run), "--no-progress"]) == 0
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert len(history) == 1 and torch.isfinite(torch.tensor(history[0]["loss"]))

    model, saved = load_run(run)
    assert saved.model.bias is True and all(layer.bias is not None for layer in layers(model).values())

    capsys.readouterr()
    assert main(["eval", str(run), "--data", str(data), "-n", "8", "--probe-images", "16", "--no-progress"]) == 0
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert {"psnr", "ssim", "probe_accuracy", "paper_psnr"} <= metrics.keys()

    capsys.readouterr()
    assert main(["sleep", str(run), "--data", str(data), "--no-progress", "--out", str(tmp_path / "slept")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("neurovae: error: layer encoder.0 (Conv2d) has a bias;"), lines[0]
    assert "model.bias: false" in lines[0] and not (tmp_path / "slept").exists()
    assert main(["sleep", str(run), "--data", str(data), "--search", "2", "--no-progress",
                 "--out", str(tmp_path / "search")]) == 2
    assert "has a bias" in capsys.readouterr().err and not (tmp_path / "search").exists()
