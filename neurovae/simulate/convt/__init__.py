"""Transposed convolution for Lava: the ``ConvT`` Process (process.py) and its ProcessModels (models.py).

They live in their own package because Lava's compiler imports every module beside a Process when it looks
for that Process's models; here it finds only these two.
"""
