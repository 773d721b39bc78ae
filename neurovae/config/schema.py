"""The run configuration's typed defaults. YAML files only override these fields."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from neurovae.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def _require(key: str, value: Any, valid: bool, rule: str) -> None:
    """One-line ConfigError naming ``key`` (``section.name``) unless ``valid``."""
    if not valid:
        raise ConfigError(f"config key {key!r} must be {rule}, got {value!r}")


def _at_least(section: str, values: dict[str, tuple[int | None, int]]) -> None:
    """Each ``name: (value, minimum)`` is a whole number >= its minimum (None: unset, allowed)."""
    for name, (value, low) in values.items():
        if value is not None:
            _require(f"{section}.{name}", value, value >= low, f">= {low}")


def _positive(key: str, value: float, zero: bool = False) -> None:
    """``value`` is a finite number > 0 (>= 0 with ``zero``)."""
    _require(key, value, math.isfinite(value) and (value >= 0 if zero else value > 0),
             f"a finite number {'>=' if zero else '>'} 0")


@dataclass
class DataConfig:
    """Which images to read and how (see :func:`neurovae.data.load_dataset`)."""

    dataset: str = "fashion_mnist"
    root: str | None = None  # folder with the standard files; None = the dataset's default place
    image_size: int = 32
    train_limit: int | None = None  # first N training images (small demo / test runs)
    test_limit: int | None = None

    def __post_init__(self) -> None:
        """Refuse sizes and limits that select no image."""
        _at_least("data", {"image_size": (self.image_size, 1), "train_limit": (self.train_limit, 1),
                           "test_limit": (self.test_limit, 1)})


@dataclass
class TrainConfig:
    """Optimization settings; ``lr_multipliers`` scales the learning rate of named sub-modules."""

    epochs: int = 300
    batch_size: int = 256
    lr: float = 6e-4
    weight_decay: float = 1e-3
    lr_multipliers: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:K
    compile: bool = False  # torch.compile the model (slow first step, faster after)
    num_workers: int = 0
    eval_samples: int = 10000  # test images used by `neurovae eval`
    validate_images: int = 0  # test images whose reconstruction MSE is logged after every epoch (0: none)
    checkpoint_every: int = 0  # also checkpoint every N batches inside an epoch (0: at epoch ends only)
    qat: bool = False  # forward in Loihi fixed point, straight-through (quantization-aware fine-tuning)

    def __post_init__(self) -> None:
        """Refuse a setting that would crash later or silently train nothing (``epochs: 0``)."""
        _at_least("train", {"epochs": (self.epochs, 1), "batch_size": (self.batch_size, 1),
                            "seed": (self.seed, 0), "num_workers": (self.num_workers, 0),
                            "eval_samples": (self.eval_samples, 1), "validate_images": (self.validate_images, 0),
                            "checkpoint_every": (self.checkpoint_every, 0)})
        _require("train.seed", self.seed, self.seed < 2**32, "< 2**32")  # numpy's seed range
        _positive("train.lr", self.lr)
        _positive("train.weight_decay", self.weight_decay, zero=True)
        for name, multiplier in self.lr_multipliers.items():
            _positive(f"train.lr_multipliers.{name}", multiplier)
        gpu = self.device.partition(":")
        _require("train.device", self.device, self.device in DEVICES or (gpu[0] == "cuda" and gpu[2].isdigit()),
                 f"one of {', '.join(DEVICES)} or cuda:K")


@dataclass
class RunConfig:
    """Everything a run needs; ``model`` holds the registered model's own config dataclass."""

    model_name: str
    model: Any
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
