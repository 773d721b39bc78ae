"""Neurons and spiking layers whose PyTorch dynamics equal Lava's, step for step."""

from neurovae.neurons.blocks import (
    SpikingBlock,
    SpikingStack,
    TimeFlatten,
    TimeUnflatten,
    delay_one_step,
    fold_time,
    init_readout,
    unfold_time,
)
from neurovae.neurons.lif import DECAY_SCALE, LIF, LeakyReadout, LIFParams, PeakReadout, rectangular_surrogate
from neurovae.neurons.tdbn import TDBatchNorm, fold_into_synapse

__all__ = [
    "DECAY_SCALE", "LIF", "LIFParams", "LeakyReadout", "PeakReadout", "SpikingBlock", "SpikingStack", "TDBatchNorm",
    "TimeFlatten", "TimeUnflatten", "delay_one_step", "fold_into_synapse", "fold_time", "init_readout",
    "rectangular_surrogate", "unfold_time",
]
