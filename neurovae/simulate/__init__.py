"""Simulate netx networks: one stage, several backends behind one interface.

Backends (:mod:`neurovae.simulate.backends`, names in :data:`~neurovae.simulate.backends.BACKENDS`):

* ``lava``: neurovae's Lava process graph on the CPU (``Loihi2SimCfg``, ``floating_pt`` and ``fixed_pt``;
  :func:`run_lava`, :mod:`~neurovae.simulate.graph`);
* ``netx``: lava-dl's own ``netx.hdf5.Network`` (:func:`run_netx_stock`), the independent cross-check;
* ``emulator``: a batched PyTorch emulator, bit-exact with Lava fixed point (:mod:`neurovae.simulate.emulator`);
* ``torch``: the trained snnTorch model itself (:func:`~neurovae.simulate.backends.trace_stack`).

The one interface: :class:`~neurovae.simulate.backends.Backend` runs a network on a batch and returns a
:class:`SimulationResult` (per-layer spikes, voltages, readout); :class:`~neurovae.simulate.backends.Chain` runs
an encoder, samples the latent on the host (:mod:`~neurovae.simulate.host`) and runs the decoder; and
:func:`~neurovae.simulate.backends.rounds` hands batches to torchrun processes. ``neurovae run``
(:mod:`~neurovae.simulate.pipeline`, streaming to disk through :mod:`~neurovae.simulate.store`) and ``neurovae
energy`` are loops over them. A netx reset schedule (:mod:`~neurovae.simulate.schedule`) applies to every
backend but torch.

Importing this package does not import Lava: :func:`run_lava` and :func:`run_netx_stock` import it when
called, and the Lava-side modules (``graph``, ``reset_models``, ``convt``, ``recorders``) are only
imported by them.

Timing contract: with s_0 the input, layer l's synapse delivers at step t what layer l-1 sent at step t-1,
and its neuron adds its bias from step 0, i.e. ``I_l(t) = W_l s_{l-1}(t-1) + b_l`` with ``s_{l-1}(-1) = 0``.
An snnTorch stack without delays sees ``W_l s_{l-1}(t)`` instead: compare layer l's spikes here at step t + l
with snnTorch's at step t, or build the torch reference with the same one-step delays.

Example:
    >>> from neurovae.simulate import run_lava
    >>> result = run_lava("model.net", spikes, precision="float")  # doctest: +SKIP
"""

from neurovae.simulate.result import SimulationError, SimulationResult
from neurovae.simulate.run import run_lava, run_netx_stock

__all__ = ["SimulationError", "SimulationResult", "run_lava", "run_netx_stock"]
