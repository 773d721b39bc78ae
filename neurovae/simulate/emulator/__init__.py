"""A batched Loihi emulator in PyTorch: netx networks, bit-exact with Lava ``fixed_pt``, equal to ``floating_pt``.

Lava's CPU simulator runs one sample at a time in Python processes; :func:`run_emulator` runs a batch of
samples at once (CPU or CUDA) through the same netx file and returns the same
:class:`~neurovae.simulate.SimulationResult` as :func:`neurovae.simulate.run_lava`, spike for spike.

Modules, in the order data flows through them:

* :mod:`~neurovae.simulate.emulator.fixedpoint` - Lava's integer details: wraps, shifts, the LIF decay, weight packing;
* :mod:`~neurovae.simulate.emulator.synapses` - one synapse op per netx layer type, in a registry (dense, conv, convT);
* :mod:`~neurovae.simulate.emulator.neuron` - the float and fixed-point CUBA LIF steps, pure functions over tensors;
* :mod:`~neurovae.simulate.emulator.plan` - a network compiled into stages, run one batch at a time;
* :mod:`~neurovae.simulate.emulator.run` - :func:`run_emulator`.

Nothing here imports Lava (a test checks it).

Example:
    >>> from neurovae.simulate.emulator import run_emulator
    >>> result = run_emulator("decoder.net", spikes, precision="fixed", batch_size=256)  # doctest: +SKIP
"""

from neurovae.simulate.emulator.neuron import FixedLIFParams, FloatLIFParams, LIFState, fixed_step, float_step
from neurovae.simulate.emulator.plan import Plan, Stage, compile_network, run_batch
from neurovae.simulate.emulator.run import run_emulator
from neurovae.simulate.emulator.synapses import SYNAPSES, Synapse, SynapseSpec, register_synapse

__all__ = [
    "SYNAPSES",
    "FixedLIFParams",
    "FloatLIFParams",
    "LIFState",
    "Plan",
    "Stage",
    "Synapse",
    "SynapseSpec",
    "compile_network",
    "fixed_step",
    "float_step",
    "register_synapse",
    "run_batch",
    "run_emulator",
]
