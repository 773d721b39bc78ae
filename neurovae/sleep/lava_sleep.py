"""VAE-sleep on Lava's learning engine: ``LearningDense`` + ``Loihi2FLearningRule`` in ``Loihi2SimCfg`` on the CPU.

Each sleeping layer (:class:`~neurovae.sleep.on_chip.DeviceLayer`) becomes a forward learning connection
(visible -> hidden) into integrate-and-fire ``LIF`` neurons (``du`` = no current memory, ``dv = 0``, ``vth`` = the
layer's device threshold), whose spikes return through ``s_in_bap``; its decoder mirror is a second connection
(hidden -> visible) whose ``s_in_bap`` receives the visible spikes, with the mirrored ``dw`` string, so both move on
the same spike pairs. A one-step trace (time constant 1e-3: it decays to exactly 0 in one step) tells whether the
other side fired in the same step; the synapse tags ``tag_1`` keep the entries of a lowered convolution that are
no synapse from learning. ``Loihi2SimCfg`` runs ``floating_pt`` or ``fixed_pt`` models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from neurovae.lava_runtime import require_lava
from neurovae.sleep.on_chip import FIXED_CURRENT_DECAY, TRACE_TAU, Connection, DeviceLayer

if TYPE_CHECKING:
    from lava.proc.dense.process import LearningDense


def _learning_connection(connection: Connection) -> LearningDense:
    """The connection as a Lava process with its learning rule."""
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule
    from lava.proc.dense.process import LearningDense

    traces = {f"{name}_{key}": value for name, impulse in connection.impulses.items()
              for key, value in (("impulse", impulse), ("tau", TRACE_TAU))}
    rule = Loihi2FLearningRule(dw=connection.dw, t_epoch=1, **traces)
    tags = {} if connection.tags is None else {"tag_1": connection.tags}
    return LearningDense(weights=connection.weights, learning_rule=rule, **tags)


def run_lava_sleep(layers: list[DeviceLayer], spikes: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Sleep a chain of lowered layers on Lava; returns the forward and mirror device weights after the sleep.

    Layers lowered for fixed point (they carry a ``fixed_rule``) run on ``fixed_pt`` models, the others on
    ``floating_pt``: the precision is the lowering's, so the two cannot disagree.

    Args:
        layers: :func:`neurovae.sleep.on_chip.lower` of the sleeping layers.
        spikes: visible input spikes ``[T, n_0]`` (0/1).
    """
    require_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    fixed = layers[0].fixed_rule is not None
    source = RingBuffer(data=spikes.T.astype(float))
    visible, forward, mirrors = source.s_out, [], []
    for layer in layers:
        dense = _learning_connection(layer.forward)
        # Lava's fixed-point LIF decays the current by (du + 1) / 4096
        neurons = LIF(shape=(layer.forward.weights.shape[0],), du=FIXED_CURRENT_DECAY - 1 if fixed else 1, dv=0,
                      vth=int(layer.threshold) if fixed else layer.threshold, bias_mant=0)
        back = _learning_connection(layer.mirror)
        visible.connect(dense.s_in)
        dense.a_out.connect(neurons.a_in)
        neurons.s_out.connect(dense.s_in_bap)
        neurons.s_out.connect(back.s_in)
        visible.connect(back.s_in_bap)
        forward.append(dense)
        mirrors.append(back)
        visible = neurons.s_out
    source.run(condition=RunSteps(num_steps=len(spikes)),
               run_cfg=Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt"))
    try:
        return [p.weights.get() for p in forward], [p.weights.get() for p in mirrors]
    finally:
        source.stop()
