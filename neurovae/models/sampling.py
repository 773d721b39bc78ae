r"""ESVAE's reparameterizable Poisson spike sampling (Zhan et al. 2024, eqs. 6-8).

Forward: ``z[t, i] = [u[t, i] < r[i]]`` with ``u ~ U(0, 1)``, so neuron ``i`` fires with probability
``r[i]`` at every step. Backward (surrogate, eq. 8):

.. math::

    \frac{\partial z^{t,i}}{\partial r^i} = \frac{1}{\alpha}\,[\,|r^i - u^{t,i}| < \alpha/2\,]
"""

from __future__ import annotations

import torch


class _PoissonSpikes(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rates: torch.Tensor, uniform: torch.Tensor, width: float) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(rates, uniform)
        ctx.width = width
        return (uniform < rates).to(rates.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # noqa: D102
        rates, uniform = ctx.saved_tensors
        box = ((rates - uniform).abs() < ctx.width / 2).to(grad_output.dtype) / ctx.width
        return grad_output * box, None, None


def poisson_spikes(rates: torch.Tensor, steps: int, width: float = 0.5,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Spike trains ``[T, N, d]`` firing at ``rates`` ``[N, d]``, differentiable w.r.t. the rates."""
    uniform = torch.rand((steps, *rates.shape), generator=generator, device=rates.device, dtype=rates.dtype)
    return _PoissonSpikes.apply(rates.unsqueeze(0).expand_as(uniform), uniform, width)
