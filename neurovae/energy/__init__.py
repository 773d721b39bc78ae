"""Energy model: operation counts from runs on any backend, priced with sourced per-operation energies.

Data flow: a netx network + inputs -> :func:`count_chain` (PyTorch, Lava or the emulator; batch by batch)
-> :class:`LayerCounts` per layer -> :class:`EnergyReport` with a spiking profile (``loihi1`` in
``neurovae/profiles/energy/``) and an ANN profile (``ann_horowitz2014``) -> table, JSON and PNG (:func:`write_reports`).
"""

from neurovae.energy.connectivity import fan_in, fan_out
from neurovae.energy.counts import LayerCounts, OperationCounter
from neurovae.energy.measure import count_chain, energy_reports
from neurovae.energy.profiles import EnergyProfile, EnergyProfileError, load_profile
from neurovae.energy.report import EnergyReport, plot_reports, write_reports

__all__ = [
    "EnergyProfile", "EnergyProfileError", "EnergyReport", "LayerCounts", "OperationCounter", "count_chain",
    "energy_reports", "fan_in", "fan_out", "load_profile", "plot_reports", "write_reports",
]
