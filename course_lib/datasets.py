"""Small synthetic data sets for the course notebooks.

These helpers are scaffolding, not the lesson: they make toy data reproducibly so that a notebook can
get on with what it teaches. Every function takes an explicit ``rng: numpy.random.Generator`` (the
course's only source of randomness), returns float64 arrays (integer labels where stated) and never
modifies its inputs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["noisy_polynomial", "noisy_sine", "spirals", "train_val_split"]


def noisy_sine(
    n: int,
    noise: float,
    rng: np.random.Generator,
    low: float = -np.pi,
    high: float = np.pi,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` points of ``y = sin(x) + noise * eps`` with ``x ~ U(low, high)``, ``eps ~ N(0, 1)``.

    Returns ``(x, y)``, both of shape ``(n,)``, sorted by ``x`` (which makes line plots tidy).
    ``noise=0`` gives the clean curve at random abscissae.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    x = np.sort(rng.uniform(low, high, size=n))
    y = np.sin(x) + noise * rng.standard_normal(n)
    return x, y


def noisy_polynomial(
    n: int,
    degree: int,
    noise: float,
    rng: np.random.Generator,
    low: float = -1.0,
    high: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` noisy points of a random polynomial of the given ``degree``.

    The coefficients ``c_0 … c_degree`` are drawn from ``N(0, 1)``; ``x ~ U(low, high)`` and
    ``y = sum_k c_k x**k + noise * eps`` with ``eps ~ N(0, 1)``. Returns ``(x, y)``, both of shape
    ``(n,)``, sorted by ``x``.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if degree < 0:
        raise ValueError(f"degree must be non-negative, got {degree}")
    coefs = rng.standard_normal(degree + 1)
    x = np.sort(rng.uniform(low, high, size=n))
    y = np.polynomial.polynomial.polyval(x, coefs) + noise * rng.standard_normal(n)
    return x, y


def spirals(
    n_per_class: int,
    n_classes: int,
    noise: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spirals, one arm per class (the classic "not linearly separable" toy task).

    Returns ``(x, labels)`` with ``x: (n_per_class * n_classes, 2)`` float64 and integer
    ``labels: (n_per_class * n_classes,)`` in ``0 … n_classes - 1``. ``noise`` is the standard
    deviation of the angular jitter (in radians).
    """
    if n_per_class < 0 or n_classes < 1:
        raise ValueError("need n_per_class >= 0 and n_classes >= 1")
    radius = np.tile(np.linspace(0.05, 1.0, n_per_class), n_classes)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    theta = labels * (2 * np.pi / n_classes) + radius * 4.0 + noise * rng.standard_normal(n_per_class * n_classes)
    x = np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1)
    return x, labels


def train_val_split(
    x: np.ndarray,
    y: np.ndarray,
    val_fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the examples (rows) with ``rng`` and split them into training and validation sets.

    ``x: (n, ...)`` and ``y: (n, ...)`` share their first axis. Returns
    ``(x_train, y_train, x_val, y_val)`` where the validation set holds ``round(val_fraction * n)``
    examples. The inputs are left untouched (fancy indexing makes copies).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} != {len(y)}")
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1], got {val_fraction}")
    n_val = int(round(val_fraction * len(x)))
    order = rng.permutation(len(x))
    val_idx, train_idx = order[:n_val], order[n_val:]
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]
