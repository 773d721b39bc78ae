"""Lava process for Diehl & Cook's excitatory neurons: LIF with an adaptive threshold and a refractory period.

Lava's own ``LIF`` has a fixed threshold, so this process adds ``theta`` (raised at each spike, slowly
decaying) and the refractory counter. It has two input ports so that the sleep phase can scale the
excitatory (AMPA) input without touching the learned weights.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class AdaptiveLIF(AbstractProcess):
    """Excitatory layer: ``a_in`` (input synapses, scaled by ``ampa_scale``) + ``a_inh`` (lateral inhibition).

    Args:
        shape: Neurons, e.g. ``(100,)``.
        dv: Leak fraction per step, ``1 - exp(-dt * leak_scale / tau)``.
        threshold: Fixed part of the threshold (above rest).
        refractory_steps: Silent steps after a spike.
        theta_plus: Threshold increase per spike.
        theta_decay: Per-step factor of theta.
        ampa_scale: Factor on the ``a_in`` current.
        theta: Initial adaptive thresholds.
    """

    def __init__(self, *, shape: tuple[int, ...], dv: float, threshold: float, refractory_steps: int,
                 theta_plus: float, theta_decay: float, ampa_scale: float, theta: np.ndarray) -> None:
        super().__init__(shape=shape, dv=dv, threshold=threshold, refractory_steps=refractory_steps,
                         theta_plus=theta_plus, theta_decay=theta_decay, ampa_scale=ampa_scale, theta=theta)
        self.a_in = InPort(shape=shape)
        self.a_inh = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v = Var(shape=shape, init=0.0)
        self.refractory = Var(shape=shape, init=0)
        self.theta = Var(shape=shape, init=np.asarray(theta, dtype=float))
        self.dv = Var(shape=(1,), init=dv)
        self.threshold = Var(shape=(1,), init=threshold)
        self.refractory_steps = Var(shape=(1,), init=refractory_steps)
        self.theta_plus = Var(shape=(1,), init=theta_plus)
        self.theta_decay = Var(shape=(1,), init=theta_decay)
        self.ampa_scale = Var(shape=(1,), init=ampa_scale)
