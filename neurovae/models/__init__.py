"""Spiking VAE models; importing this package registers each one in :data:`neurovae.registry.MODELS`."""

from neurovae.models import esvae  # noqa: F401  (registers "esvae")
from neurovae.models.outputs import VAEOutput

__all__ = ["VAEOutput"]
