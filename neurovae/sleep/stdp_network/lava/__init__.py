"""The Diehl & Cook network on Lava (CPU simulation): imported only by code that runs Lava."""
