r"""Threshold-dependent batch normalization (tdBN, Zheng et al. 2021) and its folding for export.

tdBN normalizes each channel over batch, space *and time* and scales by ``alpha * V_th`` so that
pre-activations are matched to the firing threshold:

.. math::

    \hat x = \alpha V_{th} \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \gamma + \beta_{bn}

With time folded into the batch (``[T*N, C, ...]``) the statistics of ``F.batch_norm`` are exactly
tdBN's, so this module is ``BatchNorm`` with the ``alpha * V_th`` factor. At inference the affine map
folds into the preceding synapse (:func:`fold_into_synapse`), which is what export writes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neurovae import distributed


class TDBatchNorm(nn.BatchNorm1d):
    """tdBN over ``[B, C, *spatial]`` (B = time × batch); ``alpha * threshold`` scales the output."""

    def __init__(self, num_features: int, threshold: float, alpha: float = 1.0, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.gain = alpha * threshold

    def _check_input_dim(self, input: torch.Tensor) -> None:  # noqa: A002 - torch's signature
        if input.dim() < 2:
            raise ValueError(f"tdBN expects [B, C, ...], got shape {tuple(input.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x`` over every dimension but the channel one."""
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight * self.gain, self.bias,
                                False, 0.0, self.eps)
        scale, shift = self._batch_scale_shift(x)
        return x * scale + shift

    def window(self, prefix: torch.Tensor, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalize ``data`` ``[T*N, C, ...]`` and a ``prefix`` ``[k, C, ...]`` that precedes every sample alike.

        In training the batch statistics come from ``data`` alone: the steps that carry the input, the window
        the model is read over; the prefix is the same in every sample and would only dilute them.
        """
        if not self.training:
            return self(prefix), self(data)
        scale, shift = self._batch_scale_shift(data)
        return prefix * scale + shift, data * scale + shift

    def _batch_scale_shift(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training-mode map ``x -> scale x + shift`` from ``data``'s batch statistics; updates the running ones.

        ``scale`` and ``shift`` are shaped to broadcast over ``[B, C, ...]``. The running statistics are a
        bias-corrected moving average: batch ``n`` enters with weight ``max(momentum, 1/n)``, so they are the
        mean of the batches seen until ``1/n`` falls below the momentum, and PyTorch's exponential average after.
        With the plain average from the placeholder start (mean 0, variance 1), a model evaluated after a few
        dozen batches still normalizes partly with the placeholder. In a data-parallel group the statistics are the
        global batch's (:mod:`neurovae.distributed`).
        """
        var, mean, count = distributed.batch_statistics(data)
        with torch.no_grad():
            self.num_batches_tracked += 1
            weight = torch.clamp(1.0 / self.num_batches_tracked.to(mean.dtype), min=self.momentum)
            self.running_mean.lerp_(mean, weight)
            self.running_var.lerp_(var * count / max(count - 1, 1), weight)
        scale = self.weight * self.gain * torch.rsqrt(var + self.eps)
        shape = (1, -1, *[1] * (data.dim() - 2))
        return scale.reshape(shape), (self.bias - mean * scale).reshape(shape)

    def scale_shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel ``(scale, shift)`` of the inference-time map ``x -> scale * x + shift``.

        (Not named ``affine``: ``nn.BatchNorm``'s ``affine`` flag is an instance attribute that would hide it.)
        """
        return batch_norm_scale_shift(self, self.gain)

    def extra_repr(self) -> str:
        """Shown by print(module)."""
        return f"{self.num_features}, gain={self.gain}, eps={self.eps}, momentum={self.momentum}"


def batch_norm_scale_shift(norm: nn.modules.batchnorm._BatchNorm,
                           gain: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(scale, shift)`` of a batch norm's inference-time map, times ``gain`` (tdBN's ``alpha V_th``).

    Only running statistics fold into a synapse: a norm without them (``track_running_stats=False``) normalizes
    every batch by its own statistics, which no fixed synapse reproduces.
    """
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError(f"{type(norm).__name__} has no running statistics (track_running_stats=False), "
                         "so it cannot be folded into the synapse")
    weight = norm.weight if norm.weight is not None else torch.ones_like(norm.running_var)
    bias = norm.bias if norm.bias is not None else torch.zeros_like(norm.running_mean)
    scale = weight * gain / torch.sqrt(norm.running_var + norm.eps)
    return scale, bias - norm.running_mean * scale


def fold_into_synapse(weight: torch.Tensor, bias: torch.Tensor | None,
                      norm: nn.modules.batchnorm._BatchNorm | None,
                      out_axis: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(weight, bias)`` of one synapse with the inference-time batch norm (tdBN or plain) folded in.

    Args:
        weight: synapse weight; output channels along ``out_axis`` (0 for Linear/Conv2d, 1 for
            ConvTranspose2d).
        bias: synapse bias or None.
        norm: the tdBN (or ``nn.BatchNorm1d``/``2d``) after the synapse, or None.
        out_axis: axis of ``weight`` that indexes output channels.

    The model is not changed; new tensors are returned (export never changes the model).
    """
    out_channels = weight.shape[out_axis]
    if bias is None:
        bias = torch.zeros(out_channels, dtype=weight.dtype, device=weight.device)
    else:
        bias = bias.detach().clone()
    weight = weight.detach().clone()
    if norm is None:
        return weight, bias
    pair = norm.scale_shift() if isinstance(norm, TDBatchNorm) else batch_norm_scale_shift(norm)
    scale, shift = (t.detach() for t in pair)
    shape = [1] * weight.dim()
    shape[out_axis] = out_channels
    return weight * scale.reshape(shape), bias * scale + shift
