"""Floating-point ProcessModel of :class:`AdaptiveLIF` on Lava's CPU backend.

The step itself is :func:`neurovae.sleep.stdp_network.dynamics.excitatory_step`, the function the PyTorch
network uses, so the two cannot drift apart; this model only moves Lava's port data in and out.
"""

from __future__ import annotations

import numpy as np
import torch
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurovae.sleep.stdp_network.dynamics import ExcitatoryDynamics, ExcitatoryState, excitatory_step
from neurovae.sleep.stdp_network.lava.process import AdaptiveLIF


@implements(proc=AdaptiveLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyAdaptiveLIFFloat(PyLoihiProcessModel):
    """Float model: receive both currents, run the shared excitatory step, send the spikes."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_inh: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    refractory: np.ndarray = LavaPyType(np.ndarray, int)
    theta: np.ndarray = LavaPyType(np.ndarray, float)
    dv: np.ndarray = LavaPyType(np.ndarray, float)
    threshold: np.ndarray = LavaPyType(np.ndarray, float)
    refractory_steps: np.ndarray = LavaPyType(np.ndarray, int)
    theta_plus: np.ndarray = LavaPyType(np.ndarray, float)
    theta_decay: np.ndarray = LavaPyType(np.ndarray, float)
    ampa_scale: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        """One time step of the adaptive-threshold LIF."""
        current = self.ampa_scale.item() * self.a_in.recv() + self.a_inh.recv()
        dyn = ExcitatoryDynamics(dv=self.dv.item(), threshold=self.threshold.item(),
                                 refractory_steps=int(self.refractory_steps.item()),
                                 theta_plus=self.theta_plus.item(), theta_decay=self.theta_decay.item())
        state = ExcitatoryState(v=torch.from_numpy(self.v), refractory=torch.from_numpy(self.refractory),
                                theta=torch.from_numpy(self.theta))
        spikes, state = excitatory_step(torch.from_numpy(current), state, dyn)
        self.v[:] = state.v.numpy()
        self.refractory[:] = state.refractory.numpy()
        self.theta[:] = state.theta.numpy()
        self.s_out.send(spikes.numpy())
