"""Spiking VAE models; importing this package registers each one in :data:`neurovae.registry.MODELS`."""

from neurovae.models import ann, cvae, esvae, fsvae, sae, vsc  # noqa: F401  (each registers its model)
from neurovae.models.outputs import VAEOutput

__all__ = ["VAEOutput"]
