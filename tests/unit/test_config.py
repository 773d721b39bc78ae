"""Configs: every shipped YAML loads, every mistake is a one-line ConfigError naming the key, and a saved
resolved config loads back equal."""

import contextlib
import dataclasses
from pathlib import Path

import pytest
import yaml

from neurovae.config import DataConfig, RunConfig, TrainConfig, config_to_dict, load_config, save_config
from neurovae.config.loader import resolve_config
from neurovae.errors import ConfigError
from neurovae.models.esvae import ESVAEConfig
from neurovae.registry import MODELS

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@contextlib.contextmanager
def config_error(*fragments):
    """Expect a one-line ConfigError whose message contains every fragment."""
    with pytest.raises(ConfigError) as info:
        yield
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


def write_yaml(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


BASE = """\
model:
  name: esvae
  channels: [4, 8]
  image_size: 8
  latent_dim: 8
  steps: 6
data:
  dataset: mnist
  image_size: 8
train:
  epochs: 2
"""


def test_configs_folder_is_not_empty():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    config = load_config(path)
    assert config.model_name in MODELS.names()
    assert config.data.image_size == config.model.image_size
    raw = yaml.safe_load(path.read_text())
    for section, values in raw.items():  # every key written in the file reaches the resolved config
        target = config.model if section == "model" else getattr(config, section)
        for key, value in values.items():
            if key != "name":
                got = getattr(target, key)
                assert (list(got) if isinstance(got, tuple) else got) == value, (section, key)


def test_paper_settings_of_the_mnist_config():
    config = load_config(next(p for p in CONFIGS if p.name == "esvae_mnist.yaml"))
    model = config.model
    assert (model.channels, model.latent_dim, model.steps, model.threshold, model.beta) == (
        (32, 64, 128, 256), 128, 16, 0.2, 0.25)
    train = config.train
    assert (config.data.dataset, train.lr, train.lr_multipliers) == ("mnist", 0.0006, {"bottleneck": 10.0})


def test_defaults_fill_what_the_yaml_leaves_out(tmp_path):
    config = load_config(write_yaml(tmp_path, "model:\n  name: esvae\n"))
    assert config.model == ESVAEConfig()
    assert config.data == DataConfig() and config.train == TrainConfig()


def test_int_is_accepted_for_a_float_field(tmp_path):
    config = load_config(write_yaml(tmp_path, BASE + "  lr: 1\n"))
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)


def test_overrides_win_over_the_file(tmp_path):
    config = load_config(write_yaml(tmp_path, BASE), {"train.epochs": 7, "data.root": "/x"})
    assert (config.train.epochs, config.data.root) == (7, "/x")


# ------------------------------------------------------------------------------------------------- errors


def test_misspelt_model_key_names_it_and_lists_valid_keys(tmp_path):
    path = write_yaml(tmp_path, BASE.replace("latent_dim", "latnet_dim"))
    with config_error("latnet_dim", "latent_dim", "channels", "steps", str(path)):
        load_config(path)


@pytest.mark.parametrize("section, key, valid", [("data", "imagesize", "image_size"), ("train", "epoch", "epochs")])
def test_misspelt_key_in_other_sections(tmp_path, section, key, valid):
    path = write_yaml(tmp_path, BASE.replace(f"{section}:\n", f"{section}:\n  {key}: 3\n"))
    with config_error(f"{section}.{key}", valid):
        load_config(path)


@pytest.mark.parametrize(
    "line, fragments",
    [
        ('  epochs: "ten"', ["train.epochs", "int", "ten"]),
        ("  epochs: 2.5", ["train.epochs", "int"]),
        ("  epochs: true", ["train.epochs", "int"]),
        ("  lr: fast", ["train.lr", "float"]),
        ("  compile: 1", ["train.compile", "bool"]),
        ("  lr_multipliers: [bottleneck]", ["train.lr_multipliers", "dict"]),
        ("  lr_multipliers: {bottleneck: ten}", ["train.lr_multipliers", "ten"]),
    ],
)
def test_wrong_type(tmp_path, line, fragments):
    with config_error(*fragments):
        load_config(write_yaml(tmp_path, BASE.replace("  epochs: 2\n", line + "\n")))


@pytest.mark.parametrize(
    "line, key",
    [
        ("  batch_size: 0", "train.batch_size"),
        ("  batch_size: -1", "train.batch_size"),
        ("  epochs: 0", "train.epochs"),
        ("  epochs: -5", "train.epochs"),
        ("  lr: -1", "train.lr"),
        ("  lr: 0", "train.lr"),
        ("  lr: .nan", "train.lr"),
        ("  lr: .inf", "train.lr"),
        ("  weight_decay: -0.001", "train.weight_decay"),
        ("  lr_multipliers: {bottleneck: 0}", "train.lr_multipliers.bottleneck"),
        ("  seed: -1", "train.seed"),
        ("  seed: 4294967296", "train.seed"),
        ("  num_workers: -1", "train.num_workers"),
        ("  eval_samples: 0", "train.eval_samples"),
        ("  validate_images: -1", "train.validate_images"),
        ("  checkpoint_every: -2", "train.checkpoint_every"),
        ("  device: tpu", "train.device"),
    ],
)
def test_out_of_range_training_settings(tmp_path, line, key):
    with config_error(f"config key '{key}' must be"):
        load_config(write_yaml(tmp_path, BASE.replace("  epochs: 2\n", line + "\n")))


@pytest.mark.parametrize("line, key", [
    ("  train_limit: 0", "data.train_limit"),
    ("  test_limit: -3", "data.test_limit"),
    ("  image_size: 0", "data.image_size"),
])
def test_out_of_range_data_settings(tmp_path, line, key):
    text = BASE.replace("  image_size: 8\ntrain", f"{line}\ntrain")
    assert text.count(line) == 1
    with config_error(key):
        load_config(write_yaml(tmp_path, text))


def test_the_boundary_values_are_accepted(tmp_path):
    text = BASE + "  batch_size: 1\n  weight_decay: 0\n  seed: 0\n  eval_samples: 1\n  checkpoint_every: 0\n"
    config = load_config(write_yaml(tmp_path, text.replace("epochs: 2", "epochs: 1")), {"data.train_limit": 1})
    assert (config.train.epochs, config.train.batch_size, config.data.train_limit) == (1, 1, 1)


def test_overrides_and_direct_construction_are_checked_the_same_way():
    with config_error("train.epochs", "-5"):
        resolve_config(yaml.safe_load(BASE), {"train.epochs": -5})
    with config_error("train.batch_size"):
        TrainConfig(batch_size=0)
    with config_error("data.test_limit"):
        DataConfig(test_limit=0)


def test_floats_written_without_a_dot(tmp_path):
    """PyYAML reads ``3e-3`` as a string (YAML 1.1 wants a dot); a float field takes it as the number it means."""
    text = BASE + "  lr: 3e-3\n  weight_decay: 1E-4\n  lr_multipliers: {bottleneck: 1e1}\n"
    config = load_config(write_yaml(tmp_path, text))
    assert (config.train.lr, config.train.weight_decay) == (0.003, 0.0001)
    assert config.train.lr_multipliers == {"bottleneck": 10.0}
    model = load_config(write_yaml(tmp_path, BASE.replace("  steps: 6", "  steps: 6\n  beta: 9e-1"), "m.yaml"))
    assert model.model.beta == 0.9


@pytest.mark.parametrize("value", ["3e-x", "nan", "1e999", "'3e-3 fast'"])
def test_strings_that_are_no_finite_number_stay_refused(tmp_path, value):
    with config_error("train.lr", "float"):
        load_config(write_yaml(tmp_path, BASE + f"  lr: {value}\n"))


@pytest.mark.parametrize(
    "old, new, fragments",
    [
        ("  channels: [4, 8]", "  channels: 8", ["model.channels"]),
        ("  channels: [4, 8]", "  channels: [4, x]", ["model.channels[1]"]),
        ("  image_size: 8\n  latent_dim", "  image_size: 10\n  latent_dim", ["model", "image_size 10", "divisible"]),
        ("  steps: 6", "  steps: 0", ["model", "steps"]),
        ("  steps: 6", "  beta: 2.0", ["model", "beta"]),
    ],
)
def test_bad_model_values(tmp_path, old, new, fragments):
    assert old in BASE
    with config_error(*fragments):
        load_config(write_yaml(tmp_path, BASE.replace(old, new)))


def test_unknown_section(tmp_path):
    with config_error("unknown config section", "optimizer", "model, data, train"):
        load_config(write_yaml(tmp_path, BASE + "optimizer:\n  lr: 1\n"))


def test_section_must_be_a_mapping(tmp_path):
    with config_error("train", "mapping"):
        load_config(write_yaml(tmp_path, "model:\n  name: esvae\ntrain: 3\n"))


def test_unknown_model_lists_registered_models(tmp_path):
    with config_error("unknown model", "fsvea", "esvae"):
        load_config(write_yaml(tmp_path, BASE.replace("name: esvae", "name: fsvea")))


def test_missing_model_name(tmp_path):
    with config_error("model.name", "esvae"):
        load_config(write_yaml(tmp_path, BASE.replace("  name: esvae\n", "")))
    with config_error("model.name"):
        load_config(write_yaml(tmp_path, "train:\n  epochs: 1\n", "other.yaml"))


@pytest.mark.parametrize("text", ["model: [unclosed\n", "model:\n  name: esvae\n   bad: indent\n", "a: b: c\n"])
def test_invalid_yaml(tmp_path, text):
    path = write_yaml(tmp_path, text)
    with config_error("not valid YAML", str(path), "line"):
        load_config(path)


@pytest.mark.parametrize("text", ["- model\n- data\n", "just a string\n", "42\n"])
def test_yaml_that_is_not_a_mapping(tmp_path, text):
    with config_error("mapping"):
        load_config(write_yaml(tmp_path, text))


def test_missing_file(tmp_path):
    with config_error("not found", "nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    with config_error("not found"):
        load_config(tmp_path)  # a folder is not a config file


def test_resolve_config_checks_overrides_too():
    raw = yaml.safe_load(BASE)
    with config_error("train.epochs"):
        resolve_config(raw, {"train.epochs": "ten"})
    with config_error("unknown config key", "model.latnet_dim"):
        resolve_config(raw, {"model.latnet_dim": 8})
    assert raw["train"]["epochs"] == 2  # the caller's mapping is not changed


# ---------------------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_save_then_load_round_trip(tmp_path, path):
    config = load_config(path)
    save_config(config, tmp_path / "saved.yaml")
    again = load_config(tmp_path / "saved.yaml")
    assert again == config
    assert config_to_dict(again) == config_to_dict(config)
    assert [p.name for p in tmp_path.iterdir()] == ["saved.yaml"]  # no temporary file left behind


def test_saved_config_holds_every_field(tmp_path):
    config = RunConfig("esvae", ESVAEConfig(channels=(4, 8), image_size=8, latent_dim=8),
                       DataConfig(dataset="mnist", image_size=8, train_limit=5), TrainConfig(lr_multipliers={"x": 2.0}))
    save_config(config, tmp_path / "c.yaml")
    saved = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert set(saved["model"]) == {"name"} | {f.name for f in dataclasses.fields(ESVAEConfig)}
    assert set(saved["train"]) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert saved["model"]["channels"] == [4, 8]  # plain YAML, no python tags
    assert load_config(tmp_path / "c.yaml") == config
