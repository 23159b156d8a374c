"""The property catalogue of ``04_regularization`` (contract: docs/CURRICULUM.md, section 04).

Public properties compare with outside references (NumPy's ``vander``, scikit-learn's ``Ridge``), with
the contract's formulas evaluated here, with expected outputs stored for fixed inputs, and with
invariants. ``dropout_forward`` is random and the contract does not fix how a student draws random
numbers, so its properties are statistical (binomial bounds six standard errors wide, on seeds drawn by
Hypothesis) and structural (the returned mask explains the output exactly); none asks for the
reference's random stream. Hidden properties compare with the reference and time the functions whose
lesson is vectorisation: ``polynomial_features`` and both passes of dropout (``dropout_forward`` through a
harness that checks that out follows the mask returned, whatever random numbers it drew).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.exercises import strategies as draw
from autograder.exercises.common import (
    DERIVATIVE_TOLERANCE,
    Example,
    agrees_with,
    agrees_with_reference,
    array_part,
    as_fast_as_reference,
    central_differences,
    drawn_property,
    in_order,
    keeps_shape_and_dtype,
    leaves_nested_input_unchanged,
    number_of,
    parts_of,
    result_of,
    result_under_errstate,
)
from autograder.grading.calls import Calls
from autograder.grading.catalogue import Assignment, Property
from autograder.grading.checks import (
    DTYPE_HINTS,
    PropertyFailure,
    Tolerance,
    assert_close,
    assert_finite,
    describe,
    observed_dtype,
    tolerance_for,
)
from autograder.sandbox.protocol import NamedCallable, NumpyScalar

FLOAT64 = tolerance_for(np.dtype(np.float64))
Params = list[tuple[np.ndarray, np.ndarray]]


# --- polynomial_features ------------------------------------------------------------------------


def _polynomial_examples(min_degree: int = 0) -> st.SearchStrategy[Example]:
    inputs = st.integers(1, 8).flatmap(lambda n: draw.float64_arrays((n,), 3.0))
    return st.fixed_dictionaries({"x": inputs, "degree": st.integers(min_degree, 8)}).map(in_order("x", "degree"))


def _vander(example: Example) -> np.ndarray:
    return np.vander(example["x"], example["degree"] + 1, increasing=True)


@drawn_property(
    function="polynomial_features",
    name="returns_the_right_shape_and_dtype",
    says="polynomial_features returns shape (n, degree + 1), of x's float dtype",
    hint="Degree D has D + 1 coefficients: the powers 0, 1, ..., D.",
    points=1,
    examples=draw.in_float_dtypes(_polynomial_examples()),
    gated=True,
    hints=DTYPE_HINTS,
)
def polynomial_features_shape(calls: Calls, example: Example) -> None:
    got, x = result_of(calls, example), example["x"]
    want = (x.shape[0], example["degree"] + 1)
    if got.shape != want:
        raise PropertyFailure(
            f"polynomial_features returned shape {got.shape} for {want[0]} inputs and degree "
            f"{example['degree']}; expected {want}"
        )
    if got.dtype != x.dtype:
        raise PropertyFailure(
            f"polynomial_features returned dtype {got.dtype} for x of dtype {x.dtype}",
            observed=observed_dtype(got.dtype, x.dtype),
        )


@drawn_property(
    function="polynomial_features",
    says="column 0 of polynomial_features is x**0 = 1 (the intercept), then increasing powers",
    hint="Column k holds x**k, starting at k = 0; the intercept column comes first.",
    points=1,
    examples=_polynomial_examples(min_degree=1),
    gated=True,  # a constant 1 keeps it
)
def first_column_is_ones(calls: Calls, example: Example) -> None:
    got = result_of(calls, example)
    if got.ndim != 2 or got.shape[1] == 0:
        raise PropertyFailure(f"polynomial_features returned shape {got.shape}; expected a 2-D design matrix")
    assert_close(got[:, 0], np.ones(got.shape[0]), FLOAT64, "column 0 of polynomial_features is not x**0 = 1")


def _many_inputs(rng: np.random.Generator) -> list[Any]:
    # Few powers of many inputs: a loop over the inputs pays per row, while x[:, None] ** powers pays per
    # entry, so a low degree keeps the two far apart (about 6x at degree 2, 3x at degree 12).
    return [rng.uniform(-1.0, 1.0, 1 << 17), 2]


POLYNOMIAL = _polynomial_examples()

# --- l2_penalty and l2_penalty_grads ------------------------------------------------------------

LAMBDAS = st.one_of(st.sampled_from([0.0, 1e-3, 0.1, 0.5, 1.0, 3.0]), st.floats(0.0, 10.0))
POSITIVE_LAMBDAS = st.one_of(st.sampled_from([1e-3, 0.1, 0.5, 1.0, 3.0]), st.floats(0.01, 10.0))


def _l2_examples(lams: st.SearchStrategy[float] = LAMBDAS, min_layers: int = 1) -> st.SearchStrategy[Example]:
    widths = st.lists(st.integers(1, 5), min_size=min_layers + 1, max_size=4)
    params = widths.flatmap(lambda w: draw.network_params(w, 10.0))
    return st.fixed_dictionaries({"params": params, "lam": lams}).map(in_order("params", "lam"))


def _penalty(params: Params, lam: float) -> float:
    return float(lam / 2 * sum(np.sum(np.square(W)) for W, _ in params))


L2 = _l2_examples()


def _student_penalty(calls: Calls, params: Params, lam: float) -> float:
    return number_of(calls.student(params, lam), "l2_penalty")


# Relations between calls of l2_penalty: a zero function keeps every one of them (gated).
@drawn_property(
    function="l2_penalty",
    says="changing the biases does not change l2_penalty",
    hint="Biases only shift a unit's output; the penalty is on the weights W alone.",
    points=2,
    examples=_l2_examples(POSITIVE_LAMBDAS),
    gated=True,
)
def ignores_biases(calls: Calls, example: Example) -> None:
    params, lam = example["params"], example["lam"]
    moved = [(W, b * -3.0 + 1.0) for W, b in params]
    before, after = _student_penalty(calls, params, lam), _student_penalty(calls, moved, lam)
    assert_close(np.asarray(after), np.asarray(before), FLOAT64, "changing only the biases changed l2_penalty")


@drawn_property(
    function="l2_penalty",
    name="zero_at_zero_lambda",
    says="l2_penalty is 0 when lam = 0",
    hint="lam is the strength of the penalty: with lam = 0 there is no penalty at all.",
    points=1,
    examples=L2,
    gated=True,
)
def penalty_zero_at_zero_lambda(calls: Calls, example: Example) -> None:
    got = _student_penalty(calls, example["params"], 0.0)
    assert_close(np.asarray(got), np.asarray(0.0), FLOAT64, "l2_penalty with lam = 0 is not 0")


@drawn_property(
    function="l2_penalty",
    says="l2_penalty of a network is the sum of the penalties of its layers",
    hint="Add up the squared weights of every layer, not just one: accumulate with +=, or sum a generator.",
    points=1,
    examples=_l2_examples(POSITIVE_LAMBDAS, min_layers=2),
    gated=True,
)
def sums_over_layers(calls: Calls, example: Example) -> None:
    params, lam = example["params"], example["lam"]
    whole = _student_penalty(calls, params, lam)
    layer_by_layer = sum(_student_penalty(calls, [layer], lam) for layer in params)
    assert_close(
        np.asarray(whole),
        np.asarray(layer_by_layer),
        FLOAT64,
        "l2_penalty of the network differs from the sum of l2_penalty over its layers",
    )


def _grad_pairs(calls: Calls, example: Example) -> list[tuple[Any, ...]]:
    """The student's gradients as a list of ``(dW, db)`` items, one per layer, or a failure."""
    got = calls.student(*example.values())
    layers = len(example["params"])
    if not isinstance(got, (list, tuple)) or len(got) != layers:
        raise PropertyFailure(
            f"l2_penalty_grads returned {describe(got)}; expected a list of {layers} (dW, db) tuples, one per layer"
        )
    return [parts_of(pair, ("dW", "db"), "l2_penalty_grads") for pair in got]


def _loose(value: Any, what: str) -> np.ndarray:
    """A gradient part as an array; a plain number is accepted here (the shape is another property's concern)."""
    if isinstance(value, NumpyScalar):
        return value.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(float(value))
    return array_part(value, "l2_penalty_grads", what)


def _layers_and_grads(calls: Calls, example: Example) -> Iterator[tuple[str, np.ndarray, np.ndarray, Any, Any]]:
    """Each layer's ``(name, W, b, dW, db)``: its parameters and the student's gradients (``name`` says
    ``layer 0`` in messages)."""
    pairs = _grad_pairs(calls, example)
    for layer, ((W, b), (dW, db)) in enumerate(zip(example["params"], pairs, strict=True)):
        yield f"layer {layer}", W, b, dW, db


@drawn_property(
    function="l2_penalty_grads",
    name="agrees_with_formula",
    says="l2_penalty_grads gives dW = lam * W for every layer",
    hint="Differentiate lam / 2 * w**2 with respect to w.",
    points=3,
    examples=L2,
    establishes_correctness=True,
)
def weight_grads_are_lam_w(calls: Calls, example: Example) -> None:
    for layer, W, _, dW, _ in _layers_and_grads(calls, example):
        assert_close(_loose(dW, f"dW of {layer}"), example["lam"] * W, FLOAT64, f"dW of {layer} is not lam * W")


@drawn_property(
    function="l2_penalty_grads",
    name="matches_central_differences",
    says="l2_penalty_grads agrees with central differences of the penalty lam / 2 * sum ||W||**2",
    hint="The 1/2 in the penalty cancels the 2 of the derivative of w**2.",
    points=2,
    examples=L2,
    establishes_correctness=True,  # the grader's own penalty, not the student's
)
def grads_match_central_differences(calls: Calls, example: Example) -> None:
    lam = example["lam"]
    for layer, W, b, dW, db in _layers_and_grads(calls, example):
        # The penalty is a sum of one term lam / 2 * w**2 per weight, so its partial derivatives are those of
        # the terms: differencing each term alone avoids the rounding of the whole sum.
        numerical_dW = central_differences(lambda w: lam / 2 * np.square(w), W, elementwise=True)
        what = f"of {layer} disagrees with central differences of the penalty"
        assert_close(_loose(dW, f"dW of {layer}"), numerical_dW, DERIVATIVE_TOLERANCE, f"dW {what}")
        db_full = _broadcast(_loose(db, f"db of {layer}"), b.shape)
        assert_close(db_full, np.zeros_like(b), DERIVATIVE_TOLERANCE, f"db {what}")


@drawn_property(
    function="l2_penalty_grads",
    name="zero_bias_gradients",
    says="l2_penalty_grads gives db = 0: biases are not penalized",
    hint="The penalty does not contain b, so its derivative with respect to b is zero.",
    points=1,
    examples=L2,
    gated=True,  # a zero function keeps it
)
def bias_grads_are_zero(calls: Calls, example: Example) -> None:
    for layer, _, _, _, db in _layers_and_grads(calls, example):
        got = _loose(db, f"db of {layer}")
        if np.any(got != 0):
            raise PropertyFailure(f"db of {layer} is not zero: the penalty does not depend on the biases", got=got)


def _broadcast(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` (a plain 0 is fine here) spread to ``shape``; the shape is another property's concern."""
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        raise PropertyFailure(f"a gradient of shape {value.shape} where {shape} was expected", got=value) from None


@drawn_property(
    function="l2_penalty_grads",
    says="l2_penalty_grads returns a (dW, db) pair of arrays shaped like each (W, b), of its float dtype",
    hint="Return one tuple per layer, with arrays of the same shapes as W and b (np.zeros_like helps).",
    points=1,
    examples=draw.in_float_dtypes(L2),
    gated=True,
    hints=DTYPE_HINTS,
)
def shaped_like_params(calls: Calls, example: Example) -> None:
    for layer, W, b, dW, db in _layers_and_grads(calls, example):
        for name, got, like in (("dW", dW, W), ("db", db, b)):
            part = array_part(got, "l2_penalty_grads", f"{name} of {layer}")
            if part.shape != like.shape or part.dtype != like.dtype:
                raise PropertyFailure(
                    f"{name} of {layer} has shape {part.shape} and dtype {part.dtype}; expected the shape "
                    f"{like.shape} and dtype {like.dtype} of its parameter",
                    observed=observed_dtype(part.dtype, like.dtype) if part.shape == like.shape else None,
                )


# --- ridge_fit ----------------------------------------------------------------------------------

RIDGE_LAMBDAS = st.one_of(st.sampled_from([0.1, 1.0, 10.0]), st.floats(0.1, 100.0))
RIDGE_TOLERANCE = Tolerance(rtol=1e-6, atol=1e-8)
HUGE_LAMBDA = 1e9


@st.composite
def _ridge_examples(draw_from: st.DrawFn, lams: st.SearchStrategy[float] = RIDGE_LAMBDAS) -> Example:
    """``X: (n, p)`` with column 0 all ones, ``y: (n,)`` and ``lam``.

    n < p happens: with lam > 0 ridge still has a unique solution.
    """
    n, p = draw_from(st.integers(1, 8)), draw_from(st.integers(1, 4))
    features, y = draw_from(draw.float64_blocks([(n, p - 1), (n,)], 3.0))
    return {"X": np.column_stack([np.ones(n), features]), "y": y, "lam": draw_from(lams)}


def _sklearn_ridge(example: Example) -> np.ndarray:
    """scikit-learn's ``Ridge`` with an intercept, fitted on the columns after the intercept column."""
    X, y, lam = example["X"], example["y"], example["lam"]
    if X.shape[1] == 1:  # only the intercept: the best constant is the mean
        return np.array([np.mean(y)])
    from sklearn.linear_model import Ridge

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Ridge(alpha=lam, fit_intercept=True).fit(X[:, 1:], y)
    return np.concatenate([[model.intercept_], model.coef_])


RIDGE = _ridge_examples()


@drawn_property(
    function="ridge_fit",
    name="returns_the_right_shape",
    says="ridge_fit returns w of shape (p,), one weight per column of X",
    hint="Keep y one-dimensional: (p, n) @ (n,) gives (p,).",
    points=1,
    examples=_ridge_examples(),
    gated=True,
)
def ridge_fit_shape(calls: Calls, example: Example) -> None:
    got = result_of(calls, example)
    want = (example["X"].shape[1],)
    if got.shape != want:
        raise PropertyFailure(f"ridge_fit returned shape {got.shape} for X: {example['X'].shape}; expected {want}")


@drawn_property(
    function="ridge_fit",
    says="adding a constant to y moves only the intercept w[0], by that constant",
    hint="An unpenalized intercept absorbs any constant shift of y for free; a penalized one cannot.",
    points=2,
    examples=st.tuples(_ridge_examples(), st.sampled_from([-3.0, 0.5, 10.0])).map(
        lambda pair: {**pair[0], "shift": pair[1]}
    ),
    gated=True,  # predicting mean(y) with zero weights keeps it
)
def shift_moves_only_intercept(calls: Calls, example: Example) -> None:
    shift = example["shift"]
    unshifted = {name: value for name, value in example.items() if name != "shift"}
    w = result_of(calls, unshifted)
    if w.ndim != 1:
        raise PropertyFailure(f"ridge_fit returned shape {w.shape}; expected a vector of weights")
    shifted = result_of(calls, {**unshifted, "y": example["y"] + shift})
    assert_close(
        shifted,
        w + shift * (np.arange(w.shape[0]) == 0),
        Tolerance(rtol=1e-6, atol=1e-7),
        f"ridge_fit(X, y + {shift:g}) is not ridge_fit(X, y) with {shift:g} added to the intercept w[0]",
    )


@drawn_property(
    function="ridge_fit",
    name="huge_lambda_leaves_the_mean",
    says="with a huge lam, every weight but the intercept is 0 and the intercept is mean(y)",
    hint="As lam grows the penalized weights shrink to 0; the unpenalized intercept then fits the best constant.",
    points=1,
    examples=_ridge_examples(st.just(HUGE_LAMBDA)),
    gated=True,  # predicting mean(y) with zero weights keeps it
)
def huge_lambda_keeps_only_intercept(calls: Calls, example: Example) -> None:
    want = np.zeros(example["X"].shape[1])
    want[0] = np.mean(example["y"])
    assert_close(
        result_of(calls, example),
        want,
        Tolerance(rtol=1e-5, atol=1e-5),
        f"with lam = {HUGE_LAMBDA:g}, ridge_fit should be close to (mean(y), 0, ..., 0)",
    )


# --- dropout_forward and dropout_backward -------------------------------------------------------

PROBABILITIES = st.one_of(st.sampled_from([0.1, 0.25, 0.5, 0.8]), st.floats(0.01, 0.99))
ANY_SHAPE = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6).flatmap(
    lambda shape: draw.float64_arrays(shape, 10.0)
)


def _dropout_examples(
    x: st.SearchStrategy[np.ndarray] = ANY_SHAPE,
    p: st.SearchStrategy[float] = PROBABILITIES,
    training: st.SearchStrategy[bool] | None = None,
) -> st.SearchStrategy[Example]:
    """``(x, p, rng, training)``; without a ``training`` strategy it is left out or True (training mode)."""
    required = {"x": x, "p": p, "rng": draw.generators()}
    if training is None:
        examples = st.fixed_dictionaries(required, optional={"training": st.just(True)})
    else:
        examples = st.fixed_dictionaries({**required, "training": training})
    return examples.map(in_order("x", "p", "rng", "training"))


def _out_and_mask(
    calls: Calls, example: Example, errstate: bool = False, repeat: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    answer = calls.student(*example.values(), errstate=errstate, repeat=repeat)
    out, mask = parts_of(answer, ("out", "mask"), "dropout_forward")
    out = array_part(out, "dropout_forward", "out")
    mask = array_part(mask, "dropout_forward", "mask")
    x = example["x"]
    for name, part in (("out", out), ("mask", mask)):
        if part.shape != x.shape:
            raise PropertyFailure(f"dropout_forward returned {name} of shape {part.shape} for x of shape {x.shape}")
    return out, mask.astype(bool)


DROPOUT = _dropout_examples()


@drawn_property(
    function="dropout_forward",
    says="dropout_forward's out is x * mask / (1 - p) for the mask it returns",
    hint="Inverted dropout scales the kept units by 1 / (1 - p), so that the expected output is x.",
    points=1,
    examples=DROPOUT,
    gated=True,  # checked against the student's own mask: dropping every unit keeps it
)
def mask_explains_output(calls: Calls, example: Example) -> None:
    out, kept = _out_and_mask(calls, example)
    x, p = example["x"], example["p"]
    assert_close(out, x * kept / (1 - p), FLOAT64, "out is not x * mask / (1 - p) for the mask returned")


@drawn_property(
    function="dropout_forward",
    name="returns_the_right_dtypes",
    says="dropout_forward's mask is a boolean array shaped like x (True = kept), and out has x's shape and float "
    "dtype (float32 included)",
    hint="Compare the random numbers with p: the comparison already gives booleans. Keep the scale out of the mask.",
    points=1,
    examples=draw.in_float_dtypes(DROPOUT),
    gated=True,
    hints=DTYPE_HINTS,
)
def dropout_dtypes(calls: Calls, example: Example) -> None:
    out, mask = parts_of(calls.student(*example.values()), ("out", "mask"), "dropout_forward")
    out, mask, x = array_part(out, "dropout_forward", "out"), array_part(mask, "dropout_forward", "mask"), example["x"]
    if mask.dtype != np.bool_ or mask.shape != x.shape:
        raise PropertyFailure(
            f"the mask has dtype {mask.dtype} and shape {mask.shape}; expected booleans shaped like x "
            f"{x.shape} (True = kept)",
            got=mask,
        )
    if out.dtype != x.dtype or out.shape != x.shape:
        raise PropertyFailure(
            f"out has dtype {out.dtype} and shape {out.shape} for x of dtype {x.dtype} and shape {x.shape}",
            observed=observed_dtype(out.dtype, x.dtype) if out.shape == x.shape else None,
        )


# Statistical properties: at least 2000 units, so the binomial bounds are tight.
LARGE_X = st.tuples(st.integers(20, 100), st.integers(100, 200), st.sampled_from([-3.0, 0.5, 2.0, 7.0])).map(
    lambda spec: np.full(spec[:2], spec[2])
)


@drawn_property(
    function="dropout_forward",
    says="dropout_forward keeps the mean of x (within a binomial bound)",
    hint="Each unit is kept with probability 1 - p; dividing the kept ones by 1 - p restores the mean.",
    points=1,
    examples=_dropout_examples(x=LARGE_X),
    gated=True,  # returning x itself keeps the mean
)
def keeps_the_mean(calls: Calls, example: Example) -> None:
    out, _ = _out_and_mask(calls, example)
    x, p = example["x"], example["p"]
    units = x.size
    bound = 6 * np.sqrt(p / (units * (1 - p)))  # the relative standard error of the mean of x * mask / (1 - p)
    ratio = float(np.mean(out) / np.mean(x))
    if abs(ratio - 1) > bound:
        raise PropertyFailure(
            f"over {units} units of value {x.flat[0]:g} with p = {p:g}, the mean of out is {ratio:.4f} times "
            f"the mean of x; inverted dropout keeps it within 1 +- {bound:.4f} (six standard errors)"
        )


@drawn_property(
    function="dropout_forward",
    says="dropout_forward drops a fraction of units close to p (within a binomial bound)",
    hint="p is the probability of DROPPING a unit: a unit is kept when its random number is at least p.",
    points=1,
    examples=_dropout_examples(x=LARGE_X),
    establishes_correctness=True,  # the contract's binomial distribution of the mask
)
def drops_a_fraction_p(calls: Calls, example: Example) -> None:
    _, kept = _out_and_mask(calls, example)
    p, units = example["p"], kept.size
    dropped = 1 - float(np.mean(kept))
    bound = 6 * np.sqrt(p * (1 - p) / units)
    if abs(dropped - p) > bound:
        raise PropertyFailure(
            f"the mask drops {dropped:.4f} of {units} units with p = {p:g}; expected p +- {bound:.4f} "
            "(six standard errors)"
        )


def _assert_identity(calls: Calls, example: Example) -> None:
    """dropout_forward returned ``x`` itself and a mask of all True."""
    out, kept = _out_and_mask(calls, example)
    assert_close(out, example["x"], FLOAT64, "dropout_forward changed x where it must be the identity")
    if not np.all(kept):
        raise PropertyFailure("the mask drops units where dropout must be the identity (expected all True)", got=kept)


@drawn_property(
    function="dropout_forward",
    says="dropout_forward with training=False returns x unchanged and a mask of all True",
    hint="At evaluation time dropout does nothing: no random units are dropped and nothing is rescaled.",
    points=1,
    examples=_dropout_examples(training=st.just(False)),
    gated=True,  # returning x itself keeps it
)
def identity_in_evaluation(calls: Calls, example: Example) -> None:
    _assert_identity(calls, example)


@drawn_property(
    function="dropout_forward",
    says="dropout_forward with p = 0 returns x unchanged and a mask of all True",
    hint="With p = 0 no unit is dropped, and 1 / (1 - 0) = 1.",
    points=1,
    examples=_dropout_examples(p=st.just(0.0)),
    gated=True,
)
def identity_at_p_zero(calls: Calls, example: Example) -> None:
    _assert_identity(calls, example)


@drawn_property(
    function="dropout_forward",
    name="zeros_at_p_one",
    says="dropout_forward with p = 1 returns zeros and a mask of all False, without dividing by zero",
    hint="With p = 1 every unit is dropped; 0 / (1 - 1) is 0 / 0. Handle p = 1 before dividing.",
    points=1,
    examples=_dropout_examples(p=st.just(1.0)),
    gated=True,  # dropping every unit keeps it
)
def dropout_zeros_at_p_one(calls: Calls, example: Example) -> None:
    out, kept = _out_and_mask(calls, example, errstate=True)
    assert_finite(out, "dropout_forward with p = 1")
    assert_close(out, np.zeros_like(example["x"]), FLOAT64, "dropout_forward with p = 1 is not all zeros")
    if np.any(kept):
        raise PropertyFailure("with p = 1 the mask keeps units (expected all False)", got=kept)


@drawn_property(
    function="dropout_forward",
    says="dropout_forward draws its mask from the rng it is given (same seed, same mask)",
    hint="All randomness comes from the rng argument (rng.random): not np.random, not a generator of your own.",
    points=1,
    examples=_dropout_examples(
        x=st.tuples(st.integers(8, 16), st.integers(8, 16)).flatmap(lambda shape: draw.float64_arrays(shape, 10.0)),
        p=st.sampled_from([0.3, 0.5]),
    ),
    gated=True,  # any use of the rng keeps it, whatever is drawn
)
def uses_the_rng(calls: Calls, example: Example) -> None:
    seed = int(example["rng"].args[0])
    _, first = _out_and_mask(calls, example)
    _, again = _out_and_mask(calls, example, repeat=1)
    _, other = _out_and_mask(calls, {**example, "rng": NamedCallable("rng", seed ^ 1)})
    if not np.array_equal(first, again):
        raise PropertyFailure("two calls with generators of the same seed returned different masks")
    if np.array_equal(first, other):
        raise PropertyFailure("generators of different seeds gave the same mask: the rng argument is not used")


def _many_units(rng: np.random.Generator) -> list[Any]:
    """A large batch for dropout_forward, with a seeded generator (rebuilt in each worker from its seed)."""
    return [rng.standard_normal(1 << 19), 0.5, NamedCallable("rng", int(rng.integers(2**32)))]


def _many_gradients(rng: np.random.Generator) -> list[Any]:
    # The mask keeps or drops runs of 64 units: with a mask that changes at random from unit to unit,
    # np.where(mask, dout, 0) and dout[mask] pay for the processor's mispredicted branches, about five times
    # the cost of dout * mask; the timing is about passes over the data, not about branch prediction.
    mask = np.repeat(rng.random(1 << 14) >= 0.5, 64)
    return [rng.standard_normal(1 << 20), mask, 0.5]


# Dropout's references make one or two cheap passes over the data, so an honest variant is far from them in
# ratio: np.where on dropout_forward's random mask pays for mispredicted branches (2 times the reference, 3.6
# for twice that work), and dropout_backward's time goes mostly to allocating its result, which a loaded
# machine disturbs most (np.where(mask, dout, 0) / (1 - p), allocating twice: up to 2.8 times, and up to 9 for
# twice that work; bench/timing_reliability.py). A Python loop over the units is 100 to 150 times slower.
DROPOUT_RATIO = 10.0
DROPOUT_LOOP_HINT = "A Python loop over the units is slow: draw the whole mask at once and work on whole arrays."


@st.composite
def _backward_examples(draw_from: st.DrawFn, p: st.SearchStrategy[float] = PROBABILITIES) -> Example:
    dout = draw_from(ANY_SHAPE)
    mask = draw_from(hnp.arrays(np.bool_, dout.shape))
    return {"dout": dout, "mask": mask, "p": draw_from(p)}


def _backward_formula(example: Example) -> np.ndarray:
    dout, mask, p = example["dout"], example["mask"], example["p"]
    return np.asarray(dout * mask / (1 - p))


BACKWARD = _backward_examples()


@drawn_property(
    function="dropout_backward",
    name="matches_central_differences",
    says="dropout_backward is the gradient of the forward pass with the same mask and scale (central differences)",
    hint="The forward pass multiplied each unit by mask / (1 - p): the backward pass multiplies by the same.",
    points=2,
    examples=_backward_examples(),
    establishes_correctness=True,  # the grader's own forward pass, not the student's
)
def backward_matches_central_differences(calls: Calls, example: Example) -> None:
    dout, mask, p = example["dout"], example["mask"], example["p"]
    got = result_of(calls, example)
    # The forward pass with this mask is x -> x * mask / (1 - p), elementwise: its vector-Jacobian
    # product with dout is dout times its derivative.
    slope = central_differences(lambda x: x * mask / (1 - p), np.zeros_like(dout), elementwise=True)
    assert_close(
        got,
        dout * slope,
        DERIVATIVE_TOLERANCE,
        "dropout_backward disagrees with central differences of the forward pass with this mask",
    )


@drawn_property(
    function="dropout_backward",
    name="zeros_at_p_one",
    says="dropout_backward with p = 1 returns zeros, without dividing by zero",
    hint="Nothing was kept, so no gradient flows back; handle p = 1 before dividing by 1 - p.",
    points=1,
    examples=_backward_examples(p=st.just(1.0)),
    gated=True,  # a zero function keeps it
)
def backward_zeros_at_p_one(calls: Calls, example: Example) -> None:
    got = result_under_errstate(calls, example, "with p = 1")
    assert_finite(got, "dropout_backward with p = 1")
    assert_close(got, np.zeros_like(example["dout"]), FLOAT64, "dropout_backward with p = 1 is not all zeros")


# --- early_stopping -----------------------------------------------------------------------------

# Few distinct values, so ties and plateaus are common; and curves of arbitrary floats. The contract bounds no
# loss, so every curve is drawn at many orders of magnitude (draw.MAGNITUDES): improvements of 1e-6 and losses
# of 1e12 both occur, and a "best so far" that starts at a number such as 1e5, or an improvement that must
# exceed a threshold, shows.
TIED_CURVES = draw.at_any_magnitude(st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0]), min_size=1, max_size=12))
FLOAT_CURVES = draw.at_any_magnitude(st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=1, max_size=12))
DECREASING_CURVES = (
    draw.at_any_magnitude(st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=1, max_size=12, unique=True))
    .map(lambda values: sorted(values, reverse=True))
    .filter(lambda values: len(set(values)) == len(values))  # a tiny magnitude may round two values to one
)
PATIENCES = st.integers(1, 5)
# The notebook's worked example, and a few more, with the answers the contract gives.
WORKED_EXAMPLES: tuple[tuple[list[float], int, tuple[int, int]], ...] = (
    ([3.0, 2.0, 2.0, 2.5, 1.0], 2, (3, 1)),
    ([1.0, 2.0, 3.0], 5, (2, 0)),
    ([5.0, 4.0, 3.0], 1, (2, 2)),
    ([2.0, 2.0, 2.0, 2.0], 3, (3, 0)),
    ([4.0, 3.0, 3.5, 3.0, 3.2, 1.0], 3, (4, 1)),
    ([1.0, 0.5, 0.7, 0.6, 0.5, 0.9, 0.4], 2, (3, 1)),
)


def _stopping_examples(curves: st.SearchStrategy[list[float]], as_list: bool = False) -> st.SearchStrategy[Example]:
    def build(pair: tuple[list[float], int]) -> Example:
        curve, patience = pair
        return {"val_losses": list(curve) if as_list else np.array(curve, dtype=np.float64), "patience": patience}

    return st.tuples(curves, PATIENCES).map(build)


def _rule(val_losses: Any, patience: int) -> tuple[int, int]:
    """The contract's early-stopping rule, for the public checks."""
    losses = np.asarray(val_losses, dtype=np.float64)
    best = 0
    for epoch in range(losses.size):
        if losses[epoch] < losses[best]:
            best = epoch
        if epoch - best >= patience:
            return epoch, best
    return losses.size - 1, best


def _epochs(calls: Calls, example: Example) -> tuple[int, int]:
    """The student's ``(stop_epoch, best_epoch)`` as two ints, or a failure."""
    pair = parts_of(calls.student(*example.values()), ("stop_epoch", "best_epoch"), "early_stopping")
    epochs = []
    for name, value in zip(("stop_epoch", "best_epoch"), pair, strict=True):
        number = value.value if isinstance(value, NumpyScalar) else value
        if isinstance(number, np.ndarray) and number.ndim == 0 and number.dtype.kind in "iu":
            number = int(number)
        if not isinstance(number, int) or isinstance(number, bool):
            raise PropertyFailure(f"early_stopping returned {name} = {value!r}; epochs are integers")
        epochs.append(number)
    return epochs[0], epochs[1]


def _stopped(calls: Calls, example: Example) -> tuple[int, int, np.ndarray]:
    """The student's ``(stop_epoch, best_epoch)`` and the example's losses as a float64 array."""
    stop, best = _epochs(calls, example)
    return stop, best, np.asarray(example["val_losses"], dtype=np.float64)


# What a wrong answer shows, so that the hint fits it: an epoch index off by one, an improvement not taken
# (a threshold such as min_delta, or a "best so far" that starts at a fixed number), a tie that moved the
# best epoch, or a stop at the wrong distance from the best epoch.
EPOCH_INDEX, MISSED_IMPROVEMENT, TIE_MOVED_BEST, WRONG_PATIENCE = (
    "epoch_index",
    "missed_improvement",
    "tie_moved_best",
    "wrong_patience",
)
STOPPING_HINTS = {
    EPOCH_INDEX: "Epochs count from 0: the first epoch is 0 and the last is len(val_losses) - 1.",
    MISSED_IMPROVEMENT: "The best epoch moves at every strict decrease of the loss, however small (no min_delta "
    "or tolerance) and whatever the scale of the losses (start from the first loss, or from infinity, never "
    "from a number such as 1e5).",
    TIE_MOVED_BEST: "Only a strict improvement (<, not <=) moves the best epoch: on a tie the earlier epoch stays.",
    WRONG_PATIENCE: "Stop at the first epoch e with e - best >= patience: count the epochs since the best one.",
}


def _diagnosis(stop: int, best: int, losses: np.ndarray) -> str | None:
    """What a wrong ``(stop, best)`` shows about its rule (see :data:`STOPPING_HINTS`)."""
    if not (0 <= stop < losses.size and 0 <= best <= stop):
        return EPOCH_INDEX
    lowest = float(np.min(losses[: stop + 1]))
    if losses[best] > lowest:
        return MISSED_IMPROVEMENT
    if best != int(np.argmin(losses[: stop + 1])):
        return TIE_MOVED_BEST
    return WRONG_PATIENCE


STOPPING = _stopping_examples(st.one_of(TIED_CURVES, FLOAT_CURVES))


@drawn_property(
    function="early_stopping",
    says="early_stopping follows the contract's rule on drawn loss curves, ties and plateaus included",
    hint="Walk through the epochs once, keeping the epoch of the lowest loss so far; stop at the first epoch "
    "that is patience epochs past it.",
    points=3,
    examples=STOPPING,
    establishes_correctness=True,
    hints=STOPPING_HINTS,
)
def agrees_with_rule(calls: Calls, example: Example) -> None:
    stop, best, losses = _stopped(calls, example)
    want = _rule(losses, example["patience"])
    if (stop, best) != want:
        raise PropertyFailure(
            "early_stopping gave the wrong epochs", want, (stop, best), observed=_diagnosis(stop, best, losses)
        )


@drawn_property(
    function="early_stopping",
    says="early_stopping gives the stored answers on worked examples, the notebook's included",
    hint="Work the example [3, 2, 2, 2.5, 1] with patience 2 by hand, epoch by epoch.",
    points=1,
    examples=st.sampled_from(WORKED_EXAMPLES).map(lambda case: {"val_losses": np.array(case[0]), "patience": case[1]}),
    establishes_correctness=True,  # the stored answers
    hints=STOPPING_HINTS,
)
def worked_examples(calls: Calls, example: Example) -> None:
    stop, best, losses = _stopped(calls, example)
    want = next(
        answer
        for curve, patience, answer in WORKED_EXAMPLES
        if patience == example["patience"] and np.array_equal(curve, losses)
    )
    if (stop, best) != want:
        raise PropertyFailure(
            "early_stopping gave the wrong epochs on a worked example",
            want,
            (stop, best),
            observed=_diagnosis(stop, best, losses),
        )


@drawn_property(
    function="early_stopping",
    says="best_epoch is the first epoch of the lowest loss up to stop_epoch (ties keep the earlier epoch)",
    hint="Only a strict improvement (<, not <=) moves the best epoch.",
    points=1,
    examples=_stopping_examples(TIED_CURVES),
    gated=True,  # always answering (0, 0) keeps it
    hints=STOPPING_HINTS,
)
def ties_keep_the_first_epoch(calls: Calls, example: Example) -> None:
    stop, best, losses = _stopped(calls, example)
    first = int(np.argmin(losses[: max(stop, 0) + 1]))
    if best != first:
        raise PropertyFailure(
            f"best_epoch is {best}, but the first epoch with the lowest loss up to stop_epoch {stop} is {first}",
            first,
            best,
            observed=_diagnosis(stop, best, losses),
        )


@drawn_property(
    function="early_stopping",
    says="early stopping triggers exactly patience epochs after the best epoch",
    hint="Stop at the first epoch e with e - best >= patience: count the epochs since the best one.",
    points=1,
    examples=_stopping_examples(st.one_of(TIED_CURVES, FLOAT_CURVES)),
    gated=True,
    hints=STOPPING_HINTS,
)
def waits_exactly_patience_epochs(calls: Calls, example: Example) -> None:
    stop, best, losses = _stopped(calls, example)
    waited, patience = stop - best, example["patience"]
    if waited > patience or (stop < losses.size - 1 and waited != patience):
        raise PropertyFailure(
            f"stopped at epoch {stop}, {waited} epochs after the best epoch {best}; with patience {patience} "
            f"training stops as soon as {patience} epochs have passed without improvement",
            observed=_diagnosis(stop, best, losses),
        )


@drawn_property(
    function="early_stopping",
    says="when the rule never triggers, stop_epoch is the last epoch, len(val_losses) - 1",
    hint="Epochs count from 0, so the last epoch is len(val_losses) - 1.",
    points=1,
    examples=_stopping_examples(DECREASING_CURVES),
    gated=True,  # always answering the last epoch keeps it
    hints=STOPPING_HINTS,
)
def runs_to_the_end_if_never_triggered(calls: Calls, example: Example) -> None:
    stop, best, losses = _stopped(calls, example)
    last = losses.size - 1
    if (stop, best) != (last, last):
        raise PropertyFailure(
            f"every epoch improves, so training never stops early: expected ({last}, {last}), the last epoch",
            (last, last),
            (stop, best),
            observed=_diagnosis(stop, best, losses),
        )


@drawn_property(
    function="early_stopping",
    says="early_stopping accepts a plain Python list of losses (and answers as for an array)",
    hint="val_losses may be a list: use len() and indexing, or convert it once with np.asarray.",
    points=1,
    examples=_stopping_examples(st.one_of(TIED_CURVES, FLOAT_CURVES), as_list=True),
    gated=True,  # a constant answers the same for both
)
def accepts_a_list(calls: Calls, example: Example) -> None:
    from_list = _epochs(calls, example)
    from_array = _epochs(calls, {**example, "val_losses": np.array(example["val_losses"], dtype=np.float64)})
    if from_list != from_array:
        raise PropertyFailure("early_stopping gave other epochs for a list than for the same losses as an array")


PROPERTIES: tuple[Property, ...] = (
    # polynomial_features
    agrees_with(
        function="polynomial_features",
        name="agrees_with_numpy",
        says="polynomial_features agrees with numpy.vander(x, degree + 1, increasing=True)",
        hint="Row i is (1, x_i, x_i**2, ..., x_i**degree).",
        points=4,
        examples=POLYNOMIAL,
        expected=lambda calls, example: _vander(example),
    ),
    agrees_with_reference(
        function="polynomial_features", hint="Check degree 0 and negative inputs.", points=2, examples=POLYNOMIAL
    ),
    polynomial_features_shape,
    first_column_is_ones,
    leaves_nested_input_unchanged(
        function="polynomial_features",
        points=1,
        examples=POLYNOMIAL,
        hint="Setting x.shape or x /= ... changes the caller's array; x[:, None] is a new view that leaves it alone.",
    ),
    as_fast_as_reference(
        function="polynomial_features",
        make_input=_many_inputs,
        hint="A Python loop over the inputs is slow: broadcast a column of inputs against a row of powers.",
        points=1,
    ),
    # l2_penalty
    agrees_with(
        function="l2_penalty",
        name="agrees_with_formula",
        says="l2_penalty is lam / 2 times the sum of the squared weights of every layer",
        hint="lam / 2 * sum over layers of ||W||_F**2, returned as one number.",
        points=3,
        examples=L2,
        expected=lambda calls, example: _penalty(example["params"], example["lam"]),
    ),
    agrees_with_reference(
        function="l2_penalty", hint="Check a network of several layers with lam = 0.5.", points=2, examples=L2
    ),
    ignores_biases,
    penalty_zero_at_zero_lambda,
    sums_over_layers,
    leaves_nested_input_unchanged(function="l2_penalty", points=1, examples=L2),
    # l2_penalty_grads
    weight_grads_are_lam_w,
    agrees_with_reference(
        function="l2_penalty_grads",
        hint="Check several layers, and look at what you return for b.",
        points=2,
        examples=L2,
    ),
    grads_match_central_differences,
    bias_grads_are_zero,
    shaped_like_params,
    leaves_nested_input_unchanged(function="l2_penalty_grads", points=1, examples=L2),
    # ridge_fit
    agrees_with(
        function="ridge_fit",
        name="agrees_with_sklearn",
        says="ridge_fit agrees with sklearn.linear_model.Ridge(alpha=lam) with an intercept",
        hint="Solve (X^T X + lam * D) w = X^T y, where D is the identity with D[0, 0] = 0.",
        points=3,
        examples=RIDGE,
        expected=lambda calls, example: _sklearn_ridge(example),
        tolerance=RIDGE_TOLERANCE,
    ),
    agrees_with_reference(
        function="ridge_fit",
        hint="Try X with a single row, and with more columns than rows.",
        points=2,
        examples=RIDGE,
    ),
    shift_moves_only_intercept,
    huge_lambda_keeps_only_intercept,
    ridge_fit_shape,
    leaves_nested_input_unchanged(
        function="ridge_fit",
        points=1,
        examples=RIDGE,
        hint="y -= y.mean() or X[:, 0] = 0 change the caller's arrays; make centred copies instead.",
    ),
    # dropout_forward
    mask_explains_output,
    dropout_dtypes,
    keeps_the_mean,
    drops_a_fraction_p,
    identity_in_evaluation,
    identity_at_p_zero,
    dropout_zeros_at_p_one,
    uses_the_rng,
    leaves_nested_input_unchanged(
        function="dropout_forward",
        points=1,
        examples=DROPOUT,
        hint="x *= mask or x[~mask] = 0 change the caller's array; compute a new one.",
    ),
    # The student's mask and the reference's differ (the contract does not fix how the rng is used), so
    # both sides are timed through a harness that answers how many units of out disagree with the mask.
    as_fast_as_reference(
        function="dropout_forward",
        make_input=_many_units,
        hint=DROPOUT_LOOP_HINT,
        points=1,
        max_ratio=DROPOUT_RATIO,
        harness=NamedCallable("dropout_check"),
    ),
    # dropout_backward
    agrees_with(
        function="dropout_backward",
        name="agrees_with_formula",
        says="dropout_backward is dout * mask / (1 - p)",
        hint="The gradient flows back through the kept units only, scaled by the same 1 / (1 - p) as the forward pass.",
        points=3,
        examples=BACKWARD,
        expected=lambda calls, example: _backward_formula(example),
    ),
    agrees_with_reference(
        function="dropout_backward",
        hint="Check a mask with both kept and dropped units.",
        points=1,
        examples=BACKWARD,
    ),
    backward_matches_central_differences,
    backward_zeros_at_p_one,
    leaves_nested_input_unchanged(
        function="dropout_backward",
        points=1,
        examples=BACKWARD,
        hint="dout[~mask] = 0 or dout /= ... change the caller's array.",
    ),
    keeps_shape_and_dtype(function="dropout_backward", points=1, examples=draw.in_float_dtypes(BACKWARD)),
    as_fast_as_reference(
        function="dropout_backward",
        make_input=_many_gradients,
        hint=DROPOUT_LOOP_HINT,
        points=1,
        max_ratio=DROPOUT_RATIO,
    ),
    # early_stopping
    agrees_with_rule,
    agrees_with_reference(
        function="early_stopping",
        hint="Try curves with plateaus, and patience 1.",
        points=2,
        examples=STOPPING,
        names=("stop_epoch", "best_epoch"),
    ),
    worked_examples,
    ties_keep_the_first_epoch,
    waits_exactly_patience_epochs,
    runs_to_the_end_if_never_triggered,
    accepts_a_list,
)

ASSIGNMENT = Assignment(
    id="04_regularization",
    notebook="regularization.ipynb",
    properties=PROPERTIES,
    preload=("numpy", "matplotlib", "matplotlib.pyplot", "course_lib.datasets"),
    dtypes={
        "polynomial_features": "input",
        "l2_penalty": "number",
        "l2_penalty_grads": "input",
        "ridge_fit": "input",
        "dropout_forward": "input",
        "dropout_backward": "input",
        "early_stopping": "integers",
    },
)
