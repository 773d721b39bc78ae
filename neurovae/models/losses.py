r"""Functional losses shared by the models.

MMD with a multi-bandwidth RBF kernel (as in the ESVAE/FSVAE reference code):

.. math::

    \mathrm{MMD}^2(P, Q) = \mathbb{E}[k(p, p')] + \mathbb{E}[k(q, q')] - 2 \mathbb{E}[k(p, q)], \quad
    k(a, b) = \sum_{i=0}^{K-1} \exp\!\left(-\frac{\lVert a - b \rVert^2}{h\, m^{i - \lfloor K/2 \rfloor}}\right)

where ``h`` is the mean pairwise squared distance of the pooled samples (detached) and ``m`` the
kernel multiplier.
"""

from __future__ import annotations

import torch


def rbf_mmd2(source: torch.Tensor, target: torch.Tensor, kernels: int = 5, multiplier: float = 2.0) -> torch.Tensor:
    """Squared MMD between two sample sets ``[N, d]`` and ``[M, d]`` (biased estimator)."""
    pooled = torch.cat([source, target])
    sq_dist = torch.cdist(pooled, pooled).pow(2)
    count = pooled.shape[0]
    bandwidth = sq_dist.detach().sum() / (count * count - count)
    bandwidth = bandwidth.clamp_min(1e-12) / multiplier ** (kernels // 2)
    kernel = sum(torch.exp(-sq_dist / (bandwidth * multiplier**i)) for i in range(kernels))
    n = source.shape[0]
    xx, yy, xy = kernel[:n, :n].mean(), kernel[n:, n:].mean(), kernel[:n, n:].mean()
    return xx + yy - 2 * xy


def psp_mmd2(source: torch.Tensor, target: torch.Tensor, tau: float = 2.0) -> torch.Tensor:
    r"""FSVAE's MMD between two Bernoulli spike processes given by their probabilities ``[T, ...]`` (time first).

    With the kernel of a post-synaptic potential, ``MMD^2 = ||PSP(E z_q) - PSP(E z_p)||^2`` (Kamata et al. 2022),
    averaged over every element as the reference code does; ``PSP`` is the first-order filter
    ``s_t = s_{t-1} + (x_t - s_{t-1}) / tau``, applied here as one matrix product over time.
    """
    steps = source.shape[0]
    time = torch.arange(steps, device=source.device)
    lag = time[:, None] - time[None, :]
    kernel = torch.where(lag >= 0, (1 - 1 / tau) ** lag.clamp_min(0).to(source.dtype) / tau, 0.0).to(source.dtype)
    difference = torch.tensordot(kernel, source - target, dims=1)
    return difference.square().mean()
