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

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from neurovae.lava_runtime import require_lava
from neurovae.sleep.on_chip import FIXED_CURRENT_DECAY, TRACE_TAU, Connection, DeviceLayer

CHUNK_STEPS = 25
"""Steps per Lava ``run`` call: the progress bar moves, and the spike sinks hold, this many steps at a time."""

MEASURED = ((262_144, 12.0, 0.075), (2_458_624, 106.0, 2.28))
"""Lava's ``fixed_pt`` sleep on this project's 2-core CPU (one thread, shared with other jobs): (lowered entries per
direction, start-up seconds, seconds per step) of 16x16 and 28x28 CVAEs with 8-16 channels (``run_lava_sleep``,
20 / 80 and 5 / 15 steps). Both grow faster than the entries (start-up about linearly, a step as entries^1.5:
the learning engine evaluates the rule on every entry of every matrix, every step)."""

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


def estimated_seconds(layers: list[DeviceLayer], steps: int) -> float:
    """Wall-clock seconds a Lava sleep of ``layers`` should take: start-up plus ``steps`` steps.

    Power laws through the two :data:`MEASURED` sizes, in the lowered matrices' entries (extrapolated beyond them:
    a rough figure, within about a factor of 2 where measured).
    """
    entries = sum(layer.taps.size for layer in layers)
    (small, *low), (large, *high) = MEASURED
    start, step = (first * (entries / small) ** (math.log(last / first) / math.log(large / small))
                   for first, last in zip(low, high, strict=True))
    return start + steps * step


@contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Lava's worker processes, forked inside, ignore Ctrl-C; this process gets it once they are all started.

    A terminal's Ctrl-C reaches the whole process group: workers that died of it would never answer
    ``Runtime.stop()``, which then waits forever (a sleep interrupted so hung, its shared memory held). Here the
    workers inherit a handler that only notes the signal, and the caller gets its KeyboardInterrupt, and stops
    Lava, when they are up.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    noted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: noted.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if noted:
        raise KeyboardInterrupt


class LavaSleep(NamedTuple):
    """What a Lava sleep leaves: device weights after it and each layer's mean firing rate."""

    forward: list[np.ndarray]
    mirrors: list[np.ndarray]
    rates: list[float]


def run_lava_sleep(layers: list[DeviceLayer], spikes: np.ndarray, progress: Callable[[], None] = lambda: None,
                   chunk: int = CHUNK_STEPS) -> LavaSleep:
    """Sleep a chain of lowered layers on Lava; returns the device weights after the sleep and the firing rates.

    Layers lowered for fixed point (they carry a ``fixed_rule``) run on ``fixed_pt`` models, the others on
    ``floating_pt``: the precision is the lowering's, so the two cannot disagree. The run goes in pieces of
    ``chunk`` steps, so that ``progress`` counts steps as they are done and each layer's spikes are counted by a
    sink of ``chunk`` steps (a whole sleep's spikes need not be held). Lava's processes and shared memory are
    released however the run ends (an error, Ctrl-C).

    Args:
        layers: :func:`neurovae.sleep.on_chip.lower` of the sleeping layers.
        spikes: visible input spikes ``[T, n_0]`` (0/1).
        progress: called after every step.
        chunk: steps per ``run`` call.
    """
    require_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    fixed = layers[0].fixed_rule is not None
    chunk = max(1, min(chunk, len(spikes)))
    source = Source(data=spikes.T.astype(float))
    visible, forward, mirrors, sinks = source.s_out, [], [], []
    for layer in layers:
        dense = _learning_connection(layer.forward)
        size = layer.forward.weights.shape[0]
        # Lava's fixed-point LIF decays the current by (du + 1) / 4096
        neurons = LIF(shape=(size,), du=FIXED_CURRENT_DECAY - 1 if fixed else 1, dv=layer.decay,
                      vth=int(layer.threshold) if fixed else layer.threshold, bias_mant=0)
        back = _learning_connection(layer.mirror)
        sink = Sink(shape=(size,), buffer=chunk)
        visible.connect(dense.s_in)
        dense.a_out.connect(neurons.a_in)
        neurons.s_out.connect(dense.s_in_bap)
        neurons.s_out.connect(back.s_in)
        neurons.s_out.connect(sink.a_in)
        visible.connect(back.s_in_bap)
        forward.append(dense)
        mirrors.append(back)
        sinks.append(sink)
        visible = neurons.s_out
    spike_counts = np.zeros(len(layers))
    config = Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt")
    try:
        executable = source.compile(config)
        with _workers_ignore_ctrl_c():
            source.create_runtime(executable=executable)
        for start in range(0, len(spikes), chunk):
            steps = min(chunk, len(spikes) - start)
            source.run(condition=RunSteps(num_steps=steps))
            # the sinks write step t at (t - 1) % chunk: a run after whole chunks fills slots 0 .. steps - 1
            spike_counts += [np.count_nonzero(sink.data.get()[:, :steps]) for sink in sinks]
            for _ in range(steps):
                progress()
        neurons_per_layer = np.array([layer.forward.weights.shape[0] for layer in layers])
        return LavaSleep([p.weights.get() for p in forward], [p.weights.get() for p in mirrors],
                         (spike_counts / (neurons_per_layer * len(spikes))).tolist())
    finally:
        source.stop()
