"""What stays on the host around a deployed network: input specs, prior sampling, decoding outputs.

An input SPEC names what to feed a network:

* ``dataset[:NAME[:SPLIT]]`` - images of a dataset (default: the one in the file's model config, test split),
  for a network with ``direct`` input encoding (an encoder);
* ``prior[:SEED]`` - latent spike trains from the prior kept in the file's ``/host`` arrays (a decoder), seeded:
  ESVAE's rates ``sigmoid(W z + b)``, ``z ~ N(0, I)``, then Poisson spikes; or FSVAE's autoregressive Bernoulli
  sampling from its prior MLP (:mod:`neurovae.neurons.autoregressive`);
* ``FILE.npy`` - an array ``[N, *input_shape, T]``, one sample ``[*input_shape, T]``, or ``N`` inputs
  ``[N, *input_shape]`` (images, say), each held for the run's steps. The network's input shape tells the last two
  apart; an array that reads both ways (``N == C == H == W``, say) is taken as ``N`` inputs: save one sample as
  ``[1, *input_shape, T]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurovae.netx import NetworkRecord
from neurovae.simulate.result import SimulationError, SimulationResult


def model_config(network: NetworkRecord) -> dict:
    """The model configuration stored with the network (empty for foreign files)."""
    return json.loads(network.model_config or "{}")


def latency(network: NetworkRecord) -> int:
    """Steps an input takes to reach the last layer: one per synapse (Lava delivers one step later)."""
    return len(network.spiking_layers)


def run_steps(network: NetworkRecord) -> int | None:
    """Steps to run per sample: the model's window ``T`` plus the pipeline's latency (None if T is unknown)."""
    return None if network.steps is None else network.steps + latency(network)


def pad_latency(network: NetworkRecord, spikes: np.ndarray) -> np.ndarray:
    """Spike trains ``[N, *shape, T]`` followed by ``latency`` silent steps, so that every step reaches the end."""
    silence = np.zeros((*spikes.shape[:-1], latency(network)), dtype=spikes.dtype)
    return np.concatenate([spikes, silence], axis=-1)


def poisson_spikes(rates: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """ESVAE's Poisson spike sampling on the host: ``[N, d]`` rates -> ``[N, d, T]`` 0/1 spikes."""
    return (rng.random((*rates.shape, steps)) < rates[..., None]).astype(np.float64)


def bernoulli_latent(arrays: dict[str, np.ndarray], prefix: str, context: np.ndarray | None, count: int, steps: int,
                     rng: np.random.Generator) -> np.ndarray:
    """FSVAE's autoregressive Bernoulli sampling on the host: latent spikes ``[N, C, T]``.

    Args:
        arrays: a file's host arrays holding the folded MLP written under ``prefix``.
        prefix: ``posterior`` (an encoder's file) or ``prior`` (a decoder's).
        context: the encoder's spikes ``[N, C, T]`` for the posterior, None for the prior.
        count: samples ``N``.
        steps: time steps ``T``.
        rng: draws which of the ``k`` candidates each latent spike is.
    """
    import torch

    from neurovae.neurons.autoregressive import CandidateNet

    net = CandidateNet.from_folded_arrays(arrays, prefix)
    choice = torch.from_numpy(rng.integers(net.candidates, size=(steps, count, net.latent)))
    inputs = None if context is None else torch.from_numpy(context).permute(2, 0, 1).double()
    return net.sample(inputs, choice).permute(1, 2, 0).numpy()


def prior_spikes(network: NetworkRecord, count: int, seed: int) -> np.ndarray:
    """Latent spike trains (bool) from the prior stored in ``network.host`` (ESVAE's bottleneck or FSVAE's prior)."""
    from neurovae.neurons.autoregressive import CandidateNet

    autoregressive = CandidateNet.stored_in(network.host, "prior")
    if "prior_weight" not in network.host and not autoregressive:
        raise SimulationError("this network stores no prior (no /host/prior_*); use --input FILE.npy "
                              "or export the decoder of an ESVAE or FSVAE run")
    if network.steps is None:
        raise SimulationError("this network does not state its time steps; pass --steps T")
    rng = np.random.default_rng(seed)
    if autoregressive:
        spikes = bernoulli_latent(network.host, "prior", None, count, network.steps, rng)
    else:
        weight, bias = network.host["prior_weight"], network.host["prior_bias"]
        rates = 1.0 / (1.0 + np.exp(-(rng.standard_normal((count, weight.shape[1])) @ weight.T + bias)))
        spikes = poisson_spikes(rates, network.steps, rng)
    return pad_latency(network, spikes.astype(bool))  # a byte per spike: a large -n stays small


def dataset_images(network: NetworkRecord, spec: str, count: int, data_dir: str | None) -> np.ndarray:
    """``[N, C, H, W]`` images for ``dataset[:NAME[:SPLIT]]``."""
    from neurovae.data import load_dataset

    _, *rest = spec.split(":")
    data = model_config(network).get("data", {})
    name = rest[0] if rest and rest[0] else data.get("dataset")
    split = rest[1] if len(rest) > 1 else "test"
    if not name:
        raise SimulationError("the file names no dataset; use --input dataset:NAME[:SPLIT]")
    size = network.input_shape[-1] if len(network.input_shape) == 3 else None
    dataset = load_dataset(name, data_dir or data.get("root"), split, image_size=size, limit=count)
    return np.stack([dataset[i][0].numpy() for i in range(len(dataset))])  # float32, as the dataset holds them


def resolve_input(spec: str, network: NetworkRecord, count: int, seed: int, data_dir: str | None) -> np.ndarray:
    """The input array ``[N, *input_shape, T]`` (or ``[N, *input_shape]`` for static images) for SPEC."""
    if spec == "dataset" or spec.startswith("dataset:"):
        if network.input_encoding != "direct":
            raise SimulationError("--input dataset needs a network with direct (image) input, like an encoder; "
                                  "this one takes spikes")
        return dataset_images(network, spec, count, data_dir)
    if spec == "prior" or spec.startswith("prior:"):
        return prior_spikes(network, count, int(spec.split(":")[1]) if ":" in spec else seed)
    path = Path(spec)
    if path.suffix != ".npy":
        raise SimulationError(f"unknown --input {spec!r}; use dataset[:NAME[:SPLIT]], prior[:SEED] or FILE.npy")
    if not path.is_file():
        raise SimulationError(f"input file {path} not found")
    return npy_input(path, network)[:count]


def npy_input(path: Path, network: NetworkRecord) -> np.ndarray:
    """An .npy file's inputs ``[N, *input_shape, T]`` or ``[N, *input_shape]``, by the rule in the module docstring."""
    try:
        array = np.load(path)
    except (OSError, ValueError) as error:
        raise SimulationError(f"{path} is not a readable .npy array ({error})") from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise SimulationError(f"{path} is an .npz archive, not one .npy array; save the inputs with np.save")
    shape = tuple(network.input_shape)
    if array.ndim != len(shape) + 1:
        return array  # [N, *input_shape, T], as check_inputs will see
    if array.shape[1:] == shape:
        return array
    if array.shape[:-1] == shape:
        return array[None]
    dims = ", ".join(map(str, shape))
    raise SimulationError(f"{path} holds an array of shape {tuple(array.shape)}; this network takes [N, {dims}] "
                          f"inputs, one sample [{dims}, T] or [N, {dims}, T] samples")


def decoded_images(network: NetworkRecord, result: SimulationResult) -> np.ndarray | None:
    """Images from a voltage readout whose model output is ``voltage_tanh`` (an ESVAE decoder), else None."""
    if result.readout != "voltage" or model_config(network).get("output") != "voltage_tanh":
        return None
    return np.tanh(result.readout_voltage / network.weight_scale)


def output_window(network: NetworkRecord, result: SimulationResult) -> np.ndarray:
    """Spikes ``[N, d, T]`` of the last layer over the window's last ``T`` steps (past the pipeline's latency)."""
    spikes = result.spikes[network.spiking_layers[-1]]
    window = network.steps or spikes.shape[-1]
    return spikes.reshape(spikes.shape[0], -1, spikes.shape[-1])[..., -window:]


def firing_rates(network: NetworkRecord, result: SimulationResult) -> np.ndarray:
    """Firing rates ``[N, d]`` of the last layer over the window's last ``T`` steps (an ESVAE encoder's rates)."""
    return output_window(network, result).mean(-1)


def posterior_spikes(encoder: NetworkRecord, decoder: NetworkRecord, result: SimulationResult,
                     rng: np.random.Generator) -> np.ndarray:
    """The decoder's input after an encoder run, latency padded.

    FSVAE's autoregressive Bernoulli sampling from the encoder's spikes when the encoder's file holds the posterior
    MLP, else Poisson spikes at the encoder's rates (ESVAE).
    """
    from neurovae.neurons.autoregressive import CandidateNet

    if CandidateNet.stored_in(encoder.host, "posterior"):
        spikes = output_window(encoder, result).astype(np.float64)
        return pad_latency(decoder, bernoulli_latent(encoder.host, "posterior", spikes, spikes.shape[0],
                                                     spikes.shape[-1], rng))
    window = decoder.steps or encoder.steps or result.steps
    return pad_latency(decoder, poisson_spikes(firing_rates(encoder, result), window, rng))
