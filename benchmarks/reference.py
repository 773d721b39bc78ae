"""The reference implementations, loaded from a checkout the user passes (never vendored), for the benchmarks.

``build_reference(model, DIR, config, device, patched)`` returns a :class:`Trainer` whose ``step`` is the
reference's ``main_*.py`` training step and whose ``reconstruct`` is its ``test()`` forward, both on the
same ``[N, C, H, W]`` batches neurovae trains on. Its files are not edited; imports that training never
uses (``pycuda``) are stubbed in ``sys.modules``.

``patched=True`` first rewrites two of its layer functions *in memory*, the same math, so that the speed
comparison is against the reference at its best on a CPU rather than against two slow idioms:

* ``LIFSpike.forward`` collects the steps in a list and stacks them, instead of writing every step into a
  preallocated tensor (``out[..., step] = ...``, which autograd records as a copy of the whole tensor);
* ``tdConv`` / ``tdConvTranspose``, a ``(3, 3, 1)`` ``conv3d``, run as ``conv2d`` with T folded into the batch,
  with the same weights (their last kernel dimension is 1).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

PAPER_CONFIG = "configs/{model}_fmnist.yaml"  # the paper's FMNIST settings (32x32, T=16, latent 128)


@dataclass
class Trainer:
    """One implementation: ``step(images)`` trains on one batch and returns the loss; ``reconstruct(images)``
    is the eval-mode reconstruction (latent sampled, as the implementation's own test loop does); ``stateful``
    are the network and its optimizer, whose state dicts a checkpoint saves and restores."""

    name: str
    step: Callable[[torch.Tensor], float]
    reconstruct: Callable[[torch.Tensor], torch.Tensor]
    stateful: tuple[torch.nn.Module, torch.optim.Optimizer]

    def state_dict(self) -> list[dict]:
        """The network's and the optimizer's state."""
        return [part.state_dict() for part in self.stateful]

    def load_state_dict(self, state: list[dict]) -> None:
        """Continue from :meth:`state_dict`."""
        for part, saved in zip(self.stateful, state, strict=True):
            part.load_state_dict(saved)


@dataclass(frozen=True)
class Reference:
    """A reference implementation: where its model lives in a checkout, and how to train it."""

    url: str
    model_file: str
    layers_module: str
    build: Callable[..., Trainer]


def _stub_missing(names: list[str]) -> None:
    """Empty modules for imports the reference needs but never uses in training (e.g. pycuda)."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)


def build_reference(model: str, directory: str, config, device: torch.device, patched: bool = False,
                    compile_model: bool = False) -> Trainer:
    """The reference implementation of ``model`` from the checkout ``directory``, set up like ``config``
    (``patched``: see the module docstring; ``compile_model``: its forward under ``torch.compile``)."""
    reference = REFERENCES.get(model)
    if reference is None:
        raise SystemExit(f"--reference: no reference implementation is known for {model}; "
                         f"choose --model {' or '.join(REFERENCES)}")
    root = Path(directory).expanduser().resolve()
    if not (root / reference.model_file).is_file() or not (root / "global_v.py").is_file():
        raise SystemExit(f"--reference {directory}: no {reference.model_file} and global_v.py there; "
                         f"pass a checkout of {reference.url}")
    model_config, train = config.model, config.train
    if (tuple(model_config.channels) != (32, 64, 128, 256) or model_config.image_size != 32
            or model_config.in_channels != 1):
        raise SystemExit("the reference hard-codes channels 32-64-128-256 on 1x32x32 images; "
                         f"use a config with those (e.g. {PAPER_CONFIG.format(model=model)}) for --reference")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    _stub_missing(["pycuda", "pycuda.driver"])
    glv = importlib.import_module("global_v")
    glv.init({"in_channels": 1, "latent_dim": model_config.latent_dim, "n_steps": model_config.steps,
              "k": getattr(model_config, "candidates", 20), "batch_size": train.batch_size, "lr": train.lr}, [device])
    name, net, optimizer = reference.build(config, device)
    if patched:
        patch_network(net, importlib.import_module(reference.layers_module))
        name += ", patched"
    return reference_trainer(name + (", compiled" if compile_model else ""), net, optimizer, model_config.steps,
                             torch.compile(net) if compile_model else net)


def patch_network(net: torch.nn.Module, layers: types.ModuleType) -> None:
    """Rewrite the LIF loops and (3, 3, 1) convolutions of this one network in memory, same math (module
    docstring); other instances, e.g. an unpatched reference in the same process, keep the original code."""

    def lif_forward(self, x):
        u = torch.zeros(x.shape[:-1], device=x.device)
        spikes = []
        for step in range(x.shape[-1]):
            u, out = self.state_update(u, spikes[-1] if spikes else torch.zeros_like(u), x[..., step])
            spikes.append(out)
        return torch.stack(spikes, dim=-1)

    def as_2d(x):  # (N, C, H, W, T) -> (N*T, C, H, W)
        n, c, h, w, t = x.shape
        return x.permute(0, 4, 1, 2, 3).reshape(n * t, c, h, w), n, t

    def back_to_5d(y, n, t):
        return y.reshape(n, t, *y.shape[1:]).permute(0, 2, 3, 4, 1)

    def conv_forward(self, x):
        flat, n, t = as_2d(x)
        y = F.conv2d(flat, self.weight[..., 0], self.bias, self.stride[:2], self.padding[:2], self.dilation[:2],
                     self.groups)
        return after(self, back_to_5d(y, n, t))

    def conv_transpose_forward(self, x):
        flat, n, t = as_2d(x)
        y = F.conv_transpose2d(flat, self.weight[..., 0], self.bias, self.stride[:2], self.padding[:2],
                               self.output_padding[:2], self.groups, self.dilation[:2])
        return after(self, back_to_5d(y, n, t))

    def after(self, x):
        if self.bn is not None:
            x = self.bn(x)
        if self.spike is not None:
            x = self.spike(x)
        return x

    replacements = ((layers.LIFSpike, lif_forward), (layers.tdConv, conv_forward),
                    (layers.tdConvTranspose, conv_transpose_forward))
    for module in net.modules():
        for cls, forward in replacements:
            if type(module) is cls:
                module.forward = types.MethodType(forward, module)


def build_reference_esvae(config, device: torch.device) -> tuple[str, torch.nn.Module, torch.optim.Optimizer]:
    """The reference ESVAE (``svae_models/esvae.py``) with ``main_esvae.py``'s training step and optimizer."""
    model_config, train = config.model, config.train
    esvae = importlib.import_module("svae_models.esvae")
    net = esvae.ESVAE(device=device, distance_lambda=model_config.mmd_lambda, mmd_type="rbf").to(device)
    net.train()
    params = list(net.named_parameters())
    multiplier = train.lr_multipliers.get("bottleneck", 1.0)  # their "sample_layer" is our bottleneck
    optimizer = torch.optim.AdamW([
        {"params": [p for n, p in params if "sample_layer" in n], "weight_decay": train.weight_decay,
         "lr": train.lr * multiplier},
        {"params": [p for n, p in params if "sample_layer" not in n], "weight_decay": train.weight_decay,
         "lr": train.lr},
    ], lr=train.lr, betas=(0.9, 0.999), weight_decay=train.weight_decay)
    return "reference (QgZhan/ESVAE)", net, optimizer


def build_reference_fsvae(config, device: torch.device) -> tuple[str, torch.nn.Module, torch.optim.Optimizer]:
    """The reference FSVAE (``fsvae_models/fsvae.py``) with ``main_fsvae.py``'s training step and optimizer."""
    train = config.train
    fsvae = importlib.import_module("fsvae_models.fsvae")
    net = fsvae.FSVAE().to(device)
    net.train()
    net.update_p(0, train.epochs)  # main_fsvae.py, first epoch
    optimizer = torch.optim.AdamW(net.parameters(), lr=train.lr, betas=(0.9, 0.999), weight_decay=train.weight_decay)
    return "reference (kamata1729/FSVAE)", net, optimizer


def reference_trainer(name: str, net: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int,
                      forward: Callable[..., tuple]) -> Trainer:
    """The training step of both references' ``main_*.py`` (the image repeated over ``T``, scheduled sampling on,
    their MMD loss) and the forward of their ``test()`` (eval mode)."""

    def spike_input(images: torch.Tensor) -> torch.Tensor:
        return images.unsqueeze(-1).repeat(1, 1, 1, 1, steps)  # (N, C, H, W, T)

    def step(images: torch.Tensor) -> float:
        net.train()
        optimizer.zero_grad()
        recon, posterior, prior, _ = forward(spike_input(images), scheduled=True)
        losses = net.loss_function_mmd(images, recon, posterior, prior)
        losses["loss"].backward()
        optimizer.step()
        return losses["loss"].item()

    @torch.no_grad()
    def reconstruct(images: torch.Tensor) -> torch.Tensor:
        net.eval()
        return net(spike_input(images), scheduled=True)[0]

    return Trainer(name, step, reconstruct, (net, optimizer))


REFERENCES = {
    "esvae": Reference("https://github.com/QgZhan/ESVAE", "svae_models/esvae.py", "svae_models.snn_layers",
                       build_reference_esvae),
    "fsvae": Reference("https://github.com/kamata1729/FullySpikingVAE", "fsvae_models/fsvae.py",
                       "fsvae_models.snn_layers", build_reference_fsvae),
}
