"""Simulate netx networks in Lava (CPU, ``Loihi2SimCfg``, ``floating_pt`` and ``fixed_pt``).

Importing this package does not import Lava: :func:`run_lava` and :func:`run_netx_stock` import it when
called, and the Lava-side modules (``graph``, ``reset_models``, ``convt``) are only
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
