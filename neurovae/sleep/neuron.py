r"""Integrate-and-fire step used during sleep, equal to Lava's LIF process with ``du = 1``.

.. math::

    v_t = (1 - \lambda)\, v_{t-1} + I_t, \qquad s_t = [v_t > \vartheta], \qquad v_t \leftarrow 0 \text{ where } s_t

``leak`` = 0 is the plain integrate-and-fire neuron of Talafha et al. 2020 (Algorithm 1); Lava's ``dv`` is
``leak`` and ``vth`` is the threshold, so a Lava run and this step agree exactly in floating point.
"""

from __future__ import annotations

import torch


def if_step(voltage: torch.Tensor, current: torch.Tensor, threshold: float | torch.Tensor,
            leak: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One step: integrate ``current``, fire above ``threshold``, reset fired neurons to zero.

    Args:
        voltage: membrane potentials after the previous step.
        current: synaptic input of this step (same shape).
        threshold: firing threshold (scalar or broadcastable tensor).
        leak: fraction of the voltage lost per step, in [0, 1].

    Returns:
        ``(spikes, voltage)``: spikes as 0/1 floats and the voltage after the reset.

    Example:
        >>> s, v = if_step(torch.zeros(2), torch.tensor([0.5, 2.0]), 1.0)
        >>> s.tolist(), v.tolist()
        ([0.0, 1.0], [0.5, 0.0])
    """
    voltage = (1.0 - leak) * voltage + current
    spikes = (voltage > threshold).to(voltage.dtype)
    return spikes, voltage * (1.0 - spikes)
