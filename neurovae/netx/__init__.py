"""The netx HDF5 network format: records, reader, writer, validation and a summary (no Lava import here).

On-disk layout (what :func:`write_netx` writes, what lava-dl's SLAYER ``export_hdf5`` writes, and what
lava-dl's stock ``netx.hdf5.Network`` reads for the layer types it supports)::

    /                                   root attributes (neurovae's; absent in lava-dl's files):
        neurovae_version  str           package version that wrote the file
        model_config      str           the model's configuration as JSON
        steps             int           time steps per sample T (only when stated)
        input_encoding    str           'spikes' (binary input) | 'direct' (graded real values every step)
        readout           str           'spikes' | 'voltage' (last layer's voltage at the last step)
        weight_scale      float         device units per training unit (lava-dl: 64 = 2**6); with layer_scales,
                                        the last spiking layer's: what a voltage readout is divided by
        precision         str           'float' | 'fixed' (fixed: every parameter is a whole number)
        layer_scales      float64 (N,)  optional: device units per training unit of each layer (0 where a
                                        layer has no parameters), written by per-layer quantization
    /layer/<i>                          one group per layer, i = 0..N-1 in order
        type        (1,) S10            'input' | 'dense' | 'conv' | 'convT' | 'flatten'
        shape       int array           output shape, CHW: (n,) or (C, H, W); flatten: (C*H*W, 1, 1)
      dense:
        inFeatures, outFeatures  int
        weight      (out, in)           float64 (float) or int32 (fixed)
        bias        (out,)              optional
      conv (torch conv2d) and convT (torch conv_transpose2d):
        inChannels, outChannels  int
        kernelSize, stride, padding, dilation   (H, W) int pairs;  groups  int
        weight      conv: (out, in/groups, kH, kW) OIHW;  convT: (in, out/groups, kH, kW) IOHW
        bias        (outChannels,)      optional, per channel
      dense, conv, convT:
        neuron/type 'CUBA';  neuron/iDecay, neuron/vDecay (4096 scale);  neuron/vThMant;
        neuron/refDelay (1);  neuron/gradedSpike (False)
      input: type and shape only (no neuron group, so that a spike source can feed the first synapse)
    /host/<name>                        optional float64 arrays for what stays on the host (not the chip),
                                        e.g. an ESVAE decoder's prior bottleneck prior_weight, prior_bias

Within a layer, weights, biases and ``vThMant`` share one unit: device units = training units x the layer's
scale, ``layer_scales[i]`` when present, else ``weight_scale`` for every layer. Per-layer scales are exact
because a layer's neurons only see their own synapse's output (spikes carry no unit); see
:mod:`neurovae.export.quantize` for how a fixed-point export chooses them. Decays are stored as integers when
whole (fixed point) and as float64 otherwise (``vDecay = 4096 * dv``, exact for float runs). ``convT`` has no
output-padding key (SLAYER writes none): it follows from the input and output shapes. Stock netx cannot load
``convT``; :mod:`neurovae.simulate` runs it with its own Lava process.

Example:
    >>> import numpy as np
    >>> net = NetworkRecord(layers=(InputLayer((4,)), DenseLayer(np.ones((2, 4)), CubaNeuron())))
    >>> print(describe(net).splitlines()[0])  # doctest: +ELLIPSIS
    netx network: 2 layers, 8 parameters, 2 neurons; ...
"""

from neurovae.netx.conv import ConvLayer, ConvTLayer
from neurovae.netx.describe import describe
from neurovae.netx.errors import NetxError
from neurovae.netx.hdf5 import read_netx, write_netx
from neurovae.netx.layers import (
    LAYER_TYPES,
    DenseLayer,
    FlattenLayer,
    InputLayer,
    InputNeuronLayer,
    Layer,
    register_layer,
)
from neurovae.netx.network import ENCODINGS, PRECISIONS, READOUTS, NetworkRecord
from neurovae.netx.neuron import DECAY_SCALE, CubaNeuron

__all__ = [
    "DECAY_SCALE",
    "ENCODINGS",
    "LAYER_TYPES",
    "PRECISIONS",
    "READOUTS",
    "ConvLayer",
    "ConvTLayer",
    "CubaNeuron",
    "DenseLayer",
    "FlattenLayer",
    "InputLayer",
    "InputNeuronLayer",
    "Layer",
    "NetworkRecord",
    "NetxError",
    "describe",
    "read_netx",
    "register_layer",
    "write_netx",
]
