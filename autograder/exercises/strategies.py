"""Hypothesis strategies for the inputs the course's functions must handle.

Shapes include 0-d arrays and empty arrays; dtypes are float32 and float64 (:func:`in_float_dtypes` gives
both to a strategy built in float64); values reach the contract's stability bound of ``|z| = 1e4``, and
quantities it leaves unbounded are drawn at many orders of magnitude (:func:`at_any_magnitude`).
Hypothesis shrinks towards small shapes and values near zero, and the runner cuts a failing example down
further (:mod:`autograder.grading.shrinking`), so a failure is reported on the simplest input that still
shows it.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.sandbox.protocol import NamedCallable

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


def finite_float64(max_abs: float) -> st.SearchStrategy[float]:
    """Finite float64 values in ``[-max_abs, max_abs]``: inputs of layers, weights and data sets."""
    return st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False, width=64)


def float64_arrays(shape: tuple[int, ...], max_abs: float = 10.0) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=finite_float64(max_abs))


def generators() -> st.SearchStrategy[NamedCallable]:
    """A seeded ``numpy.random.Generator`` for student code, drawn by its seed (it travels by name)."""
    return st.integers(0, 2**32 - 1).map(lambda seed: NamedCallable("rng", seed))


def float64_blocks(shapes: list[tuple[int, ...]], max_abs: float = 10.0) -> st.SearchStrategy[list[np.ndarray]]:
    """Float64 arrays of the given shapes, drawn as one flat array and cut into pieces.

    Hypothesis draws one array of any size about as fast as one small array, so drawing the inputs of a
    function together (a batch, its weights and biases) is several times faster than drawing them apart,
    and still shrinks every value towards zero.
    """
    sizes = [int(np.prod(shape)) for shape in shapes]
    bounds = np.cumsum([0, *sizes])

    def cut(flat: np.ndarray) -> list[np.ndarray]:
        return [flat[a:b].reshape(shape).copy() for a, b, shape in zip(bounds, bounds[1:], shapes, strict=False)]

    return float64_arrays((int(bounds[-1]),), max_abs).map(cut)


def layer_widths(max_layers: int = 3, max_width: int = 4) -> st.SearchStrategy[list[int]]:
    """Widths ``[d_0, d_1, ..., d_L]`` of a network with 1 to ``max_layers`` layers."""
    return st.lists(st.integers(1, max_width), min_size=2, max_size=max_layers + 1)


def layer_shapes(widths: list[int]) -> list[tuple[int, ...]]:
    """The shapes ``[(d_0, d_1), (d_1,), (d_1, d_2), (d_2,), ...]`` of ``W_1, b_1, W_2, b_2, ...``."""
    return [shape for d_in, d_out in zip(widths, widths[1:], strict=False) for shape in ((d_in, d_out), (d_out,))]


def as_params(arrays: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[W_1, b_1, W_2, b_2, ...]`` paired into ``params = [(W_1, b_1), (W_2, b_2), ...]``."""
    return list(zip(arrays[::2], arrays[1::2], strict=True))


def network_params(widths: list[int], max_abs: float = 1.0) -> st.SearchStrategy[list[tuple[np.ndarray, np.ndarray]]]:
    """``params = [(W_l: (d_{l-1}, d_l), b_l: (d_l,))]`` for the given widths, first layer first."""
    return float64_blocks(layer_shapes(widths), max_abs).map(as_params)


def float64s() -> st.SearchStrategy[np.dtype[Any]]:
    return st.just(np.dtype(np.float64))


def cast_floats(value: Any, dtype: np.dtype[Any]) -> Any:
    """``value`` with every float array in it (inside lists, tuples and dicts too) cast to ``dtype``.

    Integer and boolean arrays (labels, masks), numbers and named callables are left as they are.
    """
    if isinstance(value, np.ndarray):
        return value.astype(dtype) if value.dtype.kind == "f" else value
    if isinstance(value, list):
        return [cast_floats(item, dtype) for item in value]
    if isinstance(value, tuple):
        return tuple(cast_floats(item, dtype) for item in value)
    if isinstance(value, dict):
        return {key: cast_floats(item, dtype) for key, item in value.items()}
    return value


def in_float_dtypes(examples: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The examples, each in one drawn float dtype: every float array in it (a network's params included) cast
    to float64 or to float32, the two the contract allows wherever it says "the input's float dtype".

    Drawn from examples built in float64, so a strategy that draws float64 alone gets float32 by wrapping it;
    shrinks towards float64.
    """
    return st.tuples(examples, float_dtypes()).map(lambda pair: cast_floats(pair[0], pair[1]))


# Orders of magnitude a quantity the contract leaves unbounded (a validation loss) may take: tiny improvements
# and huge values both occur in real training curves. Shrinks towards 1, the scale that is easiest to read.
MAGNITUDES = (1.0, 1e-6, 1e6, 1e-12, 1e12, 1e30)


def magnitudes() -> st.SearchStrategy[float]:
    return st.sampled_from(MAGNITUDES)


def at_any_magnitude(values: st.SearchStrategy[list[float]]) -> st.SearchStrategy[list[float]]:
    """Lists of non-negative values multiplied by one drawn :data:`MAGNITUDES` factor: order and ties kept."""
    return st.tuples(values, magnitudes()).map(lambda pair: [value * pair[1] for value in pair[0]])


SCALES = ("small integers", "moderate", "extremes")


def seeded_values(rng: np.random.Generator, size: tuple[int, ...], scale: str, max_abs: float) -> np.ndarray:
    """float64 values of one of the :data:`SCALES`, never beyond ``max_abs``: integers in [-3, 3], normal
    values of standard deviation 5, or an even mix of the :data:`EXTREMES` and uniform values (the first two
    clipped to ``max_abs`` where it is smaller)."""
    if scale == "small integers":
        return np.clip(rng.integers(-3, 4, size).astype(np.float64), -max_abs, max_abs)
    if scale == "moderate":
        return np.clip(rng.normal(0.0, 5.0, size), -max_abs, max_abs)
    extremes = np.array([v for v in EXTREMES if abs(v) <= max_abs])
    return np.where(rng.random(size) < 0.5, rng.choice(extremes, size), rng.uniform(-max_abs, max_abs, size))


def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**32 - 1)


def seeded_arrays(
    count: int = 1,
    min_dims: int = 1,
    max_dims: int = 2,
    min_side: int = 1,
    max_side: int = 4,
    max_abs: float = MAX_ABS,
    dtypes: st.SearchStrategy[np.dtype[Any]] | None = None,
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """``count`` float arrays of one drawn shape and dtype, with values made from a drawn seed.

    Drawing arrays element by element costs Hypothesis milliseconds an example, more than most checks;
    this draws a shape, a scale and a seed. The scales shrink towards small integers (failures that are
    easy to read), then moderate values, then extremes (the inputs that break naive formulas).
    """
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)

    def build(shape: tuple[int, ...], dtype: np.dtype[Any], scale: str, seed: int) -> tuple[np.ndarray, ...]:
        made = seeded_values(np.random.default_rng(seed), (count, *shape), scale, max_abs)
        return tuple(np.asarray(part, dtype=dtype) for part in made)

    return st.builds(build, shapes, float_dtypes() if dtypes is None else dtypes, st.sampled_from(SCALES), seeds())


def logits_and_labels(
    max_abs: float = MAX_ABS, dtypes: st.SearchStrategy[np.dtype[Any]] | None = None
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """``(n, k)`` logits (``n != k``, so a reduction over the wrong axis shows) and integer labels ``(n,)``
    in ``0 .. k-1``, made from a drawn seed (see :func:`seeded_arrays`)."""

    def build(shape: tuple[int, int], dtype: np.dtype[Any], scale: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        logits = seeded_values(rng, shape, scale, max_abs).astype(dtype)
        return logits, rng.integers(0, shape[1], shape[0])

    shapes = st.tuples(st.integers(1, 6), st.integers(2, 6)).filter(lambda s: s[0] != s[1])
    return st.builds(build, shapes, float_dtypes() if dtypes is None else dtypes, st.sampled_from(SCALES), seeds())
