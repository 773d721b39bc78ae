"""neurovae: spiking VAEs and any snnTorch network from PyTorch to Lava / Loihi.

The public API, one name per step (see the README's "Python API")::

    config = neurovae.load_config("esvae_fmnist_small")          # a shipped config by name, or a YAML file
    model = neurovae.build_model(config)                          # ... or a trained one:
    model, config = neurovae.load_run("runs/demo/run")
    neurovae.train_model(config, "runs/x", neurovae.open_dataset(config, "train"))
    network = neurovae.export_model(model, "decoder")             # neurovae's models -> a netx record
    network = neurovae.export_netx(snntorch_net, "net.net", input_shape=(1, 28, 28))   # any snnTorch chain
    result = neurovae.run_emulator(network, inputs)               # or neurovae.run_lava(...)
    reports = neurovae.energy_reports(["decoder"], [network], inputs)
    slept, summary = neurovae.sleep_model(model, images, neurovae.table3_config("fashion_mnist"))

Names are imported when first used (PEP 562), so ``import neurovae`` is quick and never imports Lava: only
:func:`run_lava` (and the Lava backends of the other functions) import it, when called. ``train`` and ``sleep``
are sub-packages, hence :func:`train_model` and :func:`sleep_model`.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC: dict[str, str] = {
    # configs, models and runs
    "load_config": "neurovae.config",
    "build_model": "neurovae.train.loop",
    "load_run": "neurovae.runs",
    "open_dataset": "neurovae.runs",
    "train_model": "neurovae.train.loop:train",
    "default_fad_path": "neurovae.evaluate.fad",
    # export: netx and NIR
    "export_model": "neurovae.export",
    "export_netx": "neurovae.export",
    "lava_timed_forward": "neurovae.export",
    "quantize_network": "neurovae.export",
    "read_netx": "neurovae.netx",
    "write_netx": "neurovae.netx",
    "netx_to_nir": "neurovae.export.to_nir",
    "write_nir": "neurovae.export.to_nir",
    "nir_to_netx": "neurovae.export.from_nir",
    "read_nir": "neurovae.export.from_nir",
    # backends, energy, sleep
    "run_lava": "neurovae.simulate",
    "run_emulator": "neurovae.simulate.emulator",
    "count_chain": "neurovae.energy",
    "energy_reports": "neurovae.energy",
    "sleep_model": "neurovae.sleep.run",
    "table3_config": "neurovae.sleep.run",
    "save_slept_run": "neurovae.sleep.run",
    # the command line as a function, and the errors it prints in one line
    "run_command": "neurovae.cli.main:main",
    "NeurovaeError": "neurovae.errors",
}
"""Public name -> the module that defines it (``module:name`` where it is defined under another name)."""

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562) and keep it."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'neurovae' has no attribute {name!r}")
    module, _, attribute = _PUBLIC[name].partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names beside the module's own."""
    return sorted({*globals(), *__all__})

