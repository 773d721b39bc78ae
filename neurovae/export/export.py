"""Model -> netx network: walk an exportable stack with the writer registry, then write atomically.

Exporting never changes the model: writers copy and fold parameters; the model's
own weights and modes are left exactly as they were (a test checks its state_dict before and after).
``precision='fixed'`` quantizes the float record afterwards (:mod:`neurovae.export.quantize`, a pure function
of records).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from torch import nn

from neurovae.errors import NeurovaeError
from neurovae.export.quantize import QuantizationError, quantize_network
from neurovae.export.writers import WRITERS, ExportState
from neurovae.netx import PRECISIONS, InputLayer, NetworkRecord, NetxError, write_netx
from neurovae.neurons import SpikingStack

READOUTS = {"spike_rate": "spikes", "spike_train": "spikes", "voltage_tanh": "voltage", "voltage_max": "voltage"}


class ExportError(NeurovaeError):
    """The model (or the requested part) cannot be written as a netx network."""


def export_stack(stack: SpikingStack, *, steps: int, input_encoding: str, readout: str,
                 weight_scale: float = 64.0, model_config: dict[str, Any] | None = None,
                 host: dict[str, np.ndarray] | None = None) -> NetworkRecord:
    """The netx record of ``stack`` (float precision, device units = training units x ``weight_scale``)."""
    if not isinstance(stack, SpikingStack):
        raise ExportError(f"a {type(stack).__name__} is not a neurovae SpikingStack; export an snnTorch network with "
                          "neurovae.export_netx(module, path, input_shape=...)")
    state = ExportState(shape=tuple(stack.input_shape), weight_scale=weight_scale,
                        layers=[InputLayer(shape=tuple(stack.input_shape))])
    for index, layer in enumerate(stack):
        writer = WRITERS.get(type(layer))
        if writer is None:
            supported = ", ".join(sorted(t.__name__ for t in WRITERS))
            raise ExportError(f"layer {index} ({type(layer).__name__}) cannot be exported to netx; "
                              f"supported layers: {supported} (an snnTorch network: neurovae.export_netx)")
        try:
            writer(layer, state)
        except (NetxError, ValueError) as error:
            raise ExportError(f"layer {index} ({type(layer).__name__}): {error}") from None
    try:
        return NetworkRecord(layers=tuple(state.layers), steps=steps, input_encoding=input_encoding,
                             readout=readout, weight_scale=weight_scale, precision="float",
                             model_config=json.dumps(model_config or {}), host=host or {})
    except NetxError as error:
        raise ExportError(f"exported network is invalid: {error}") from None


def export_model(model: nn.Module, part: str, model_config: dict[str, Any] | None = None,
                 weight_scale: float = 64.0, precision: str = "float", scale: float | None = None) -> NetworkRecord:
    """The netx record of one deployable part (``encoder``, ``decoder`` ...) of a model, in eval mode.

    Args:
        model: a model with ``deployable_parts()`` and ``host_arrays(part)``.
        part: which part.
        model_config: the run's configuration, stored in the file.
        weight_scale: device units per training unit of a float export.
        precision: ``float``, or ``fixed`` for Loihi's integer formats (:func:`~neurovae.export.quantize_network`).
        scale: fixed only: one scale for every layer instead of the automatic per-layer scales.
    """
    if precision not in PRECISIONS:
        raise ExportError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}")
    if scale is not None and precision != "fixed":
        raise ExportError("a quantization scale only applies to precision='fixed'")
    if not hasattr(model, "deployable_parts"):
        raise ExportError(f"{type(model).__name__} is not a spiking network: it has nothing to run on Lava")
    parts = model.deployable_parts()
    if part not in parts:
        raise ExportError(f"model has no part {part!r}; choose one of {', '.join(parts)}")
    stack, encoding, readout = parts[part]
    host = {name: tensor.double().cpu().numpy() for name, tensor in model.host_arrays(part).items()}
    network = export_stack(stack, steps=model.config.steps, input_encoding=encoding, readout=READOUTS[readout],
                           weight_scale=weight_scale, host=host,
                           model_config={**(model_config or {}), "part": part, "output": readout})
    if precision == "fixed":
        try:
            network = quantize_network(network, scale=scale)
        except QuantizationError as error:
            raise ExportError(f"{part}: {error}") from None
    return network


def export_to_file(model: nn.Module, part: str, path: str | os.PathLike,
                   model_config: dict[str, Any] | None = None, weight_scale: float = 64.0,
                   precision: str = "float", scale: float | None = None) -> NetworkRecord:
    """Export ``part`` and write it to ``path`` (atomically: a failed export leaves no file)."""
    network = export_model(model, part, model_config, weight_scale, precision, scale)
    write_netx(network, path)
    return network
