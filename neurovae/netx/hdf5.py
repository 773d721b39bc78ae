"""Read and write netx HDF5 files: :func:`write_netx` is the only function that opens one for writing.

The layout is documented in :mod:`neurovae.netx`. Reading accepts both neurovae's files and files written by
lava-dl's own SLAYER ``export_hdf5`` (root attributes absent: ``precision`` is then ``fixed`` when every
parameter is a whole number, ``readout`` is ``voltage`` when the last layer's threshold is SLAYER's
"never fires" value ``2**18 - 1``, ``input_encoding`` is ``bias`` when layer 0 is an Input block with neurons, and
``steps`` is the ``simulation/tSample`` that SLAYER networks write).

Example:
    >>> write_netx(network, "model.net")  # doctest: +SKIP
    >>> read_netx("model.net") == network  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neurovae.io import atomic_path
from neurovae.netx.errors import NetxError
from neurovae.netx.layers import LAYER_TYPES, InputNeuronLayer, Layer
from neurovae.netx.network import NetworkRecord

SLAYER_NEVER_FIRES = (1 << 18) - 1
"""The threshold SLAYER's ``export_hdf5`` writes for a non-spiking (readout) layer."""


def _type_dataset(group: h5py.Group, value: str) -> None:
    """Write ``type`` exactly as SLAYER does: a (1,) array of fixed-length ASCII strings."""
    group.create_dataset("type", (1,), "S10", [value.encode("ascii")])


def write_netx(network: NetworkRecord, path: str | os.PathLike) -> Path:
    """Write ``network`` to ``path`` atomically (a failed write leaves no file and keeps an old one).

    Weights and biases are written as int32 for ``fixed`` networks and float64 for ``float`` ones.

    Args:
        network: the record to write.
        path: the file to create or replace.

    Returns:
        The path written.
    """
    if not isinstance(network, NetworkRecord):
        raise NetxError(f"write_netx needs a NetworkRecord, got {type(network).__name__}")
    weight_dtype = np.int32 if network.precision == "fixed" else np.float64
    target = Path(path)
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as handle:
        for key, value in network.attributes().items():
            handle.attrs[key] = value
        layers = handle.create_group("layer")
        for index, layer in enumerate(network.layers):
            group = layers.create_group(str(index))
            for key, value in layer.datasets().items():
                if key == "type":
                    _type_dataset(group, value)
                elif key in ("weight", "bias"):
                    group.create_dataset(key, data=np.asarray(value).astype(weight_dtype))
                else:
                    group.create_dataset(key, data=value)
        if network.host:
            host = handle.create_group("host")
            for name, array in network.host.items():
                host.create_dataset(name, data=array)
    return target


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return value.reshape(-1)[0].decode("ascii", "replace") if value.size else ""
    return value


def _layer_datasets(group: h5py.Group) -> dict[str, Any]:
    data: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            data[name] = _decode(obj[()])

    group.visititems(visit)
    return data


def _read_layer(path: Path, index: int, group: Any) -> Layer:
    if not isinstance(group, h5py.Group):
        raise NetxError(f"{path}: layer/{index} is not a group; the file is not a valid netx network")
    data = _layer_datasets(group)
    kind = data.pop("type", None)
    if kind is None:
        raise NetxError(f"{path}: layer {index} has no 'type' dataset; the file is not a valid netx network")
    record = LAYER_TYPES.get(str(kind))
    if record is None:
        raise NetxError(
            f"{path}: layer {index} has type {str(kind)!r}, which neurovae does not support; "
            f"supported types: {', '.join(sorted(LAYER_TYPES))}"
        )
    try:
        return record.from_datasets(data)
    except NetxError as error:
        raise NetxError(f"{path}: layer {index} ({kind}) {error}") from None


def _foreign_attributes(layers: list[Layer]) -> dict[str, Any]:
    """Attributes for a file without neurovae's root attributes (e.g. written by lava-dl)."""
    whole = all(np.all(np.mod(a, 1) == 0) for layer in layers for a in layer.arrays().values()) and all(
        layer.neuron.is_integer for layer in layers if layer.spiking  # type: ignore[attr-defined]
    )
    last = layers[-1]
    readout = "voltage" if last.spiking and last.neuron.vThMant >= SLAYER_NEVER_FIRES else "spikes"  # type: ignore[attr-defined]
    encoding = "bias" if isinstance(layers[0], InputNeuronLayer) else "spikes"
    return {"precision": "fixed" if whole else "float", "readout": readout, "input_encoding": encoding,
            "neurovae_version": ""}


def _sample_steps(source: Path, handle: h5py.File) -> int | None:
    """``simulation/tSample`` of a file written by a SLAYER network's ``export_hdf5`` (None: not stated)."""
    value = handle.get("simulation/tSample")
    if not isinstance(value, h5py.Dataset):
        return None
    steps = np.asarray(value[()]).reshape(-1)
    if steps.size != 1 or not np.isfinite(steps[0]) or steps[0] < 1 or steps[0] != int(steps[0]):
        raise NetxError(f"{source}: simulation/tSample={steps.tolist()} must be one positive whole number of steps")
    return int(steps[0])


def read_netx(path: str | os.PathLike) -> NetworkRecord:
    """Read a netx HDF5 file (neurovae's or lava-dl's) into a validated :class:`NetworkRecord`.

    Raises:
        NetxError: one line saying what is wrong with the file: missing, not HDF5, not a netx network,
            an unsupported layer type, mismatched layer shapes, NaN/infinite weights or bad neuron params.
    """
    source = Path(path)
    if not source.is_file():
        raise NetxError(f"{source}: no such file; check the path (netx files usually end in .net or .h5)")
    if not h5py.is_hdf5(source):
        raise NetxError(f"{source} is not an HDF5 file; give a netx network written by neurovae or lava-dl")
    try:
        with h5py.File(source, "r") as handle:
            group = handle.get("layer")
            if not isinstance(group, h5py.Group):
                raise NetxError(f"{source} is an HDF5 file but not a netx network (it has no 'layer' group)")
            names = sorted(group.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
            if names != [str(i) for i in range(len(names))]:
                raise NetxError(f"{source}: the 'layer' group must hold groups 0..N-1, found {names[:6]}")
            layers = [_read_layer(source, i, group[name]) for i, name in enumerate(names)]
            attrs = {k: _decode(v) for k, v in handle.attrs.items()}
            host_group = handle.get("host")
            host = {k: np.asarray(v[()]) for k, v in host_group.items()} if isinstance(host_group, h5py.Group) else {}
            sample_steps = _sample_steps(source, handle)
    except OSError as error:
        raise NetxError(f"{source}: cannot read the HDF5 file ({error})") from None
    if not layers:
        raise NetxError(f"{source}: the 'layer' group is empty; the file holds no network")
    if "neurovae_version" not in attrs:
        attrs = {**_foreign_attributes(layers), **attrs}
    if "steps" not in attrs and sample_steps is not None:
        attrs["steps"] = sample_steps
    known = ("steps", "input_encoding", "readout", "weight_scale", "precision", "model_config", "neurovae_version",
             "layer_scales")
    kwargs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attrs.items() if k in known}
    try:
        return NetworkRecord(layers=tuple(layers), host=host, **kwargs)
    except NetxError as error:
        raise NetxError(f"{source}: {error}") from None
