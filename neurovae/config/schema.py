"""The run configuration's typed defaults. YAML files only override these fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DataConfig:
    """Which images to read and how (see :func:`neurovae.data.load_dataset`)."""

    dataset: str = "fashion_mnist"
    root: str | None = None  # folder with the standard files; None = the dataset's default place
    image_size: int = 32
    train_limit: int | None = None  # first N training images (small demo / test runs)
    test_limit: int | None = None


@dataclass
class TrainConfig:
    """Optimization settings; ``lr_multipliers`` scales the learning rate of named sub-modules."""

    epochs: int = 300
    batch_size: int = 256
    lr: float = 6e-4
    weight_decay: float = 1e-3
    lr_multipliers: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    compile: bool = False  # torch.compile the model (slow first step, faster after)
    num_workers: int = 0
    eval_samples: int = 10000  # test images used by `neurovae eval`
    validate_images: int = 0  # test images whose reconstruction MSE is logged after every epoch (0: none)
    checkpoint_every: int = 0  # also checkpoint every N batches inside an epoch (0: at epoch ends only)
    qat: bool = False  # forward in Loihi fixed point, straight-through (quantization-aware fine-tuning)


@dataclass
class RunConfig:
    """Everything a run needs; ``model`` holds the registered model's own config dataclass."""

    model_name: str
    model: Any
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
