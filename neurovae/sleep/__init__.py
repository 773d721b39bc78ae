"""Sleep: unsupervised STDP phases run on a spiking copy of a trained network.

``neuron``/``encoding``/``stdp`` hold the pure pieces every sleep rule shares (integrate-and-fire step,
Bernoulli input spikes, the weight-dependent STDP update); the VAE-sleep of Talafha et al. 2020 is built
from them in ``convert`` (ANN <-> SNN), ``torch_sleep`` (batched) and ``lava_sleep`` (Lava's learning engine).
"""
