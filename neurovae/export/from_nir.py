r"""NIR graph -> netx network (``neurovae export --lava model.nir``): a direct, exact mapping onto Loihi's CUBA LIF.

NIR states its neurons in continuous time; a graph is read as the simulators that write it run it, one forward-Euler
step of ``dt`` per time step (``dt = 1e-4`` unless given, or stored in the graph's metadata by neurovae: snnTorch's
exporter and importer use it). With the current updated before the voltage, as snnTorch's ``Synaptic`` and Lava do:

=========  ============================================================  ==========================================
node       one step                                                       netx CUBA (``du = iDecay/4096``, ...)
=========  ============================================================  ==========================================
LIF        ``v <- (1 - dt/tau) v + (dt/tau) v_leak + (r dt/tau) I``         ``du = 1, dv = dt/tau``
CubaLIF    ``I <- (1 - dt/tau_syn) I + (dt/tau_syn) w_in x``,               ``du = dt/tau_syn, dv = dt/tau_mem``
           ``v <- (1 - dt/tau_mem) v + (dt/tau_mem) v_leak + (r dt/tau_mem) I``
IF         ``v <- v + r I`` (per step, as Sinabs and snnTorch read ``r``)    ``du = 1, dv = 0``
=========  ============================================================  ==========================================

then ``s = v > v_threshold`` and ``v <- v_reset`` where ``s``. The input gain (``r dt/tau``, for CubaLIF
``(w_in dt/tau_syn)(r dt/tau_mem)``, for IF ``r``) multiplies the synapse's weights and bias, and the leak
``(dt/tau) v_leak`` is a constant added to the voltage every step: Lava's bias. ``vThMant = v_threshold x
weight_scale``, weights and biases likewise. A synapse's own bias enters a CubaLIF's current, where it would
accumulate, while Lava adds its bias to the voltage, so it is refused where the current decays over more than
a step (``tau_syn > dt``). NIR stores time constants, not decays: snnTorch writes ``tau = dt / (1 - beta)`` in
float32, so a decay is computed in the file's precision, as snnTorch's importer does (see :func:`neuron_dynamics`).

Refused, in one line naming the node: any reset but to 0 (Lava's LIF resets to 0; NIR has no subtractive reset,
and snnTorch's exporter writes ``v_reset = 0`` whatever its neuron's ``reset_mechanism``), per-neuron parameters
that differ (netx has one decay and threshold per layer), branches and recurrent subgraphs (netx runs chains),
and node types Loihi's netx layers do not have (pooling, ``Conv1d``, leaky integrators without spikes, delays).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from neurovae.export.export import ExportError
from neurovae.export.writers import ExportState, write_flatten, write_synapse
from neurovae.netx import DECAY_SCALE, CubaNeuron, InputLayer, NetworkRecord, NetxError

if TYPE_CHECKING:
    import nir

DT = 1e-4
"""Seconds per time step when a graph does not say (snnTorch's ``export_to_nir`` / ``import_from_nir`` value)."""

SYNAPSE_NODES = ("Affine", "Linear", "Conv2d")
NEURON_NODES = ("LIF", "CubaLIF", "IF")


def read_nir(path: str | os.PathLike) -> nir.NIRGraph:
    """Read a NIR file (``nir.read``); an unreadable one is a one-line :class:`ExportError`."""
    import nir

    if not Path(path).is_file():
        raise ExportError(f"{path}: no such NIR file")
    try:
        return nir.read(path)
    except (OSError, KeyError, ValueError, AssertionError) as error:
        raise ExportError(f"{path} is not a NIR graph neurovae can read ({type(error).__name__}: {error})") from None


def _numpy(value: object) -> np.ndarray:
    """A node's array as numpy, in its own precision (a graph built in memory may hold torch tensors)."""
    return np.asarray(value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value)


def _array(value: object) -> np.ndarray:
    return _numpy(value).astype(np.float64)


def _one(node: object, name: str, where: str) -> np.floating:
    """The one value of a per-neuron parameter, in the precision the graph stores it in."""
    values = _numpy(getattr(node, name)).reshape(-1)
    values = values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64)
    if values.size == 0 or not np.all(values == values[0]):
        raise ExportError(f"{where}: {name} differs between neurons; netx has one value per layer")
    if not np.isfinite(values[0]):
        raise ExportError(f"{where}: {name} is {values[0]}; it must be finite")
    return values[0]


def _per_step(tau: np.floating, dt: float, name: str, where: str) -> tuple[np.floating, np.floating]:
    """``(dt / tau, tau / dt)`` in ``tau``'s precision: the fraction a state loses per step, and the inverse."""
    if not dt <= tau:
        raise ExportError(f"{where}: {name}={tau:g} is shorter than the time step dt={dt:g} (give --dt)")
    step = tau.dtype.type(dt)
    return step / tau, tau / step


def neuron_dynamics(node: object, dt: float, where: str) -> tuple[float, float, float, float, float]:
    """``(du, dv, gain, leak, threshold)`` of a LIF / CubaLIF / IF node: the table of the module docstring.

    Computed in the precision of the graph's arrays (snnTorch writes float32), as snnTorch's importer does:
    ``dt / tau`` then gives back snnTorch's float32 ``1 - beta`` for nine betas in ten (within one float32
    rounding otherwise), and the gain ``r / (tau / dt)`` is exactly 1 for snnTorch's ``r = tau / dt``.
    """
    reset = _one(node, "v_reset", where)
    if reset != 0:
        raise ExportError(f"{where}: v_reset={reset:g}, but Lava's LIF resets to 0")
    kind, threshold = type(node).__name__, float(_one(node, "v_threshold", where))
    if threshold <= 0:
        raise ExportError(f"{where}: v_threshold={threshold:g}; Loihi's threshold must be positive")
    if kind == "IF":
        return 1.0, 0.0, float(_one(node, "r", where)), 0.0, threshold
    r, v_leak = _one(node, "r", where), _one(node, "v_leak", where)
    if kind == "LIF":
        dv, steps = _per_step(_one(node, "tau", where), dt, "tau", where)
        return 1.0, float(dv), float(r / steps), float(dv * v_leak), threshold
    du, synapse_steps = _per_step(_one(node, "tau_syn", where), dt, "tau_syn", where)
    dv, membrane_steps = _per_step(_one(node, "tau_mem", where), dt, "tau_mem", where)
    gain = float(_one(node, "w_in", where) / synapse_steps) * float(r / membrane_steps)
    return float(du), float(dv), gain, float(dv * v_leak), threshold


def _linear(node: object, gain: float, bias: np.ndarray) -> nn.Module:
    weight = _array(node.weight)
    linear = nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight * gain))
        linear.bias.copy_(torch.from_numpy(bias))
    return linear


def _conv(node: object, gain: float, bias: np.ndarray) -> nn.Module:
    weight = _array(node.weight)
    padding = node.padding
    if isinstance(padding, str):
        kernel, dilation = np.array(weight.shape[2:]), np.broadcast_to(np.asarray(node.dilation), 2)
        reach = dilation * (kernel - 1)
        if padding == "same" and (np.any(reach % 2) or np.any(np.asarray(node.stride) != 1)):
            raise ValueError("padding='same' with an even kernel or a stride has no symmetric padding")
        padding = tuple(int(p) for p in reach // 2) if padding == "same" else 0
    conv = nn.Conv2d(weight.shape[1] * int(node.groups), weight.shape[0], tuple(weight.shape[2:]),
                     stride=tuple(np.broadcast_to(np.asarray(node.stride), 2).tolist()),
                     padding=tuple(np.broadcast_to(np.asarray(padding), 2).tolist()),
                     dilation=tuple(np.broadcast_to(np.asarray(node.dilation), 2).tolist()),
                     groups=int(node.groups), dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weight * gain))
        conv.bias.copy_(torch.from_numpy(bias))
    return conv


SYNAPSES: dict[str, Callable[[object, float, np.ndarray], nn.Module]] = {
    "Affine": _linear, "Linear": _linear, "Conv2d": _conv}
"""NIR synapse node type -> the torch synapse whose netx writer it goes through (weights already scaled)."""


def _reaches(successors: dict[str, list[str]], start: str, goal: str) -> bool:
    """Whether ``goal`` is downstream of ``start``."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name == goal:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(successors.get(name, []))
    return False


def chain(graph: nir.NIRGraph) -> list[tuple[str, nir.NIRNode]]:
    """The graph's nodes from its one input to its one output, or a one-line refusal of any other shape."""
    nodes, successors, predecessors = graph.nodes, {}, {}
    for source, target in graph.edges:
        successors.setdefault(source, []).append(target)
        predecessors.setdefault(target, []).append(source)
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind == "NIRGraph":
            raise ExportError(f"NIR node '{name}' (NIRGraph) is a subgraph (e.g. a recurrent layer); netx runs "
                              "feed-forward chains")
        if any(_reaches(successors, name, source) for source in predecessors.get(name, [])):
            raise ExportError(f"NIR node '{name}' ({kind}) feeds back into itself (a recurrent connection); netx "
                              "runs feed-forward chains")
        if len(successors.get(name, [])) > 1 or len(predecessors.get(name, [])) > 1:
            raise ExportError(f"NIR node '{name}' ({kind}) branches or merges; netx runs chains of layers")
    inputs = [name for name, node in nodes.items() if type(node).__name__ == "Input"]
    if len(inputs) != 1:
        raise ExportError(f"the NIR graph has {len(inputs)} Input nodes; netx needs exactly one")
    order, name = [], inputs[0]
    while name in successors:
        name = successors[name][0]
        order.append((name, nodes[name]))
    left = set(nodes) - {inputs[0]} - {seen for seen, _ in order}
    if left:
        raise ExportError(f"NIR node '{sorted(left)[0]}' is not on the path from the input to the output")
    if not order or type(order[-1][1]).__name__ != "Output":
        raise ExportError("the NIR graph's chain does not end in an Output node")
    return [(inputs[0], nodes[inputs[0]]), *order[:-1]]


def _input_shape(node: object) -> tuple[int, ...]:
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    if shape is None:
        raise ExportError("the NIR graph's Input node has no shape; write it with the input's shape")
    sides = tuple(int(side) for side in np.atleast_1d(shape))
    if len(sides) in (2, 4) and sides[0] == 1:  # a batch of one in front (Norse's exporter keeps its sample's)
        sides = sides[1:]
    return sides


def nir_to_netx(graph: nir.NIRGraph, dt: float | None = None, weight_scale: float = 64.0) -> NetworkRecord:
    """The float netx network of a NIR graph (see the module docstring for the mapping and what is refused).

    Args:
        graph: a ``nir.NIRGraph`` (e.g. from ``snntorch.export_nir.export_to_nir`` or :func:`read_nir`).
        dt: seconds per step; None: the graph's ``metadata['dt']``, else :data:`DT`.
        weight_scale: device units per NIR unit (64, lava-dl's).
    """
    metadata = dict(getattr(graph, "metadata", None) or {})
    dt = float(dt if dt is not None else metadata.get("dt", DT))
    (_, source), *rest = chain(graph)
    shape = _input_shape(source)
    state = ExportState(shape=shape, weight_scale=weight_scale, layers=[InputLayer(shape=shape)])
    position = 0
    while position < len(rest):
        name, node = rest[position]
        kind, where = type(node).__name__, f"NIR node '{name}' ({type(node).__name__})"
        if kind == "Flatten":
            if node.start_dim != 0 or node.end_dim not in (-1, len(state.shape) - 1):
                raise ExportError(f"{where}: it flattens dimensions {node.start_dim}..{node.end_dim}; netx flattens "
                                  "a whole sample")
            if len(state.shape) > 1:
                write_flatten(node, state)
            position += 1
            continue
        if kind not in SYNAPSE_NODES:
            hint = "a neuron needs a synapse before it" if kind in NEURON_NODES else "netx has no such layer"
            raise ExportError(f"{where} cannot be mapped to netx ({hint}; supported: Affine, Linear, Conv2d, "
                              "Flatten, LIF, CubaLIF, IF)")
        following = rest[position + 1] if position + 1 < len(rest) else None
        if following is None or type(following[1]).__name__ not in NEURON_NODES:
            raise ExportError(f"{where} is not followed by a LIF, CubaLIF or IF node: on Loihi every synapse feeds "
                              "a neuron")
        _write_layer(name, node, *following, state, dt)
        position += 2
    try:
        return NetworkRecord(layers=tuple(state.layers), steps=metadata.get("steps"),
                             input_encoding=str(metadata.get("input_encoding", "spikes")),
                             readout=str(metadata.get("readout", "spikes")), weight_scale=weight_scale,
                             model_config=json.dumps({"nir": {"dt": dt}}))
    except NetxError as error:
        raise ExportError(f"the NIR graph gives an invalid netx network: {error}") from None


def _write_layer(name: str, node: object, neuron_name: str, neuron: object, state: ExportState, dt: float) -> None:
    """One synapse node and its neuron node -> one netx layer."""
    where = f"NIR node '{name}' ({type(node).__name__})"
    du, dv, gain, leak, threshold = neuron_dynamics(neuron, dt, f"NIR node '{neuron_name}' ({type(neuron).__name__})")
    bias = _array(getattr(node, "bias", 0.0)) * np.ones(_array(node.weight).shape[0])
    if du < 1 and np.any(bias != 0):
        raise ExportError(f"{where}: its bias enters the CubaLIF current of '{neuron_name}', where it accumulates "
                          "(tau_syn > dt), while Lava adds a bias to the voltage; use a synapse without a bias")
    wants_flat = type(node).__name__ != "Conv2d"
    if wants_flat != (len(state.shape) == 1):
        raise ExportError(f"{where} gets an input of shape {state.shape}; "
                          f"{'flatten it first' if wants_flat else 'a Conv2d needs (C, H, W)'}")
    try:
        neuron_record = CubaNeuron(iDecay=DECAY_SCALE * du, vDecay=DECAY_SCALE * dv,
                                   vThMant=threshold * state.weight_scale)
        write_synapse(SYNAPSES[type(node).__name__](node, gain, bias * gain + leak), None, neuron_record, state)
    except (NetxError, ValueError) as error:
        raise ExportError(f"{where}: {error}") from None
