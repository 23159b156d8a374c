"""What a failed property says, and the comparisons every property shares.

A property raises :class:`PropertyFailure` with a message in plain words, and optionally what was
expected and what came back. The runner adds the smallest failing input that Hypothesis found. Every
comparison here runs in the grader process on plain arrays decoded by :mod:`autograder.sandbox.protocol`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.grading.report import Verdict
from autograder.sandbox.protocol import NumpyScalar, Opaque


class PropertyFailure(Exception):
    """A property does not hold on one input; ``verdict`` is ``failed`` or ``error`` (it raised).

    ``observed`` names what the failure showed (one of :data:`OBSERVATIONS`), where the code that found it
    knows; otherwise :func:`observe` works it out from the message and the values. The feedback's hint is
    chosen by it (``Property.hints``).
    """

    def __init__(
        self,
        message: str,
        expected: Any = None,
        got: Any = None,
        verdict: Verdict = Verdict.FAILED,
        observed: str | None = None,
        raised: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.got = got
        self.verdict = verdict
        self.observed = observed
        self.raised = raised  # the name of the exception the student's code raised, for an ``error``


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
    if isinstance(value, bool):  # a NumPy boolean scalar arrives as a Python bool (autograder.sandbox.protocol)
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


# What a failure showed. A property's hint may depend on it (``Property.hints``): a dtype hint for integers is
# not the one for a float32 input promoted to float64, and an overflow is not a sum over the wrong axis.
INTEGER_RESULT = "integer_result"  # integers or booleans where floats of the input's dtype were expected
PROMOTED_TO_FLOAT64 = "promoted_to_float64"  # float64 for a float32 input
OTHER_DTYPE = "other_dtype"  # any other dtype than the input's
OVERFLOW = "overflow"  # NumPy raised "overflow encountered" (exp of a large number, say)
ZERO_BY_ZERO = "zero_by_zero"  # NumPy raised "invalid value encountered": 0/0, inf/inf, inf - inf
DIVIDE_BY_ZERO = "divide_by_zero"  # NumPy raised "divide by zero encountered": x/0, log(0)
NOT_FINITE = "not_finite"  # NaN or infinity in the result where the true value is finite
WRONG_VALUE = "wrong_value"  # finite values that are not the expected ones
OBSERVATIONS = (
    INTEGER_RESULT,
    PROMOTED_TO_FLOAT64,
    OTHER_DTYPE,
    OVERFLOW,
    ZERO_BY_ZERO,
    DIVIDE_BY_ZERO,
    NOT_FINITE,
    WRONG_VALUE,
)
_NUMPY_ERRORS = (
    ("overflow encountered", OVERFLOW),
    ("invalid value encountered", ZERO_BY_ZERO),
    ("divide by zero encountered", DIVIDE_BY_ZERO),
)


def observed_dtype(got: np.dtype[Any], want: np.dtype[Any]) -> str:
    """What a wrong dtype shows: integers (or booleans), a float32 input promoted to float64, or another dtype."""
    if np.dtype(got).kind in "iub":
        return INTEGER_RESULT
    if np.dtype(got) == np.float64 and np.dtype(want) == np.float32:
        return PROMOTED_TO_FLOAT64
    return OTHER_DTYPE


def _numbers(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array if it is made of numbers (an array, a NumPy scalar, a number)."""
    if isinstance(value, NumpyScalar):
        value = value.value
    if isinstance(value, bool) or not isinstance(value, (np.ndarray, int, float)):
        return None
    array = np.asarray(value)
    return array.astype(np.float64) if array.dtype.kind in "fiub" else None


def observe(failure: PropertyFailure) -> str | None:
    """What ``failure`` showed: what its property said it saw, else a NumPy error named in its message, else
    NaN or infinity in what came back where the expected value is finite, else finite but wrong values."""
    if failure.observed is not None:
        return failure.observed
    for words, observation in _NUMPY_ERRORS:
        if failure.raised == "FloatingPointError" and words in failure.message:
            return observation
    got = _numbers(failure.got)
    if got is None:
        return None
    expected = _numbers(failure.expected)
    finite_expected = expected is None or bool(np.all(np.isfinite(expected)))
    if finite_expected and not np.all(np.isfinite(got)):
        return NOT_FINITE
    return WRONG_VALUE if expected is not None else None


DTYPE_HINTS = {
    INTEGER_RESULT: "A comparison such as z > 0 gives booleans and .astype(int) gives integers; the contract asks "
    "for floats of the input's dtype: (z > 0).astype(z.dtype), or np.where(z > 0, 1.0, 0.0).astype(z.dtype).",
    PROMOTED_TO_FLOAT64: "A float32 input came back as float64. A Python float such as 1.0 keeps float32, but "
    "float64 and int64 arrays promote it: np.zeros(n), np.empty(n), np.eye(k) and np.asarray(x, dtype=float) "
    "are float64, and x ** np.arange(k) is too; use np.zeros_like(x), dtype=x.dtype or .astype(x.dtype).",
    OTHER_DTYPE: "Return the input's float dtype: float32 in, float32 out; float64 in, float64 out.",
}
