"""LIF with a lower bound on the voltage for Lava: the ``LIFResetBounded`` Process (process.py) and its models.

Own package for the same reason as :mod:`neurovae.simulate.convt`: Lava's compiler imports every module beside
a Process when it looks for that Process's models.
"""
