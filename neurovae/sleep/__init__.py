"""Sleep: unsupervised STDP phases run on a spiking copy of a trained network.

``neuron``/``encoding``/``stdp`` hold the pure pieces every sleep rule shares (integrate-and-fire step,
Bernoulli input spikes, the weight-dependent STDP update); the VAE-sleep of Talafha et al. 2020 is built
from them in ``convert`` (ANN <-> SNN), ``vae_sleep`` (the batched PyTorch sleep), ``on_chip`` (the layers
lowered to Loihi's learning connections, and the bit-exact emulation of Lava's fixed point, whose integer rule
is ``fixed_point``) and ``lava_sleep`` (Lava's learning engine); ``run`` drives them, ``report`` says what a sleep
did, and ``search`` / ``search_output`` search its settings on Optuna. ``stdp_network`` is the STDP network of
Tadros et al. 2019.
"""
