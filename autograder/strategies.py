"""Hypothesis strategies for the inputs the course's functions must handle.

Shapes include 0-d arrays and empty arrays; dtypes are float32 and float64; values reach the contract's
stability bound of ``|z| = 1e4``. Hypothesis shrinks towards small shapes and values near zero, so a
failure is reported on the simplest input that still shows it.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
MAX_ABS = 1e4
# Values where naive formulas break: exp overflows past ~709 (float64) and ~88 (float32).
EXTREMES = (0.0, 1.0, -1.0, 20.0, -20.0, 90.0, -90.0, 710.0, -710.0, 1e3, -1e3, MAX_ABS, -MAX_ABS)


def float_dtypes() -> st.SearchStrategy[np.dtype[Any]]:
    return st.sampled_from(FLOAT_DTYPES)


def values(dtype: np.dtype[Any], max_abs: float = MAX_ABS) -> st.SearchStrategy[float]:
    """Moderate values most of the time, with the extremes the contract promises to survive."""
    width: Literal[32, 64] = 32 if dtype == np.float32 else 64
    moderate = st.floats(-min(10.0, max_abs), min(10.0, max_abs), width=width)
    wide = st.floats(-max_abs, max_abs, width=width)
    extremes = st.sampled_from([v for v in EXTREMES if abs(v) <= max_abs])
    return st.one_of(moderate, wide, extremes)


def arrays(
    min_dims: int = 0,
    max_dims: int = 3,
    min_side: int = 0,
    max_side: int = 5,
    max_abs: float = MAX_ABS,
    dtypes: st.SearchStrategy[np.dtype[Any]] | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """Float arrays of any shape in the bounds (0-d and empty included by default)."""
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)
    return (dtypes or float_dtypes()).flatmap(lambda dtype: hnp.arrays(dtype, shapes, elements=values(dtype, max_abs)))


def large_value_arrays() -> st.SearchStrategy[np.ndarray]:
    """Arrays made mostly of extreme values: the inputs that overflow naive formulas."""

    def build(dtype: np.dtype[Any]) -> st.SearchStrategy[np.ndarray]:
        elements = st.sampled_from(EXTREMES) | st.floats(-MAX_ABS, MAX_ABS, width=32 if dtype == np.float32 else 64)
        shapes = hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=5)
        return hnp.arrays(dtype, shapes, elements=elements)

    return float_dtypes().flatmap(build)


def batches(max_abs: float = MAX_ABS) -> st.SearchStrategy[np.ndarray]:
    """2-D ``(batch, classes)`` arrays whose batch size differs from the number of classes.

    With a square array, a softmax taken over the wrong axis can still look right on some checks;
    with ``batch != classes`` it cannot.
    """
    shapes = st.tuples(st.integers(1, 6), st.integers(2, 6)).filter(lambda s: s[0] != s[1])
    return st.tuples(float_dtypes(), shapes).flatmap(
        lambda pair: hnp.arrays(pair[0], pair[1], elements=values(pair[0], max_abs))
    )


def away_from(array: np.ndarray, kink: float, margin: float) -> np.ndarray:
    """``array`` with values closer than ``margin`` to ``kink`` pushed ``margin`` away from it."""
    out = np.array(array, copy=True)
    near = np.abs(out - kink) < margin
    out[near] = kink + np.where(out[near] < kink, -margin, margin)
    return out


def alphas() -> st.SearchStrategy[float]:
    """Leaky-ReLU slopes: small positive numbers, as used in practice."""
    return st.sampled_from([0.01, 0.1, 0.2, 0.3])


def same_shape_arrays(
    count: int = 2,
    min_dims: int = 1,
    max_dims: int = 3,
    min_side: int = 1,
    max_side: int = 5,
    max_abs: float = MAX_ABS,
    dtypes: st.SearchStrategy[np.dtype[Any]] | None = None,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """``count`` float arrays of one shape and one dtype (predictions and targets, weights and gradients)."""

    def build(pair: tuple[np.dtype[Any], tuple[int, ...]]) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
        dtype, shape = pair
        one = hnp.arrays(dtype, shape, elements=values(dtype, max_abs))
        return st.tuples(*[one] * count)

    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)
    return st.tuples(float_dtypes() if dtypes is None else dtypes, shapes).flatmap(build)


def float64s() -> st.SearchStrategy[np.dtype[Any]]:
    return st.just(np.dtype(np.float64))


def logits_and_labels(
    max_abs: float = MAX_ABS, dtypes: st.SearchStrategy[np.dtype[Any]] | None = None
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """``(n, k)`` logits (``n != k``, so a reduction over the wrong axis shows) and integer labels ``(n,)``."""

    def build(pair: tuple[np.dtype[Any], tuple[int, int]]) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
        dtype, (n, k) = pair
        logits = hnp.arrays(dtype, (n, k), elements=values(dtype, max_abs))
        return st.tuples(logits, hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))

    shapes = st.tuples(st.integers(1, 6), st.integers(2, 6)).filter(lambda s: s[0] != s[1])
    return st.tuples(float_dtypes() if dtypes is None else dtypes, shapes).flatmap(build)


def layer_params(widths: list[int], max_abs: float = 1.0) -> st.SearchStrategy[list[tuple[np.ndarray, np.ndarray]]]:
    """float64 parameters ``[(W: (widths[i], widths[i+1]), b: (widths[i+1],))]`` of a multilayer perceptron."""
    elements = st.floats(-max_abs, max_abs)
    layers = [
        st.tuples(hnp.arrays(np.float64, (a, b), elements=elements), hnp.arrays(np.float64, b, elements=elements))
        for a, b in zip(widths[:-1], widths[1:], strict=True)
    ]
    return st.tuples(*layers).map(list)


def positive_definite_matrices(
    size: int, max_condition: float = 10.0
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """``(A, eigenvalues)``: a symmetric positive-definite ``A = Q diag(l) Q^T`` with ``1 <= l <= max_condition``.

    The rotation ``Q`` comes from a drawn matrix (QR), so ``A`` is not diagonal unless the draw shrinks to it.
    """
    eigenvalues = hnp.arrays(np.float64, size, elements=st.floats(1.0, max_condition)).map(np.sort)
    rotations = hnp.arrays(np.float64, (size, size), elements=st.floats(-1.0, 1.0)).map(lambda m: np.linalg.qr(m)[0])
    return st.tuples(rotations, eigenvalues).map(lambda pair: ((pair[0] * pair[1]) @ pair[0].T, pair[1]))
