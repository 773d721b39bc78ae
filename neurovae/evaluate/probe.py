"""Linear probe: how linearly decodable the class is from a latent code (e.g. ESVAE firing rates)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurovae.errors import NeurovaeError

ArrayLike = np.ndarray | torch.Tensor


def _as_numpy(x: ArrayLike) -> np.ndarray:
    """Detached CPU NumPy view of a tensor or array."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def linear_probe_accuracy(
    train_x: ArrayLike, train_y: ArrayLike, test_x: ArrayLike, test_y: ArrayLike, seed: int = 0
) -> float:
    """Test accuracy of a multinomial logistic regression trained on standardized latent features.

    Standardizing first (``z = (x - mean_train) / std_train``) puts rates, potentials and Gaussian codes
    on one scale, so the default L2 penalty (C = 1) means the same for every model; constant features
    (neurons that never fire) are left at zero. ``max_iter`` is high enough for L-BFGS to converge on
    10k samples x 128 features.

    Args:
        train_x: Training features ``[N, D]``.
        train_y: Training labels ``[N]``.
        test_x: Test features ``[M, D]``.
        test_y: Test labels ``[M]``.
        seed: Random state of the solver.

    Returns:
        The fraction of test samples classified correctly, in [0, 1].
    """
    xs = [_as_numpy(v) for v in (train_x, test_x)]
    ys = [_as_numpy(v).reshape(-1) for v in (train_y, test_y)]
    for x, y, name in zip(xs, ys, ("train", "test"), strict=True):
        if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
            raise NeurovaeError(f"linear probe: {name} features {x.shape} and labels {y.shape} do not match")
    if xs[0].shape[1] != xs[1].shape[1]:
        raise NeurovaeError(f"linear probe: train has {xs[0].shape[1]} features, test {xs[1].shape[1]}")
    if len(np.unique(ys[0])) < 2:
        raise NeurovaeError("linear probe: the training labels contain a single class")
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    classifier.fit(xs[0].astype(np.float64), ys[0])
    return float(classifier.score(xs[1].astype(np.float64), ys[1]))
