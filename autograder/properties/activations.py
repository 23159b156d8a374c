"""The property catalogue of ``02_activations`` (contract: docs/CURRICULUM.md, section 02).

Public properties use outside references (SciPy, NumPy's own ufuncs) and invariants, so they work in a
student bundle; hidden ones compare with the instructor's reference and time the vectorised functions.
Each function is worth 10 points.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from autograder import strategies as draw
from autograder.catalogue import Assignment, Plot, Property
from autograder.checks import NOT_FINITE, ZERO_BY_ZERO, PropertyFailure, assert_close, tolerance_for
from autograder.properties.common import (
    Example,
    agrees_with,
    agrees_with_reference,
    as_fast_as_reference,
    in_order,
    keeps_shape_and_dtype,
    leaves_input_unchanged,
    matches_central_differences,
    result_of,
    stable_for_large_inputs,
    within,
)
from autograder.runner import Calls


def _expit(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return np.asarray(expit(z.astype(np.float64)))


def _scipy_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    from scipy.special import softmax

    return np.asarray(softmax(z.astype(np.float64), axis=axis))


def _scipy_log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    from scipy.special import log_softmax

    return np.asarray(log_softmax(z.astype(np.float64), axis=axis))


def _leaky(z: np.ndarray, alpha: float) -> np.ndarray:
    z64 = z.astype(np.float64)
    return np.where(z64 > 0, z64, alpha * z64)


def z_examples(strategy: st.SearchStrategy[np.ndarray] | None = None) -> st.SearchStrategy[Example]:
    return (draw.arrays() if strategy is None else strategy).map(lambda z: {"z": z})


def leaky_examples(strategy: st.SearchStrategy[np.ndarray] | None = None) -> st.SearchStrategy[Example]:
    """``z``, and sometimes ``alpha`` (leaving it out tests the default of 0.01)."""
    examples = st.fixed_dictionaries(
        {"z": draw.arrays() if strategy is None else strategy}, optional={"alpha": draw.alphas()}
    )
    return examples.map(in_order("z", "alpha"))


def kink_free(examples: st.SearchStrategy[Example]) -> st.SearchStrategy[Example]:
    """Examples pushed away from the kink at 0, where ReLU has no derivative."""
    return examples.map(lambda ex: {**ex, "z": draw.away_from(ex["z"], 0.0, 1e-3)})


def _alpha(example: Example) -> float:
    return float(example.get("alpha", 0.01))


ANY = z_examples()
LARGE = z_examples(draw.large_value_arrays())
MODERATE = z_examples(draw.arrays(max_abs=30.0))
ZERO_ARRAYS = draw.arrays(max_abs=0.0, min_side=1)
BATCHES = z_examples(draw.batches())

STABILITY_HINT = (
    "np.exp of a large number overflows (exp(710) is inf in float64, exp(89) in float32). "
    "Rewrite the formula so that exp only ever sees values <= 0."
)
DTYPE_FLOAT = "Check your result's dtype for a float32 input."
# A softmax whose max and sum are taken over different axes (or the max over the whole array) divides 0 by 0
# where every exp of a row underflowed: NaN with no overflow at all.
SOFTMAX_ZERO_BY_ZERO = (
    "0/0 gave NaN: a row's sum of exponentials was 0, so every exp in that row underflowed. That happens when "
    "the max you subtract is not the row's own (taken over another axis, or over the whole array): take the "
    "max and the sum along the same axis, with keepdims=True."
)
SOFTMAX_AXIS = (
    "Each row of a (batch, classes) array is one example, normalised by its own sum: take the max and the sum "
    "along axis (the last one by default), with keepdims=True."
)


def symmetric(
    function: str, says: str, hint: str, points: float, relation: Callable[[np.ndarray], np.ndarray]
) -> Property:
    """``function(-z)`` equals ``relation(function(z))``."""

    def test(calls: Calls, example: Example) -> None:
        z = example["z"]
        at_z = result_of(calls, example)
        at_minus_z = result_of(calls, {"z": np.negative(z)})
        assert_close(at_minus_z, relation(at_z), tolerance_for(z.dtype), f"{function}(-z) breaks the symmetry")

    return Property(function, "symmetry", says, hint, points, True, MODERATE, test, gated=True)


def _zero_derivative(
    function: str, says: str, value: Callable[[Example], float], points: float, examples: st.SearchStrategy[Example]
) -> Property:
    def test(calls: Calls, example: Example) -> None:
        got = result_of(calls, example)
        want = np.full(example["z"].shape, value(example))
        assert_close(got, want, tolerance_for(example["z"].dtype), f"{function} is wrong at z = 0")

    return Property(
        function,
        "value_at_zero",
        says,
        "The contract fixes the derivative at the kink: read it again.",
        points,
        True,
        examples,
        test,
        gated=True,  # a zero function is right at 0 for relu_grad
    )


def _sums_to_one(points: float) -> Property:
    def test(calls: Calls, example: Example) -> None:
        got = result_of(calls, example)
        totals = got.astype(np.float64).sum(axis=-1)
        tolerance = 10 * tolerance_for(example["z"].dtype).rtol
        if not np.allclose(totals, 1.0, rtol=0.0, atol=tolerance):
            raise PropertyFailure("softmax(z) does not sum to 1 along the last axis", np.ones_like(totals), totals)

    return Property(
        "softmax",
        "sums_to_one",
        "softmax(z) sums to 1 along the last axis (rows of a batch)",
        SOFTMAX_AXIS,
        points,
        True,
        BATCHES,
        test,
        gated=True,  # a constant 1 / classes sums to one
        hints={NOT_FINITE: SOFTMAX_ZERO_BY_ZERO},  # NaN sums: 0/0, not a wrong axis of normalisation alone
    )


SHIFTS = st.sampled_from([-50.0, -3.0, 2.5, 20.0, 100.0])


def _shift_invariant(points: float) -> Property:
    def test(calls: Calls, example: Example) -> None:
        z, shift = example["z"], example["shift"]
        got = result_of(calls, {"z": z})
        shifted = result_of(calls, {"z": (z + z.dtype.type(shift)).astype(z.dtype)})
        assert_close(shifted, got, tolerance_for(z.dtype), f"softmax(z + {shift:g}) differs from softmax(z)")

    examples = st.fixed_dictionaries({"z": draw.batches(max_abs=10.0), "shift": SHIFTS})
    return Property(
        "softmax",
        "shift_invariant",
        "softmax(z + c) equals softmax(z) for a constant c",
        "Adding the same number to every logit of a row cannot change the probabilities. "
        "Which number could you subtract so that exp never overflows?",
        points,
        True,
        examples,
        test,
        gated=True,
    )


def _axis_examples() -> st.SearchStrategy[Example]:
    def with_axis(z: np.ndarray) -> st.SearchStrategy[Example]:
        return st.sampled_from(list(range(-z.ndim, z.ndim))).map(lambda axis: {"z": z, "axis": axis})

    return draw.arrays(min_dims=1, max_dims=3, min_side=1, max_abs=100.0).flatmap(with_axis)


def _exp_is_softmax(points: float) -> Property:
    def test(calls: Calls, example: Example) -> None:
        got = result_of(calls, example)
        with np.errstate(all="ignore"):
            probabilities = np.exp(got.astype(np.float64))
        want = _scipy_softmax(example["z"])
        assert_close(
            probabilities, want, tolerance_for(example["z"].dtype), "exp(log_softmax(z)) differs from softmax(z)"
        )

    return Property(
        "log_softmax",
        "is_log_of_softmax",
        "exp(log_softmax(z)) equals softmax(z)",
        "log_softmax(z) is log(softmax(z)) mathematically, but compute it without taking the log of a "
        "probability that may have underflowed to 0: expand log(exp(a) / sum(exp(b))).",
        points,
        True,
        BATCHES,
        test,
        establishes_correctness=True,  # compared with SciPy's softmax
    )


def _large_input(rng: np.random.Generator, size: int = 1 << 19) -> list[Any]:
    """One float64 vector of ``size`` values with standard deviation 10 (both signs, both sides of every kink)."""
    return [rng.standard_normal(size) * 10.0]


# Timing inputs are sized so that one reference call takes milliseconds: 2^19 values (4 MiB) where the reference
# calls exp or np.where (sigmoid, its gradient, the leaky units: 3-40 ms), 2^21 (16 MiB) where it is one or
# three cheap ufunc passes (np.tanh, np.maximum, a comparison: 1-4 ms). Handing the answer back costs about as
# much as a cheap pass; it is subtracted, but its noise is not, so a cheap reference needs the larger input.
# Larger still is worse: once input and answer outgrow the cache, echoing the stored answer (the overhead
# subtracted) costs more than returning a fresh one, and the reference's net time collapses towards zero.
_large_cheap_input = partial(_large_input, size=1 << 21)

# The limit on the ratio sits between the slowest honest vectorised implementation and a Python loop. Ratios
# as the grader measured them, on a 2-core machine at load 8:
# * the default, 3, where the reference is slow (sigmoid_grad's logaddexp, the leaky units' np.where): honest
#   variants are about as fast as it (0.2-2), and a loop is only 9-23 times slower;
# * LOG_SOFTMAX_RATIO where ``z - scipy.special.logsumexp(z, axis, keepdims=True)``, the textbook answer, takes
#   2-4 times the reference's time (a Python loop over the elements of each row: 30-95 times);
# * CHEAP_RATIO where the reference is one or three fast ufunc passes, which honest vectorised code is often far
#   slower than (relu as np.where(z > 0, z, 0) or as a copy with z[z < 0] = 0: 4-22 times; relu_grad with
#   np.where or np.heaviside: 4-11; tanh as 2 sigmoid(2z) - 1: up to 26), while a loop over math.tanh or
#   max(x, 0) is 45-200 times slower.
LOG_SOFTMAX_RATIO = 10.0
CHEAP_RATIO = 30.0


def _large_batch(rng: np.random.Generator) -> list[Any]:
    return [rng.standard_normal((1 << 10, 1 << 10)) * 10.0]


LOOP_HINT = "Python loops over elements are slow; a few NumPy operations on the whole array are fast."

PROPERTIES: tuple[Property, ...] = (
    # sigmoid
    agrees_with(
        "sigmoid",
        "agrees_with_scipy",
        "sigmoid agrees with scipy.special.expit",
        "sigma(z) = 1 / (1 + exp(-z)).",
        2,
        ANY,
        lambda calls, ex: _expit(ex["z"]),
    ),
    agrees_with_reference("sigmoid", "Compare your values with 1 / (1 + exp(-z)) for a few large negative z.", 2, ANY),
    within(
        "sigmoid", 0.0, 1.0, "sigmoid(z) lies in [0, 1]", "A probability can be neither negative nor above 1.", 1, ANY
    ),
    symmetric(
        "sigmoid",
        "sigmoid(-z) equals 1 - sigmoid(z)",
        "The sigmoid is symmetric around (0, 1/2).",
        1,
        lambda s: 1.0 - s,
    ),
    stable_for_large_inputs("sigmoid", STABILITY_HINT + " For z < 0, 1/(1+exp(-z)) = exp(z)/(1+exp(z)).", 1, LARGE),
    keeps_shape_and_dtype("sigmoid", 1, ANY),
    leaves_input_unchanged("sigmoid", 1, ANY),
    as_fast_as_reference("sigmoid", _large_input, LOOP_HINT, 1),
    # sigmoid_grad
    matches_central_differences(
        "sigmoid_grad",
        "sigmoid",
        lambda ex: _expit,
        "sigma'(z) = sigma(z) (1 - sigma(z)); note the argument is z, the pre-activation, not sigma(z).",
        3,
        MODERATE,
    ),
    agrees_with_reference("sigmoid_grad", "Compute sigma(z) first, then the derivative from it.", 2, ANY),
    within(
        "sigmoid_grad",
        0.0,
        0.25,
        "sigmoid_grad(z) lies in [0, 1/4]",
        "The sigmoid's slope is largest at 0, where it is 1/4.",
        1,
        ANY,
    ),
    stable_for_large_inputs("sigmoid_grad", STABILITY_HINT, 1, LARGE),
    keeps_shape_and_dtype("sigmoid_grad", 1, ANY),
    leaves_input_unchanged("sigmoid_grad", 1, ANY),
    as_fast_as_reference("sigmoid_grad", _large_input, LOOP_HINT, 1),
    # tanh
    agrees_with(
        "tanh",
        "agrees_with_numpy",
        "tanh agrees with numpy.tanh",
        "tanh(z) = (e^z - e^-z) / (e^z + e^-z).",
        2,
        ANY,
        lambda calls, ex: np.tanh(ex["z"].astype(np.float64)),
    ),
    agrees_with_reference("tanh", "Check large |z|, where the textbook formula divides inf by inf.", 2, ANY),
    within("tanh", -1.0, 1.0, "tanh(z) lies in [-1, 1]", "tanh saturates at -1 and 1.", 1, ANY),
    symmetric("tanh", "tanh(-z) equals -tanh(z)", "tanh is an odd function.", 1, np.negative),
    stable_for_large_inputs("tanh", STABILITY_HINT, 1, LARGE),
    keeps_shape_and_dtype("tanh", 1, ANY),
    leaves_input_unchanged("tanh", 1, ANY),
    as_fast_as_reference("tanh", _large_cheap_input, LOOP_HINT, 1, max_ratio=CHEAP_RATIO),
    # tanh_grad
    matches_central_differences(
        "tanh_grad", "tanh", lambda ex: np.tanh, "tanh'(z) = 1 - tanh(z)^2, with z the pre-activation.", 3, MODERATE
    ),
    agrees_with_reference("tanh_grad", "The derivative is taken at z, not at tanh(z).", 2, ANY),
    stable_for_large_inputs("tanh_grad", STABILITY_HINT, 1, LARGE),
    within(
        "tanh_grad", 0.0, 1.0, "tanh_grad(z) lies in [0, 1]", "tanh's slope is largest at 0, where it is 1.", 1, ANY
    ),
    keeps_shape_and_dtype("tanh_grad", 1, ANY),
    leaves_input_unchanged("tanh_grad", 1, ANY),
    as_fast_as_reference("tanh_grad", _large_cheap_input, LOOP_HINT, 1, max_ratio=CHEAP_RATIO),
    # relu
    agrees_with(
        "relu",
        "agrees_with_numpy",
        "relu agrees with numpy.maximum(z, 0)",
        "relu(z) = max(z, 0), elementwise.",
        2,
        ANY,
        lambda calls, ex: np.maximum(ex["z"].astype(np.float64), 0.0),
    ),
    agrees_with_reference("relu", "relu keeps positive values and zeroes the rest.", 2, ANY),
    within("relu", 0.0, np.inf, "relu(z) is never negative", "relu(z) = max(z, 0).", 1, ANY),
    stable_for_large_inputs("relu", "relu needs no exp at all.", 1, LARGE),
    keeps_shape_and_dtype("relu", 1, ANY),
    leaves_input_unchanged("relu", 2, ANY),
    as_fast_as_reference("relu", _large_cheap_input, LOOP_HINT, 1, max_ratio=CHEAP_RATIO),
    # relu_grad
    matches_central_differences(
        "relu_grad",
        "relu",
        lambda ex: lambda z: np.maximum(z, 0.0),
        "The slope of relu is 1 where it is active and 0 elsewhere.",
        2,
        kink_free(ANY),
    ),
    agrees_with_reference("relu_grad", "Which values of z make relu active?", 3, ANY),
    _zero_derivative("relu_grad", "relu_grad(0) is 0", lambda ex: 0.0, 1, z_examples(ZERO_ARRAYS)),
    stable_for_large_inputs("relu_grad", "relu_grad needs no exp at all.", 1, LARGE),
    keeps_shape_and_dtype("relu_grad", 1, ANY),
    leaves_input_unchanged("relu_grad", 1, ANY),
    as_fast_as_reference("relu_grad", _large_cheap_input, LOOP_HINT, 1, max_ratio=CHEAP_RATIO),
    # leaky_relu
    agrees_with(
        "leaky_relu",
        "agrees_with_formula",
        "leaky_relu agrees with z if z > 0 else alpha * z (default alpha 0.01)",
        "Negative inputs are scaled by alpha, not zeroed; the default alpha is 0.01.",
        3,
        leaky_examples(),
        lambda calls, ex: _leaky(ex["z"], _alpha(ex)),
    ),
    agrees_with_reference("leaky_relu", "Check both signs of z and a non-default alpha.", 2, leaky_examples()),
    stable_for_large_inputs(
        "leaky_relu", "leaky_relu needs no exp at all.", 1, leaky_examples(draw.large_value_arrays())
    ),
    keeps_shape_and_dtype("leaky_relu", 1, leaky_examples()),
    leaves_input_unchanged("leaky_relu", 2, leaky_examples()),
    as_fast_as_reference("leaky_relu", _large_input, LOOP_HINT, 1),
    # leaky_relu_grad
    matches_central_differences(
        "leaky_relu_grad",
        "leaky_relu",
        lambda ex: lambda z: _leaky(z, _alpha(ex)),
        "The slope is 1 for z > 0 and alpha for z < 0: a leaky unit never stops learning.",
        2,
        kink_free(leaky_examples()),
    ),
    agrees_with_reference(
        "leaky_relu_grad", "Use the alpha you were given, on the negative side.", 3, leaky_examples()
    ),
    _zero_derivative("leaky_relu_grad", "leaky_relu_grad(0) is alpha", _alpha, 1, leaky_examples(ZERO_ARRAYS)),
    stable_for_large_inputs("leaky_relu_grad", "No exp is needed here.", 1, leaky_examples(draw.large_value_arrays())),
    keeps_shape_and_dtype("leaky_relu_grad", 1, leaky_examples()),
    leaves_input_unchanged("leaky_relu_grad", 1, leaky_examples()),
    as_fast_as_reference("leaky_relu_grad", _large_input, LOOP_HINT, 1),
    # softmax
    agrees_with(
        "softmax",
        "agrees_with_scipy",
        "softmax agrees with scipy.special.softmax along the last axis",
        SOFTMAX_AXIS,
        2,
        BATCHES,
        lambda calls, ex: _scipy_softmax(ex["z"]),
    ),
    agrees_with(
        "softmax",
        "respects_axis",
        "softmax(z, axis) normalises along the axis it is given",
        "Pass axis to every reduction (max, sum), with keepdims=True.",
        1,
        _axis_examples(),
        lambda calls, ex: _scipy_softmax(ex["z"], ex["axis"]),
    ),
    agrees_with_reference("softmax", "Try a batch with one very large logit in a row.", 1, BATCHES),
    _sums_to_one(1),
    _shift_invariant(1),
    stable_for_large_inputs(
        "softmax",
        STABILITY_HINT,
        1,
        z_examples(draw.large_value_arrays().filter(lambda z: z.ndim >= 1)),
        hints={ZERO_BY_ZERO: SOFTMAX_ZERO_BY_ZERO},
    ),
    keeps_shape_and_dtype("softmax", 1, BATCHES),
    leaves_input_unchanged("softmax", 1, BATCHES),
    as_fast_as_reference("softmax", _large_batch, LOOP_HINT, 1),
    # log_softmax
    agrees_with(
        "log_softmax",
        "agrees_with_scipy",
        "log_softmax agrees with scipy.special.log_softmax along the last axis",
        "log_softmax(z) = z - log(sum(exp(z))), computed stably.",
        2,
        BATCHES,
        lambda calls, ex: _scipy_log_softmax(ex["z"]),
    ),
    agrees_with_reference("log_softmax", "Try a row such as [0, 1000]: the true answer is finite.", 1, BATCHES),
    _exp_is_softmax(2),
    within(
        "log_softmax",
        -np.inf,
        0.0,
        "log_softmax(z) is never positive",
        "The log of a probability is at most 0.",
        1,
        BATCHES,
    ),
    stable_for_large_inputs(
        "log_softmax",
        STABILITY_HINT + " log(0) is -inf: never take the log of an underflowed probability.",
        1,
        z_examples(draw.large_value_arrays().filter(lambda z: z.ndim >= 1)),
    ),
    keeps_shape_and_dtype("log_softmax", 1, BATCHES),
    leaves_input_unchanged("log_softmax", 1, BATCHES),
    as_fast_as_reference("log_softmax", _large_batch, LOOP_HINT, 1, max_ratio=LOG_SOFTMAX_RATIO),
)

ASSIGNMENT = Assignment(
    id="02_activations",
    notebook="activations.ipynb",
    properties=PROPERTIES,
    preload=("numpy", "scipy.special", "matplotlib", "matplotlib.pyplot"),
    dtypes=dict.fromkeys((p.function for p in PROPERTIES), "input"),
    # The elementwise functions, each over a range that shows its shape (softmax works on whole rows).
    plots=(
        Plot("sigmoid", -8.0, 8.0),
        Plot("sigmoid_grad", -8.0, 8.0),
        Plot("tanh", -4.0, 4.0),
        Plot("tanh_grad", -4.0, 4.0),
        Plot("relu", -3.0, 3.0),
        Plot("relu_grad", -3.0, 3.0),
        Plot("leaky_relu", -3.0, 3.0),
        Plot("leaky_relu_grad", -3.0, 3.0),
    ),
)
