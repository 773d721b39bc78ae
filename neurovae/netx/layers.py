"""Layer records of a netx file, one frozen dataclass per netx layer ``type``, in a registry.

Each record knows its datasets (:meth:`Layer.datasets`, keyed by the path inside ``layer/<i>``), how to be
built back from them (:meth:`Layer.from_datasets`) and its output shape given its input shape
(:meth:`Layer.output_shape`). Shapes are CHW (``(C, H, W)`` or ``(n,)``), as in the file and in PyTorch.

Example:
    >>> import numpy as np
    >>> layer = DenseLayer(weight=np.ones((3, 4)), neuron=CubaNeuron())
    >>> layer.output_shape((4,))
    (3,)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from neurovae.netx.errors import NetxError
from neurovae.netx.neuron import CubaNeuron

LAYER_TYPES: dict[str, type[Layer]] = {}
"""Registry: netx layer ``type`` string -> record class. Round-trip tests iterate over it."""


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Class decorator that adds a layer record to :data:`LAYER_TYPES` under its netx ``type``."""
    LAYER_TYPES[cls.type] = cls
    return cls


def _array(value: Any, name: str, ndim: int) -> np.ndarray:
    """A read-only float64 copy of ``value`` with ``ndim`` dimensions and finite entries."""
    array = np.array(value, dtype=np.float64)
    if array.ndim != ndim:
        raise NetxError(f"{name} has {array.ndim} dimensions {array.shape}; expected {ndim}")
    if not np.all(np.isfinite(array)):
        raise NetxError(f"{name} contains NaN or infinite values; retrain or re-export the model")
    array.setflags(write=False)
    return array


def _ints(value: Any, name: str, length: int | None = None, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (an int or a sequence) as a tuple of whole numbers >= ``minimum``."""
    array = np.atleast_1d(np.asarray(value))
    if length is not None and array.size == 1:
        array = np.repeat(array.reshape(1), length)
    if array.ndim != 1 or (length is not None and array.size != length) or array.size == 0:
        raise NetxError(f"{name}={value!r} must be {length or 'some'} whole numbers")
    if not np.all(np.equal(np.mod(array, 1), 0)) or np.any(array < minimum):
        raise NetxError(f"{name}={array.tolist()} must be whole numbers >= {minimum}")
    return tuple(int(x) for x in array)


def _required(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise NetxError(f"lacks the dataset {key!r}; re-export the layer")
    return data[key]


def _reject_unsupported(data: Mapping[str, Any]) -> None:
    for key, what in (("delay", "synaptic delays"), ("weight/real", "complex weights"),
                      ("weight_rec", "recurrent weights")):
        if key in data:
            raise NetxError(f"has {what} ({key!r}), which neurovae does not simulate; export without them")


class Layer:
    """Common behaviour of layer records (subclasses are frozen dataclasses).

    Class attributes: ``type`` (the netx type string), ``stock_netx`` (whether lava-dl's netx loader runs
    this layer) and ``spiking`` (whether the layer has a synapse and a CUBA neuron).
    """

    type: ClassVar[str] = ""
    stock_netx: ClassVar[bool] = True
    spiking: ClassVar[bool] = False

    def output_shape(self, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        """The CHW shape this layer outputs given its input's shape (None: it is the first layer)."""
        raise NotImplementedError

    def datasets(self) -> dict[str, Any]:
        """Datasets keyed by their path inside the layer group (``type`` is written as SLAYER does)."""
        raise NotImplementedError

    @classmethod
    def from_datasets(cls, data: Mapping[str, Any]) -> Layer:
        """Build the record from a layer group's datasets (paths relative to the group)."""
        raise NotImplementedError

    @property
    def num_params(self) -> int:
        """Number of weights and biases."""
        return sum(int(np.size(a)) for a in self.arrays().values())

    def arrays(self) -> dict[str, np.ndarray]:
        """The record's numeric arrays (weights and biases) by name."""
        return {k: getattr(self, k) for k in ("weight", "bias") if getattr(self, k, None) is not None}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for field in dataclasses.fields(self):
            a, b = getattr(self, field.name), getattr(other, field.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or not np.array_equal(a, b) or np.shape(a) != np.shape(b):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None


@register_layer
@dataclass(frozen=True, eq=False)
class InputLayer(Layer):
    """``input``: the network's input shape, with no neuron group (so that a spike source can feed it).

    Attributes:
        shape: ``(n,)`` for vectors or ``(C, H, W)`` for images.
    """

    shape: tuple[int, ...]
    type: ClassVar[str] = "input"

    def __post_init__(self) -> None:
        shape = _ints(self.shape, "shape")
        if len(shape) not in (1, 3):
            raise NetxError(f"input shape {shape} must be (n,) or (C, H, W)")
        object.__setattr__(self, "shape", shape)

    def output_shape(self, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        """The input shape itself; an input layer must come first (``input_shape`` None)."""
        if input_shape is not None:
            raise NetxError("is an input layer after other layers; only layer 0 may be an input layer")
        return self.shape

    @property
    def num_neurons(self) -> int:
        """Number of input channels (no neurons are simulated for them)."""
        return int(np.prod(self.shape))

    def datasets(self) -> dict[str, Any]:
        """``type`` and ``shape`` only: a neuron group would stop a spike source from feeding the network."""
        return {"type": self.type, "shape": np.array(self.shape, dtype=np.int64)}

    @classmethod
    def from_datasets(cls, data: Mapping[str, Any]) -> InputLayer:
        """Read ``shape``; with a neuron group (a SLAYER Input block) the layer is an :class:`InputNeuronLayer`."""
        shape = tuple(np.atleast_1d(_required(data, "shape")))
        if any(k.startswith("neuron/") for k in data):
            return InputNeuronLayer(shape=shape, neuron=CubaNeuron.from_datasets(data),
                                    weight=_transform(data, "weight", INPUT_WEIGHT),
                                    bias=_transform(data, "bias", 0.0))
        if any(k in ("weight", "bias") for k in data):
            raise NetxError("is an input layer with an input transform ('weight'/'bias') but no neuron group; "
                            "a transform needs the Input block's neurons")
        return cls(shape=shape)


INPUT_WEIGHT = 64.0
"""lava-dl netx's input transform weight when an Input block's file holds none."""


def _transform(data: Mapping[str, Any], key: str, default: float) -> float:
    """One number of an Input block's transform (SLAYER writes it as a one-element array)."""
    if key not in data:
        return default
    values = np.asarray(data[key], dtype=np.float64).reshape(-1)
    if values.size != 1 or not np.isfinite(values[0]):
        raise NetxError(f"has an input transform {key} of {values.size} values; it must be one finite number")
    return float(values[0])


@dataclass(frozen=True, eq=False)
class InputNeuronLayer(InputLayer):
    """``input`` with a neuron group (SLAYER's ``Input`` block): neurons driven by the input as a bias.

    No synapse feeds them. A sample's input ``x`` (shape ``shape``) becomes each neuron's bias
    ``weight * x + bias`` for the whole sample, as lava-dl's examples load it into ``bias_mant`` (fixed point:
    truncated toward zero to whole numbers, as their datasets' ``astype(np.int32)`` does). The neurons' spikes
    feed the next layer like any layer's.

    Attributes:
        shape: ``(n,)`` or ``(C, H, W)``.
        neuron: the CUBA neuron of every input.
        weight: the transform's scale (lava-dl netx's default 64).
        bias: the transform's offset.
    """

    neuron: CubaNeuron = dataclasses.field(default_factory=CubaNeuron)
    weight: float = INPUT_WEIGHT
    bias: float = 0.0
    spiking: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.neuron, CubaNeuron):
            raise NetxError(f"neuron must be a CubaNeuron record, got {type(self.neuron).__name__}")
        for name in ("weight", "bias"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise NetxError(f"input transform {name}={value} must be a finite number")
            object.__setattr__(self, name, value)

    def arrays(self) -> dict[str, np.ndarray]:
        """The transform as two one-element arrays (what a fixed-point file must hold as whole numbers)."""
        return {"weight": np.array([self.weight]), "bias": np.array([self.bias])}

    def input_bias(self, inputs: np.ndarray, precision: str) -> np.ndarray:
        """The neurons' bias for ``inputs`` (any leading axes, then ``shape``): ``weight * x + bias``.

        Fixed point truncates toward zero, as ``bias_mant`` holds whole numbers.
        """
        bias = self.weight * np.asarray(inputs, dtype=np.float64) + self.bias
        return np.trunc(bias) if precision == "fixed" else bias

    def datasets(self) -> dict[str, Any]:
        """SLAYER Input block's datasets: type, shape, weight, bias (one-element arrays) and neuron/*."""
        out = super().datasets()
        out.update(weight=np.array([self.weight]), bias=np.array([self.bias]))
        out.update(self.neuron.datasets())
        return out


@register_layer
@dataclass(frozen=True, eq=False)
class FlattenLayer(Layer):
    """``flatten``: CHW -> ``(C*H*W,)`` in C order (as ``torch.flatten``). ``shape`` is ``(C*H*W, 1, 1)``."""

    shape: tuple[int, ...]
    type: ClassVar[str] = "flatten"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _ints(self.shape, "shape"))

    def output_shape(self, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        """``(C*H*W,)``; the input must hold as many values as ``shape``."""
        size = int(np.prod(self.shape))
        if input_shape is None:
            raise NetxError("is a flatten layer with no layer before it; start with an input layer")
        if int(np.prod(input_shape)) != size:
            raise NetxError(f"flattens {size} values but its input has shape {input_shape}")
        return (size,)

    @property
    def num_neurons(self) -> int:
        """A flatten layer has no neurons."""
        return 0

    def datasets(self) -> dict[str, Any]:
        """``type`` and ``shape``, as SLAYER's Flatten block writes them."""
        return {"type": self.type, "shape": np.array(self.shape, dtype=np.int64)}

    @classmethod
    def from_datasets(cls, data: Mapping[str, Any]) -> FlattenLayer:
        """Read ``shape``."""
        return cls(shape=tuple(np.atleast_1d(_required(data, "shape"))))


class _SpikingLayer(Layer):
    """Shared parts of synapse + CUBA neuron layers (``weight``, ``bias``, ``neuron``, ``shape``)."""

    spiking: ClassVar[bool] = True

    @property
    def num_neurons(self) -> int:
        """Number of neurons (the product of ``shape``)."""
        return int(np.prod(self.shape))

    def _check_neuron_and_bias(self, channels: int) -> None:
        if not isinstance(self.neuron, CubaNeuron):
            raise NetxError(f"neuron must be a CubaNeuron record, got {type(self.neuron).__name__}")
        if self.bias is not None:
            bias = _array(self.bias, "bias", 1)
            if bias.size != channels:
                raise NetxError(f"bias has {bias.size} values but the layer has {channels} output channels")
            object.__setattr__(self, "bias", bias)

    def _common_datasets(self) -> dict[str, Any]:
        return {"type": self.type, "shape": np.array(self.shape, dtype=np.int64)}

    def _tail_datasets(self) -> dict[str, Any]:
        out: dict[str, Any] = {"weight": self.weight}
        if self.bias is not None:
            out["bias"] = self.bias
        out.update(self.neuron.datasets())
        return out


@register_layer
@dataclass(frozen=True, eq=False)
class DenseLayer(_SpikingLayer):
    """``dense``: fully connected synapse + CUBA neuron, ``I = weight @ s + bias``.

    Attributes:
        weight: ``(outFeatures, inFeatures)``.
        neuron: the CUBA neuron of every output.
        bias: ``(outFeatures,)`` or None.
        shape: output shape, ``(outFeatures,)`` (default) or a ``(C, H, W)`` view of it in C order (as
            ``torch.Tensor.view``), e.g. a decoder's first layer feeding a ``convT``. netx flattens it.
    """

    weight: np.ndarray
    neuron: CubaNeuron
    bias: np.ndarray | None = None
    shape: tuple[int, ...] | None = None
    type: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _array(self.weight, "weight", 2))
        self._check_neuron_and_bias(self.outFeatures)
        shape = (self.outFeatures,) if self.shape is None else _ints(self.shape, "shape")
        if len(shape) not in (1, 3) or int(np.prod(shape)) != self.outFeatures:
            raise NetxError(f"shape {shape} must be ({self.outFeatures},) or a (C, H, W) with as many neurons")
        object.__setattr__(self, "shape", shape)

    @property
    def inFeatures(self) -> int:  # noqa: N802 - netx's name
        """Number of inputs (``weight.shape[1]``)."""
        return int(self.weight.shape[1])

    @property
    def outFeatures(self) -> int:  # noqa: N802 - netx's name
        """Number of outputs (``weight.shape[0]``)."""
        return int(self.weight.shape[0])

    def output_shape(self, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
        """``shape``; the input must be ``(inFeatures,)`` (None: first layer)."""
        if input_shape is not None and tuple(input_shape) != (self.inFeatures,):
            hint = " (put a flatten layer before it)" if int(np.prod(input_shape)) == self.inFeatures else ""
            raise NetxError(f"has inFeatures={self.inFeatures} but its input has shape {input_shape}{hint}")
        return self.shape

    def datasets(self) -> dict[str, Any]:
        """SLAYER Dense block's datasets: type, shape, inFeatures, outFeatures, weight, [bias], neuron/*."""
        out = self._common_datasets()
        out["inFeatures"] = self.inFeatures
        out["outFeatures"] = self.outFeatures
        out.update(self._tail_datasets())
        return out

    @classmethod
    def from_datasets(cls, data: Mapping[str, Any]) -> DenseLayer:
        """Read a dense layer (a flattened weight is reshaped to ``(prod(shape), -1)`` as netx does)."""
        _reject_unsupported(data)
        weight = np.asarray(_required(data, "weight"))
        out_features = int(np.prod(np.atleast_1d(_required(data, "shape"))))
        if weight.ndim == 1 and weight.size % out_features == 0:  # netx accepts flattened weights
            weight = weight.reshape(out_features, -1)
        if weight.ndim == 2 and weight.shape[0] != out_features:
            raise NetxError(f"has {out_features} neurons but weight {weight.shape} has {weight.shape[0]} outputs")
        shape = tuple(np.atleast_1d(data["shape"]))
        return cls(weight=weight, neuron=CubaNeuron.from_datasets(data), bias=data.get("bias"),
                   shape=shape if len(shape) == 3 else None)
