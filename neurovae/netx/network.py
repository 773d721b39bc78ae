"""The network record: the layers of a netx file and neurovae's file-level attributes.

The record checks itself when built: consecutive layer shapes must fit, a ``voltage`` readout must end in a
spiking layer, and a ``fixed`` precision network must hold whole numbers only (what stock netx and Lava's
fixed-point models compute with).

Example:
    >>> import numpy as np
    >>> from neurovae.netx import CubaNeuron, DenseLayer, InputLayer
    >>> net = NetworkRecord(layers=(InputLayer((4,)), DenseLayer(np.ones((2, 4)), CubaNeuron())), steps=8)
    >>> net.shapes
    ((4,), (2,))
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

from neurovae.netx.errors import NetxError
from neurovae.netx.layers import DenseLayer, InputLayer, InputNeuronLayer, Layer

ENCODINGS = ("spikes", "direct", "bias")
"""``spikes``: binary input spikes; ``direct``: graded real values sent every step (e.g. an image); ``bias``: the
input drives the neurons of an input layer (a SLAYER Input block) as their bias."""
READOUTS = ("spikes", "voltage")
"""``spikes``: the last layer's spikes are the output; ``voltage``: its voltage at the last step is."""
PRECISIONS = ("float", "fixed")
"""``fixed``: whole-number device parameters (Loihi fixed point); ``float``: real-valued parameters."""


def _package_version() -> str:
    try:
        return metadata.version("neurovae")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


@dataclass(frozen=True, eq=False)
class NetworkRecord:
    """A netx network: its layers plus neurovae's attributes (stored as HDF5 attributes of the file root).

    Attributes:
        layers: layer records in order; layer 0 is an ``input`` layer (or a ``dense`` layer, whose
            ``inFeatures`` then give the input shape).
        steps: time steps per sample T the model was trained with (None: not stated).
        input_encoding: one of :data:`ENCODINGS`.
        readout: one of :data:`READOUTS`.
        weight_scale: device units per training unit (weights, biases and thresholds alike; lava-dl uses 64).
            With ``layer_scales``, it is the last spiking layer's scale: what a voltage readout is divided by.
        precision: one of :data:`PRECISIONS`.
        model_config: the model's configuration as a JSON string.
        neurovae_version: the version that wrote the file ("" for files written by other tools).
        host: arrays for the computation that stays on the host (not on the chip), by name, e.g. an ESVAE
            decoder's prior bottleneck (``prior_weight``, ``prior_bias``); stored under ``/host``.
        layer_scales: device units per training unit of each layer, in layer order (0 for layers without
            parameters), when layers differ (a per-layer quantized network, see :mod:`neurovae.export.quantize`);
            None: every layer uses ``weight_scale``. Exact, because a layer's neurons only see its own synapse:
            weights, bias and threshold of a layer share its scale, and spikes carry no unit.
    """

    layers: tuple[Layer, ...]
    steps: int | None = None
    input_encoding: str = "spikes"
    readout: str = "spikes"
    weight_scale: float = 64.0
    precision: str = "float"
    model_config: str = "{}"
    neurovae_version: str = field(default_factory=_package_version)
    host: dict[str, np.ndarray] = field(default_factory=dict)
    layer_scales: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise NetxError("the network has no layers; a netx file needs at least one")
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise NetxError(f"layer {index} is a {type(layer).__name__}, not a netx layer record")
        if not isinstance(layers[0], InputLayer | DenseLayer):
            raise NetxError(
                f"layer 0 is a {layers[0].type} layer; start the network with an input layer giving its shape"
            )
        self._check_attributes()
        if (self.input_encoding == "bias") != isinstance(layers[0], InputNeuronLayer):
            raise NetxError("input_encoding 'bias' goes with an input layer that has neurons (a SLAYER Input "
                            "block), and only with it; set input_encoding to match layer 0")
        self._check_host()
        self._propagate()
        self._check_layer_scales()
        if self.readout == "voltage" and not layers[-1].spiking:
            raise NetxError(f"readout 'voltage' needs a spiking last layer, not {layers[-1].type}")
        if self.precision == "fixed":
            self._check_whole_numbers()

    def _check_attributes(self) -> None:
        for name, allowed in (("input_encoding", ENCODINGS), ("readout", READOUTS), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise NetxError(f"{name}={getattr(self, name)!r} is not one of {', '.join(allowed)}")
        if self.steps is not None:
            if isinstance(self.steps, bool) or int(self.steps) != self.steps or int(self.steps) < 1:
                raise NetxError(f"steps={self.steps!r} must be a positive whole number (or None)")
            object.__setattr__(self, "steps", int(self.steps))
        scale = float(self.weight_scale)
        if not math.isfinite(scale) or scale <= 0:
            raise NetxError(f"weight_scale={self.weight_scale!r} must be a positive number")
        object.__setattr__(self, "weight_scale", scale)
        try:
            json.loads(self.model_config)
        except (TypeError, ValueError):
            raise NetxError("model_config is not a JSON string; store json.dumps(config)") from None
        object.__setattr__(self, "neurovae_version", str(self.neurovae_version))

    def _check_host(self) -> None:
        host = {}
        for name, value in dict(self.host).items():
            array = np.array(value, dtype=np.float64)
            if not np.all(np.isfinite(array)):
                raise NetxError(f"host array {name!r} contains NaN or infinite values; retrain or re-export the model")
            array.setflags(write=False)
            host[str(name)] = array
        object.__setattr__(self, "host", host)

    def _check_layer_scales(self) -> None:
        if self.layer_scales is None:
            return
        try:
            scales = tuple(float(s) for s in np.asarray(self.layer_scales, dtype=np.float64).reshape(-1))
        except (TypeError, ValueError):
            raise NetxError(f"layer_scales={self.layer_scales!r} must be numbers, one per layer") from None
        if len(scales) != len(self.layers):
            raise NetxError(f"layer_scales has {len(scales)} values for {len(self.layers)} layers; give one per layer")
        for index, (layer, scale) in enumerate(zip(self.layers, scales, strict=True)):
            if not math.isfinite(scale) or scale < 0 or (layer.spiking and scale == 0):
                raise NetxError(f"layer_scales[{index}]={scale!r} ({layer.type}) must be a positive number")
        spiking = [i for i, layer in enumerate(self.layers) if layer.spiking]
        if spiking and not math.isclose(scales[spiking[-1]], self.weight_scale, rel_tol=1e-12):
            raise NetxError(f"weight_scale={self.weight_scale:g} differs from the last spiking layer's scale "
                            f"{scales[spiking[-1]]:g}; with layer_scales, weight_scale must be the readout layer's")
        object.__setattr__(self, "layer_scales", scales)

    def scale(self, index: int) -> float:
        """Device units per training unit of layer ``index`` (``layer_scales[index]`` or ``weight_scale``)."""
        return self.weight_scale if self.layer_scales is None else self.layer_scales[index]

    def _propagate(self) -> None:
        shapes: list[tuple[int, ...]] = []
        inputs: list[tuple[int, ...]] = []
        previous: tuple[int, ...] | None = None
        for index, layer in enumerate(self.layers):
            if isinstance(layer, DenseLayer) and index and isinstance(self.layers[index - 1], DenseLayer):
                previous = (int(np.prod(previous)),)  # netx keeps a dense layer's neurons flat, whatever its shape
            inputs.append(tuple(self.input_shape) if previous is None else previous)
            try:
                previous = tuple(int(n) for n in layer.output_shape(previous))
            except NetxError as error:
                source = f" (from layer {index - 1}, {self.layers[index - 1].type})" if index else ""
                raise NetxError(f"layer shape mismatch at layer {index} ({layer.type}){source}: {error}") from None
            shapes.append(previous)
        object.__setattr__(self, "_shapes", tuple(shapes))
        object.__setattr__(self, "_input_shapes", tuple(inputs))

    def _check_whole_numbers(self) -> None:
        for index, layer in enumerate(self.layers):
            for name, array in layer.arrays().items():
                if not np.all(np.mod(array, 1) == 0):
                    raise NetxError(
                        f"layer {index} ({layer.type}) has non-integer {name} values but the network's precision "
                        "is 'fixed'; quantize them or write precision='float'"
                    )
            neuron = getattr(layer, "neuron", None)
            if neuron is not None and not neuron.is_integer:
                raise NetxError(
                    f"layer {index} ({layer.type}) has non-integer neuron parameters but the network's precision "
                    "is 'fixed'; quantize them or write precision='float'"
                )

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """Each layer's output shape (CHW), in layer order."""
        return self._shapes  # type: ignore[attr-defined]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input frame (CHW): layer 0's shape, or ``(inFeatures,)`` of a leading dense layer."""
        first = self.layers[0]
        return first.shape if isinstance(first, InputLayer) else (first.inFeatures,)  # type: ignore[union-attr]

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The CHW shape each layer receives, in layer order (layer 0: :attr:`input_shape`).

        A dense layer fed by a dense layer receives a vector even when its source has a 3-D ``shape``, as in netx.
        """
        return self._input_shapes  # type: ignore[attr-defined]

    @property
    def spiking_layers(self) -> tuple[int, ...]:
        """Indices of the layers with neurons (synapse + CUBA neuron)."""
        return tuple(i for i, layer in enumerate(self.layers) if layer.spiking)

    @property
    def stock_problems(self) -> dict[int, str]:
        """Why lava-dl's stock netx loader cannot run a layer as it is, by layer index (empty: it runs them all).

        Stock netx has no ``convT``, keeps dense outputs flat (so no ``conv`` after a ``dense``), and reads every
        weight and bias as an integer (``astype(int)``, truncating): a layer with non-integer values would run
        with other weights, and a dense layer whose integer weights are all zero stops its loader (it divides
        by the largest weight).
        """
        problems = {}
        for index, layer in enumerate(self.layers):
            arrays = layer.arrays()
            neuron = getattr(layer, "neuron", None)
            if not layer.stock_netx:
                problems[index] = f"netx has no {layer.type} layer"
            elif layer.type == "conv" and index and isinstance(self.layers[index - 1], DenseLayer):
                problems[index] = "netx keeps a dense layer's output flat, so no conv can follow it"
            elif any(not np.all(np.mod(a, 1) == 0) for a in arrays.values()):
                problems[index] = "netx reads weights and biases as integers and would truncate its non-integer ones"
            elif neuron is not None and not neuron.is_integer:
                problems[index] = "netx's neurons take whole-number parameters"
            elif isinstance(layer, DenseLayer) and not np.any(layer.weight > 0) and not np.any(layer.weight < 0):
                problems[index] = "its weights are all zero, which netx's weight optimisation divides by"
        return problems

    @property
    def stock_layers(self) -> tuple[bool, ...]:
        """Per layer: whether lava-dl's stock netx loader runs it as it is (see :attr:`stock_problems`)."""
        problems = self.stock_problems
        return tuple(index not in problems for index in range(len(self.layers)))

    @property
    def stock_netx(self) -> bool:
        """Whether lava-dl's stock netx loader runs every layer as it is."""
        return not self.stock_problems

    def attributes(self) -> dict[str, str | int | float | tuple[float, ...]]:
        """Neurovae's HDF5 root attributes (``steps`` and ``layer_scales`` only when set)."""
        attrs: dict[str, str | int | float | tuple[float, ...]] = {
            "neurovae_version": self.neurovae_version,
            "model_config": self.model_config,
            "input_encoding": self.input_encoding,
            "readout": self.readout,
            "weight_scale": self.weight_scale,
            "precision": self.precision,
        }
        if self.steps is not None:
            attrs["steps"] = self.steps
        if self.layer_scales is not None:
            attrs["layer_scales"] = self.layer_scales
        return attrs

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NetworkRecord):
            return NotImplemented
        same_host = self.host.keys() == other.host.keys() and all(
            np.array_equal(v, other.host[k]) for k, v in self.host.items()
        )
        return self.attributes() == other.attributes() and self.layers == other.layers and same_host

    __hash__ = None  # type: ignore[assignment]
