"""The property catalogue of ``02_activations`` (contract: docs/CURRICULUM.md, section 02).

Public properties use outside references (SciPy, NumPy's own ufuncs) and invariants, so they work in a
student bundle; hidden ones compare with the instructor's reference and time the vectorised functions.
Each function is worth 10 points.

The catalogue reads as a table (:data:`PROPERTIES`, at the end): the builders that several functions share
come first, then the checks of one function each, one decorated test per property.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from hypothesis import strategies as st

from autograder.exercises import strategies as draw
from autograder.exercises.common import (
    Example,
    agrees_with,
    agrees_with_reference,
    as_fast_as_reference,
    drawn_property,
    in_order,
    keeps_shape_and_dtype,
    leaves_input_unchanged,
    matches_central_differences,
    result_of,
    stable_for_large_inputs,
    within,
)
from autograder.grading.calls import Calls
from autograder.grading.catalogue import Assignment, Plot, Property
from autograder.grading.checks import NOT_FINITE, ZERO_BY_ZERO, PropertyFailure, assert_close, tolerance_for


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


# --- builders shared by several functions ------------------------------------------------------


def symmetric(
    *, function: str, says: str, hint: str, points: float, relation: Callable[[np.ndarray], np.ndarray]
) -> Property:
    """``function(-z)`` equals ``relation(function(z))`` (on moderate z, where rounding stays small)."""

    @drawn_property(
        function=function, name="symmetry", says=says, hint=hint, points=points, examples=MODERATE, gated=True
    )
    def test(calls: Calls, example: Example) -> None:
        z = example["z"]
        at_z = result_of(calls, example)
        at_minus_z = result_of(calls, {"z": np.negative(z)})
        assert_close(at_minus_z, relation(at_z), tolerance_for(z.dtype), f"{function}(-z) breaks the symmetry")

    return test


def value_at_zero(
    *, function: str, says: str, value: Callable[[Example], float], points: float, examples: st.SearchStrategy[Example]
) -> Property:
    """At ``z = 0`` (the kink), ``function(z)`` is ``value(example)`` everywhere: the derivative the contract
    fixes where there is none."""

    @drawn_property(
        function=function,
        name="value_at_zero",
        says=says,
        hint="The contract fixes the derivative at the kink: read it again.",
        points=points,
        examples=examples,
        gated=True,  # a zero function is right at 0 for relu_grad
    )
    def test(calls: Calls, example: Example) -> None:
        got = result_of(calls, example)
        want = np.full(example["z"].shape, value(example))
        assert_close(got, want, tolerance_for(example["z"].dtype), f"{function} is wrong at z = 0")

    return test


# --- softmax and log_softmax: checks of one function each -------------------------------------


@drawn_property(
    function="softmax",
    says="softmax(z) sums to 1 along the last axis (rows of a batch)",
    hint=SOFTMAX_AXIS,
    points=1,
    examples=BATCHES,
    gated=True,  # a constant 1 / classes sums to one
    hints={NOT_FINITE: SOFTMAX_ZERO_BY_ZERO},  # NaN sums: 0/0, not a wrong axis of normalisation alone
)
def sums_to_one(calls: Calls, example: Example) -> None:
    got = result_of(calls, example)
    totals = got.astype(np.float64).sum(axis=-1)
    tolerance = 10 * tolerance_for(example["z"].dtype).rtol
    if not np.allclose(totals, 1.0, rtol=0.0, atol=tolerance):
        raise PropertyFailure("softmax(z) does not sum to 1 along the last axis", np.ones_like(totals), totals)


SHIFTS = st.sampled_from([-50.0, -3.0, 2.5, 20.0, 100.0])


@drawn_property(
    function="softmax",
    says="softmax(z + c) equals softmax(z) for a constant c",
    hint="Adding the same number to every logit of a row cannot change the probabilities. "
    "Which number could you subtract so that exp never overflows?",
    points=1,
    examples=st.fixed_dictionaries({"z": draw.batches(max_abs=10.0), "shift": SHIFTS}),
    gated=True,
)
def shift_invariant(calls: Calls, example: Example) -> None:
    z, shift = example["z"], example["shift"]
    got = result_of(calls, {"z": z})
    shifted = result_of(calls, {"z": (z + z.dtype.type(shift)).astype(z.dtype)})
    assert_close(shifted, got, tolerance_for(z.dtype), f"softmax(z + {shift:g}) differs from softmax(z)")


def _axis_examples() -> st.SearchStrategy[Example]:
    def with_axis(z: np.ndarray) -> st.SearchStrategy[Example]:
        return st.sampled_from(list(range(-z.ndim, z.ndim))).map(lambda axis: {"z": z, "axis": axis})

    return draw.arrays(min_dims=1, max_dims=3, min_side=1, max_abs=100.0).flatmap(with_axis)


@drawn_property(
    function="log_softmax",
    says="exp(log_softmax(z)) equals softmax(z)",
    hint="log_softmax(z) is log(softmax(z)) mathematically, but compute it without taking the log of a "
    "probability that may have underflowed to 0: expand log(exp(a) / sum(exp(b))).",
    points=2,
    examples=BATCHES,
    establishes_correctness=True,  # compared with SciPy's softmax
)
def is_log_of_softmax(calls: Calls, example: Example) -> None:
    got = result_of(calls, example)
    with np.errstate(all="ignore"):
        probabilities = np.exp(got.astype(np.float64))
    want = _scipy_softmax(example["z"])
    assert_close(probabilities, want, tolerance_for(example["z"].dtype), "exp(log_softmax(z)) differs from softmax(z)")


# --- timing ------------------------------------------------------------------------------------


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


# --- the table: every function's properties, in the order the feedback shows them -----------------

LOOP_HINT = "Python loops over elements are slow; a few NumPy operations on the whole array are fast."

PROPERTIES: tuple[Property, ...] = (
    # sigmoid
    agrees_with(
        function="sigmoid",
        name="agrees_with_scipy",
        says="sigmoid agrees with scipy.special.expit",
        hint="sigma(z) = 1 / (1 + exp(-z)).",
        points=2,
        examples=ANY,
        expected=lambda calls, ex: _expit(ex["z"]),
    ),
    agrees_with_reference(
        function="sigmoid",
        hint="Compare your values with 1 / (1 + exp(-z)) for a few large negative z.",
        points=2,
        examples=ANY,
    ),
    within(
        function="sigmoid",
        low=0.0,
        high=1.0,
        says="sigmoid(z) lies in [0, 1]",
        hint="A probability can be neither negative nor above 1.",
        points=1,
        examples=ANY,
    ),
    symmetric(
        function="sigmoid",
        says="sigmoid(-z) equals 1 - sigmoid(z)",
        hint="The sigmoid is symmetric around (0, 1/2).",
        points=1,
        relation=lambda s: 1.0 - s,
    ),
    stable_for_large_inputs(
        function="sigmoid",
        hint=STABILITY_HINT + " For z < 0, 1/(1+exp(-z)) = exp(z)/(1+exp(z)).",
        points=1,
        examples=LARGE,
    ),
    keeps_shape_and_dtype(function="sigmoid", points=1, examples=ANY),
    leaves_input_unchanged(function="sigmoid", points=1, examples=ANY),
    as_fast_as_reference(function="sigmoid", make_input=_large_input, hint=LOOP_HINT, points=1),
    # sigmoid_grad
    matches_central_differences(
        function="sigmoid_grad",
        forward_name="sigmoid",
        forward=lambda ex: _expit,
        hint="sigma'(z) = sigma(z) (1 - sigma(z)); note the argument is z, the pre-activation, not sigma(z).",
        points=3,
        examples=MODERATE,
    ),
    agrees_with_reference(
        function="sigmoid_grad", hint="Compute sigma(z) first, then the derivative from it.", points=2, examples=ANY
    ),
    within(
        function="sigmoid_grad",
        low=0.0,
        high=0.25,
        says="sigmoid_grad(z) lies in [0, 1/4]",
        hint="The sigmoid's slope is largest at 0, where it is 1/4.",
        points=1,
        examples=ANY,
    ),
    stable_for_large_inputs(function="sigmoid_grad", hint=STABILITY_HINT, points=1, examples=LARGE),
    keeps_shape_and_dtype(function="sigmoid_grad", points=1, examples=ANY),
    leaves_input_unchanged(function="sigmoid_grad", points=1, examples=ANY),
    as_fast_as_reference(function="sigmoid_grad", make_input=_large_input, hint=LOOP_HINT, points=1),
    # tanh
    agrees_with(
        function="tanh",
        name="agrees_with_numpy",
        says="tanh agrees with numpy.tanh",
        hint="tanh(z) = (e^z - e^-z) / (e^z + e^-z).",
        points=2,
        examples=ANY,
        expected=lambda calls, ex: np.tanh(ex["z"].astype(np.float64)),
    ),
    agrees_with_reference(
        function="tanh", hint="Check large |z|, where the textbook formula divides inf by inf.", points=2, examples=ANY
    ),
    within(
        function="tanh",
        low=-1.0,
        high=1.0,
        says="tanh(z) lies in [-1, 1]",
        hint="tanh saturates at -1 and 1.",
        points=1,
        examples=ANY,
    ),
    symmetric(
        function="tanh",
        says="tanh(-z) equals -tanh(z)",
        hint="tanh is an odd function.",
        points=1,
        relation=np.negative,
    ),
    stable_for_large_inputs(function="tanh", hint=STABILITY_HINT, points=1, examples=LARGE),
    keeps_shape_and_dtype(function="tanh", points=1, examples=ANY),
    leaves_input_unchanged(function="tanh", points=1, examples=ANY),
    as_fast_as_reference(
        function="tanh", make_input=_large_cheap_input, hint=LOOP_HINT, points=1, max_ratio=CHEAP_RATIO
    ),
    # tanh_grad
    matches_central_differences(
        function="tanh_grad",
        forward_name="tanh",
        forward=lambda ex: np.tanh,
        hint="tanh'(z) = 1 - tanh(z)^2, with z the pre-activation.",
        points=3,
        examples=MODERATE,
    ),
    agrees_with_reference(
        function="tanh_grad", hint="The derivative is taken at z, not at tanh(z).", points=2, examples=ANY
    ),
    stable_for_large_inputs(function="tanh_grad", hint=STABILITY_HINT, points=1, examples=LARGE),
    within(
        function="tanh_grad",
        low=0.0,
        high=1.0,
        says="tanh_grad(z) lies in [0, 1]",
        hint="tanh's slope is largest at 0, where it is 1.",
        points=1,
        examples=ANY,
    ),
    keeps_shape_and_dtype(function="tanh_grad", points=1, examples=ANY),
    leaves_input_unchanged(function="tanh_grad", points=1, examples=ANY),
    as_fast_as_reference(
        function="tanh_grad", make_input=_large_cheap_input, hint=LOOP_HINT, points=1, max_ratio=CHEAP_RATIO
    ),
    # relu
    agrees_with(
        function="relu",
        name="agrees_with_numpy",
        says="relu agrees with numpy.maximum(z, 0)",
        hint="relu(z) = max(z, 0), elementwise.",
        points=2,
        examples=ANY,
        expected=lambda calls, ex: np.maximum(ex["z"].astype(np.float64), 0.0),
    ),
    agrees_with_reference(
        function="relu", hint="relu keeps positive values and zeroes the rest.", points=2, examples=ANY
    ),
    within(
        function="relu",
        low=0.0,
        high=np.inf,
        says="relu(z) is never negative",
        hint="relu(z) = max(z, 0).",
        points=1,
        examples=ANY,
    ),
    stable_for_large_inputs(function="relu", hint="relu needs no exp at all.", points=1, examples=LARGE),
    keeps_shape_and_dtype(function="relu", points=1, examples=ANY),
    leaves_input_unchanged(function="relu", points=2, examples=ANY),
    as_fast_as_reference(
        function="relu", make_input=_large_cheap_input, hint=LOOP_HINT, points=1, max_ratio=CHEAP_RATIO
    ),
    # relu_grad
    matches_central_differences(
        function="relu_grad",
        forward_name="relu",
        forward=lambda ex: lambda z: np.maximum(z, 0.0),
        hint="The slope of relu is 1 where it is active and 0 elsewhere.",
        points=2,
        examples=kink_free(ANY),
    ),
    agrees_with_reference(function="relu_grad", hint="Which values of z make relu active?", points=3, examples=ANY),
    value_at_zero(
        function="relu_grad", says="relu_grad(0) is 0", value=lambda ex: 0.0, points=1, examples=z_examples(ZERO_ARRAYS)
    ),
    stable_for_large_inputs(function="relu_grad", hint="relu_grad needs no exp at all.", points=1, examples=LARGE),
    keeps_shape_and_dtype(function="relu_grad", points=1, examples=ANY),
    leaves_input_unchanged(function="relu_grad", points=1, examples=ANY),
    as_fast_as_reference(
        function="relu_grad", make_input=_large_cheap_input, hint=LOOP_HINT, points=1, max_ratio=CHEAP_RATIO
    ),
    # leaky_relu
    agrees_with(
        function="leaky_relu",
        name="agrees_with_formula",
        says="leaky_relu agrees with z if z > 0 else alpha * z (default alpha 0.01)",
        hint="Negative inputs are scaled by alpha, not zeroed; the default alpha is 0.01.",
        points=3,
        examples=leaky_examples(),
        expected=lambda calls, ex: _leaky(ex["z"], _alpha(ex)),
    ),
    agrees_with_reference(
        function="leaky_relu",
        hint="Check both signs of z and a non-default alpha.",
        points=2,
        examples=leaky_examples(),
    ),
    stable_for_large_inputs(
        function="leaky_relu",
        hint="leaky_relu needs no exp at all.",
        points=1,
        examples=leaky_examples(draw.large_value_arrays()),
    ),
    keeps_shape_and_dtype(function="leaky_relu", points=1, examples=leaky_examples()),
    leaves_input_unchanged(function="leaky_relu", points=2, examples=leaky_examples()),
    as_fast_as_reference(function="leaky_relu", make_input=_large_input, hint=LOOP_HINT, points=1),
    # leaky_relu_grad
    matches_central_differences(
        function="leaky_relu_grad",
        forward_name="leaky_relu",
        forward=lambda ex: lambda z: _leaky(z, _alpha(ex)),
        hint="The slope is 1 for z > 0 and alpha for z < 0: a leaky unit never stops learning.",
        points=2,
        examples=kink_free(leaky_examples()),
    ),
    agrees_with_reference(
        function="leaky_relu_grad",
        hint="Use the alpha you were given, on the negative side.",
        points=3,
        examples=leaky_examples(),
    ),
    value_at_zero(
        function="leaky_relu_grad",
        says="leaky_relu_grad(0) is alpha",
        value=_alpha,
        points=1,
        examples=leaky_examples(ZERO_ARRAYS),
    ),
    stable_for_large_inputs(
        function="leaky_relu_grad",
        hint="No exp is needed here.",
        points=1,
        examples=leaky_examples(draw.large_value_arrays()),
    ),
    keeps_shape_and_dtype(function="leaky_relu_grad", points=1, examples=leaky_examples()),
    leaves_input_unchanged(function="leaky_relu_grad", points=1, examples=leaky_examples()),
    as_fast_as_reference(function="leaky_relu_grad", make_input=_large_input, hint=LOOP_HINT, points=1),
    # softmax
    agrees_with(
        function="softmax",
        name="agrees_with_scipy",
        says="softmax agrees with scipy.special.softmax along the last axis",
        hint=SOFTMAX_AXIS,
        points=2,
        examples=BATCHES,
        expected=lambda calls, ex: _scipy_softmax(ex["z"]),
    ),
    agrees_with(
        function="softmax",
        name="respects_axis",
        says="softmax(z, axis) normalises along the axis it is given",
        hint="Pass axis to every reduction (max, sum), with keepdims=True.",
        points=1,
        examples=_axis_examples(),
        expected=lambda calls, ex: _scipy_softmax(ex["z"], ex["axis"]),
    ),
    agrees_with_reference(
        function="softmax", hint="Try a batch with one very large logit in a row.", points=1, examples=BATCHES
    ),
    sums_to_one,
    shift_invariant,
    stable_for_large_inputs(
        function="softmax",
        hint=STABILITY_HINT,
        points=1,
        examples=z_examples(draw.large_value_arrays().filter(lambda z: z.ndim >= 1)),
        hints={ZERO_BY_ZERO: SOFTMAX_ZERO_BY_ZERO},
    ),
    keeps_shape_and_dtype(function="softmax", points=1, examples=BATCHES),
    leaves_input_unchanged(function="softmax", points=1, examples=BATCHES),
    as_fast_as_reference(function="softmax", make_input=_large_batch, hint=LOOP_HINT, points=1),
    # log_softmax
    agrees_with(
        function="log_softmax",
        name="agrees_with_scipy",
        says="log_softmax agrees with scipy.special.log_softmax along the last axis",
        hint="log_softmax(z) = z - log(sum(exp(z))), computed stably.",
        points=2,
        examples=BATCHES,
        expected=lambda calls, ex: _scipy_log_softmax(ex["z"]),
    ),
    agrees_with_reference(
        function="log_softmax",
        hint="Try a row such as [0, 1000]: the true answer is finite.",
        points=1,
        examples=BATCHES,
    ),
    is_log_of_softmax,
    within(
        function="log_softmax",
        low=-np.inf,
        high=0.0,
        says="log_softmax(z) is never positive",
        hint="The log of a probability is at most 0.",
        points=1,
        examples=BATCHES,
    ),
    stable_for_large_inputs(
        function="log_softmax",
        hint=STABILITY_HINT + " log(0) is -inf: never take the log of an underflowed probability.",
        points=1,
        examples=z_examples(draw.large_value_arrays().filter(lambda z: z.ndim >= 1)),
    ),
    keeps_shape_and_dtype(function="log_softmax", points=1, examples=BATCHES),
    leaves_input_unchanged(function="log_softmax", points=1, examples=BATCHES),
    as_fast_as_reference(
        function="log_softmax", make_input=_large_batch, hint=LOOP_HINT, points=1, max_ratio=LOG_SOFTMAX_RATIO
    ),
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
