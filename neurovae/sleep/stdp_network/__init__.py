"""Sleep in an STDP network (Tadros, Krishnan & Bazhenov 2019) on the Diehl & Cook (2015) network.

``params`` (validated records) -> ``dynamics`` (pure step functions) -> ``network`` (batched copies,
sequential learning, parallel testing) -> ``labels`` (labelling and classification) -> ``sleep`` (the sleep
phase) -> ``experiment`` (before/after-sleep sweeps). ``lava/`` runs the same network on Lava; it is not
imported here.
"""

from neurovae.sleep.stdp_network.network import DiehlCookNetwork
from neurovae.sleep.stdp_network.params import NetworkParams, Phase, SleepParams, StdpParameterError
from neurovae.sleep.stdp_network.sleep import sleep

__all__ = ["DiehlCookNetwork", "NetworkParams", "Phase", "SleepParams", "StdpParameterError", "sleep"]
