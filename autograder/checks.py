"""What a failed property says, and the comparisons every property shares.

A property raises :class:`PropertyFailure` with a message in plain words, and optionally what was
expected and what came back. The runner adds the smallest failing input that Hypothesis found. Every
comparison here runs in the grader process on plain arrays decoded by :mod:`autograder.protocol`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.protocol import NumpyScalar, Opaque


class PropertyFailure(Exception):
    """A property does not hold on one input; ``verdict`` is ``failed`` or ``error`` (it raised)."""

    def __init__(self, message: str, expected: Any = None, got: Any = None, verdict: str = "failed") -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.got = got
        self.verdict = verdict


@dataclass(frozen=True)
class Tolerance:
    """``|got - expected| <= atol + rtol * |expected|``, chosen by the dtype being checked."""

    rtol: float
    atol: float


TOLERANCES = {
    np.dtype(np.float64): Tolerance(rtol=1e-6, atol=1e-9),
    np.dtype(np.float32): Tolerance(rtol=1e-4, atol=1e-6),
}


def tolerance_for(dtype: np.dtype[Any]) -> Tolerance:
    return TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float32)])


def as_array(value: Any, function: str) -> np.ndarray:
    """The student's result as a plain array, or a failure saying what came back instead."""
    if isinstance(value, NumpyScalar):
        return value.value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise PropertyFailure(f"{function} returned an array of dtype {value.dtype}; expected floats")
        return value
    if isinstance(value, (list, tuple)):
        kind = type(value).__name__
        raise PropertyFailure(
            f"{function} returned a Python {kind}; return a NumPy array (np.asarray, or NumPy operations)"
        )
    if isinstance(value, Opaque):
        raise PropertyFailure(f"{function} returned an object of type {value.type_name}; expected a NumPy array")
    if isinstance(value, bool):  # a NumPy boolean scalar arrives as a Python bool (autograder.protocol)
        raise PropertyFailure(
            f"{function} returned a boolean (dtype bool), which is what a comparison such as x > 0 gives; "
            "return floats of the input's dtype instead, e.g. (x > 0).astype(x.dtype)"
        )
    if isinstance(value, (int, float)):
        raise PropertyFailure(
            f"{function} returned a Python {type(value).__name__}; expected a NumPy array of the input's shape"
        )
    raise PropertyFailure(f"{function} returned {type(value).__name__}; expected a NumPy array")


def assert_close(got: np.ndarray, expected: np.ndarray, tolerance: Tolerance, what: str) -> None:
    """``got`` has ``expected``'s shape and agrees with it within ``tolerance``, NaN and inf included."""
    if got.shape != expected.shape:
        raise PropertyFailure(f"{what}: shape {got.shape}, expected {expected.shape}", expected, got)
    got64 = got.astype(np.float64)
    expected64 = np.asarray(expected, dtype=np.float64)
    with np.errstate(all="ignore"):
        close = np.isclose(got64, expected64, rtol=tolerance.rtol, atol=tolerance.atol, equal_nan=True)
    if not np.all(close):
        where = tuple(int(i) for i in np.argwhere(~close)[0]) if got.ndim else ()
        position = f" (first difference at index {where})" if where else ""
        raise PropertyFailure(f"{what}{position}", expected, got)


def assert_finite(got: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(got)):
        raise PropertyFailure(f"{what}: the result contains NaN or infinity", got=got)


def describe(value: Any) -> str:
    """A short, readable rendering of an input or a result for feedback."""
    if isinstance(value, NumpyScalar):
        return repr(value)
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=8, threshold=24, edgeitems=3, separator=", ")
        suffix = f", dtype={value.dtype.name}" if value.dtype != np.float64 or value.size == 0 else ""
        shape = f"  # shape {value.shape}" if value.ndim != 1 else ""
        return f"array({text}{suffix}){shape}"
    return repr(value)[:500]
