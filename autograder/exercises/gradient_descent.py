"""The property catalogue of ``03_gradient_descent`` (contract: docs/CURRICULUM.md, section 03).

Public properties need no reference solution: losses and their gradients are compared with PyTorch
(``torch.nn.functional`` and ``torch.autograd`` on the same float64 inputs) and with the grader's own
central differences; optimizers with ``torch.optim``, with closed forms on quadratic bowls and with
invariants (a zero learning rate changes nothing, ``beta = 0`` momentum is gradient descent). Functions
that take callables get them by name from :mod:`autograder.sandbox.callables`. ``minibatch_sgd`` shuffles with
the student's own use of the rng, so it is checked structurally, through a harness that records every
mini-batch and step. Hidden properties compare with the instructor's reference and time the vectorised
functions. Each function is worth 10 points.

PyTorch is imported in the grader process only, when a property first needs it; student code for this
assignment needs NumPy alone.
"""

from __future__ import annotations

from collections.abc import Callable
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
    as_fast_as_reference,
    assert_nested_close,
    central_differences,
    drawn_property,
    first_array,
    in_order,
    keeps_shape_and_dtype,
    leaves_input_unchanged,
    leaves_nested_input_unchanged,
    number_of,
    plain_array,
    result_of,
    returns_one_number,
    stable_for_large_inputs,
)
from autograder.grading.calls import Calls
from autograder.grading.catalogue import Assignment, Property
from autograder.grading.checks import (
    DTYPE_HINTS,
    PROMOTED_TO_FLOAT64,
    PropertyFailure,
    Tolerance,
    assert_close,
    observed_dtype,
    tolerance_for,
)
from autograder.sandbox.callables import flat_parameters, linear_network_loss_and_grads
from autograder.sandbox.protocol import NamedCallable

F64 = np.dtype(np.float64)
EXACT = Tolerance(rtol=0.0, atol=0.0)
ACTIVATIONS = ("relu", "sigmoid", "tanh")
Layers = list[tuple[np.ndarray, np.ndarray]]
# For results made of many arrays: the property's own hint says where float64 comes in, the others are shared.
LAYER_DTYPE_HINTS = {observed: hint for observed, hint in DTYPE_HINTS.items() if observed != PROMOTED_TO_FLOAT64}


def _close(function: str, got: Any, want: Any, what: str, names: str | tuple[str, ...] | None = None) -> None:
    """``function``'s ``got`` equals ``want`` within float64 tolerance (numbers, arrays, tuples and lists);
    ``what`` and ``names`` say which part differs (:func:`assert_nested_close`)."""
    assert_nested_close(got, want, tolerance_for(F64), what, function, names=names)


# ---------------------------------------------------------------- outside references: PyTorch, float64


def _torch() -> Any:
    import torch

    # Tiny tensors: one thread is many times faster than a pool that competes for a busy machine's cores.
    torch.set_num_threads(1)
    return torch


def _tensor(array: np.ndarray, grad: bool = False) -> Any:
    return _torch().tensor(np.asarray(array), requires_grad=grad)


def warm_pytorch() -> None:
    """Load PyTorch and what its optimizers load on their first step (its compiler: about a second each), so
    that a check after the service prepared 03 pays for neither."""
    weight = _tensor(np.zeros(1), grad=True)
    weight.sum().backward()
    _torch().optim.SGD([weight], lr=0.1).step()


def torch_value_and_grad(loss: str, first: np.ndarray, second: np.ndarray) -> tuple[float, np.ndarray]:
    """PyTorch's ``loss`` of ``(first, second)`` and its gradient with respect to ``first``, in float64."""
    functional = _torch().nn.functional
    torch_loss = {
        "mse_loss": functional.mse_loss,
        "bce_with_logits": functional.binary_cross_entropy_with_logits,
        "cross_entropy": functional.cross_entropy,
    }[loss]
    prediction = _tensor(first.astype(np.float64), grad=True)
    value = torch_loss(prediction, _tensor(second))
    value.backward()
    return float(value.item()), np.asarray(prediction.grad.numpy())


def torch_huber(example: Example) -> float:
    """PyTorch's mean ``huber_loss`` of an example's ``(y_pred, y)``, with its ``delta`` (default 1), in float64."""
    prediction, target = (_tensor(example[name].astype(np.float64)) for name in ("y_pred", "y"))
    return float(_torch().nn.functional.huber_loss(prediction, target, delta=example.get("delta", 1.0)).item())


def torch_mlp(x: np.ndarray, labels: np.ndarray, params: Layers, activation: str) -> tuple[float, Layers]:
    """PyTorch's mean cross-entropy of the MLP and its gradients by ``torch.autograd``."""
    torch = _torch()
    layers = [(_tensor(w, grad=True), _tensor(b, grad=True)) for w, b in params]
    nonlinearity = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[activation]
    h = _tensor(x)
    for index, (w, b) in enumerate(layers):
        h = h @ w + b
        if index < len(layers) - 1:
            h = nonlinearity(h)
    loss = torch.nn.functional.cross_entropy(h, _tensor(labels))
    loss.backward()
    return float(loss.item()), [(w.grad.numpy(), b.grad.numpy()) for w, b in layers]


# ---------------------------------------------------------------- the grader's own NumPy formulas


def _logsumexp(z: np.ndarray) -> np.ndarray:
    """log(sum(exp(z))) along the rows, stably."""
    top = z.max(axis=1)
    return np.asarray(top + np.log(np.exp(z - top[:, None]).sum(axis=1)))


# The losses as functions of their first argument, for central differences independent of PyTorch.
LOSS_FORMULAS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "mse_loss": lambda y_pred, y: float(np.mean((y_pred - y) ** 2)),
    "bce_with_logits": lambda z, y: float(np.mean(np.logaddexp(0.0, z) - z * y)),
    "cross_entropy": lambda logits, labels: float(np.mean(_logsumexp(logits) - logits[np.arange(len(labels)), labels])),
}

NONLINEARITIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: np.exp(-np.logaddexp(0.0, -z)),  # stable: exp of a value <= 0
    "tanh": np.tanh,
}


def _hidden_layers(x: np.ndarray, params: Layers, activation: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The hidden pre-activations and the logits of the MLP, in float64."""
    h, pre_activations = x, []
    for w, b in params[:-1]:
        pre_activations.append(h @ w + b)
        h = NONLINEARITIES[activation](pre_activations[-1])
    w, b = params[-1]
    return pre_activations, h @ w + b


def mlp_loss(x: np.ndarray, labels: np.ndarray, params: Layers, activation: str) -> float:
    return LOSS_FORMULAS["cross_entropy"](_hidden_layers(x, params, activation)[1], labels)


def mlp_central_differences(x: np.ndarray, labels: np.ndarray, params: Layers, activation: str) -> Layers:
    """Every parameter's gradient by the grader's own central differences of :func:`mlp_loss`."""

    def loss_of(layer: int, which: int) -> Callable[[np.ndarray], float]:
        def loss(value: np.ndarray) -> float:
            w, b = params[layer]
            changed = (value, b) if which == 0 else (w, value)
            return mlp_loss(x, labels, [*params[:layer], changed, *params[layer + 1 :]], activation)

        return loss

    return [
        (central_differences(loss_of(i, 0), w), central_differences(loss_of(i, 1), b))
        for i, (w, b) in enumerate(params)
    ]


# ---------------------------------------------------------------- the losses and their gradients


def _pairs(
    names: tuple[str, str],
    max_abs: float = draw.MAX_ABS,
    dtypes: st.SearchStrategy[np.dtype[Any]] | None = None,
    second: Callable[[np.ndarray], np.ndarray] | None = None,
) -> st.SearchStrategy[Example]:
    """Two arrays of one shape (1 or 2 dimensions), named; ``second`` maps the second one (targets in [0, 1])."""
    arrays = draw.seeded_arrays(2, max_abs=max_abs, dtypes=draw.float64s() if dtypes is None else dtypes)
    return arrays.map(lambda pair: {names[0]: pair[0], names[1]: pair[1] if second is None else second(pair[1])})


def _probabilities(y: np.ndarray) -> np.ndarray:
    """Drawn values folded into [0, 1] (targets of a binary cross-entropy), hard 0 and 1 included."""
    with np.errstate(all="ignore"):
        folded = np.abs(np.sin(y.astype(np.float64)))
    return np.where(np.abs(y) >= 20.0, np.round(folded), folded).astype(y.dtype)


def _huge(z: np.ndarray) -> np.ndarray:
    """``z`` with every value under 700 in size pushed to +-1e4, where naive exponentials overflow."""
    return np.where(np.abs(z) < 700, np.sign(z) * 1e4, z)


def _logits(max_abs: float = draw.MAX_ABS, float32: bool = False) -> st.SearchStrategy[Example]:
    pairs = draw.logits_and_labels(max_abs, None if float32 else draw.float64s())
    return pairs.map(lambda pair: {"logits": pair[0], "labels": pair[1]})


PREDICTIONS = _pairs(("y_pred", "y"))
PREDICTIONS_MODERATE = _pairs(("y_pred", "y"), max_abs=30.0)
PREDICTIONS_ANY_DTYPE = _pairs(("y_pred", "y"), dtypes=draw.float_dtypes(), max_abs=100.0)
# Huber's delta is left out (the default, 1) or drawn; small residuals keep every element in the quadratic branch.
HUBER = st.tuples(PREDICTIONS, st.none() | st.floats(0.1, 10.0)).map(
    lambda drawn: drawn[0] if drawn[1] is None else {**drawn[0], "delta": drawn[1]}
)
SMALL_RESIDUALS = PREDICTIONS.map(
    lambda ex: {"y_pred": ex["y_pred"], "y": ex["y_pred"] - np.tanh(ex["y_pred"] - ex["y"])}
)
BINARY = _pairs(("z", "y"), second=_probabilities)
BINARY_MODERATE = _pairs(("z", "y"), max_abs=30.0, second=_probabilities)
BINARY_ANY_DTYPE = _pairs(("z", "y"), dtypes=draw.float_dtypes(), max_abs=100.0, second=_probabilities)
BINARY_LARGE = BINARY.map(lambda ex: {**ex, "z": _huge(ex["z"])})
LOGITS = _logits()
LOGITS_MODERATE = _logits(max_abs=30.0)
LOGITS_ANY_DTYPE = _logits(max_abs=100.0, float32=True)
LOGITS_LARGE = LOGITS.map(lambda ex: {**ex, "logits": _huge(ex["logits"])})

STABILITY_HINT = (
    "np.exp of a large number overflows and log(0) is -inf. Rewrite the formula so that exp only ever "
    "sees values <= 0 (the log-sum-exp trick, or max(z, 0) - z y + log1p(exp(-|z|)))."
)


def agrees_with_torch(
    *, loss: str, torch_name: str, hint: str, points: float, examples: st.SearchStrategy[Example]
) -> Property:
    """``loss`` equals PyTorch's ``torch.nn.functional.<torch_name>`` of the same float64 inputs."""
    return agrees_with(
        function=loss,
        name="agrees_with_torch",
        says=f"{loss} agrees with torch.nn.functional.{torch_name} on float64 inputs",
        hint=hint,
        points=points,
        examples=examples,
        expected=lambda calls, ex: torch_value_and_grad(loss, *ex.values())[0],
    )


def mean_over_the_batch(*, loss: str, points: float, examples: st.SearchStrategy[Example]) -> Property:
    """The loss of a batch stacked on itself equals the loss of the batch: a mean, not a sum."""

    @drawn_property(
        function=loss,
        name="mean_over_the_batch",
        says=f"{loss} of a batch stacked on itself equals {loss} of the batch (a mean, not a sum)",
        hint="A loss averages over the examples, so that it does not grow with the batch size: divide by the count.",
        points=points,
        examples=examples,
        gated=True,  # a constant is the same for any batch
    )
    def test(calls: Calls, example: Example) -> None:
        once = result_of(calls, example, read=number_of)
        stacked = {name: np.concatenate([value] * 2) for name, value in example.items()}
        twice = result_of(calls, stacked, read=number_of)
        _close(loss, twice, once, f"{loss} of the batch stacked on itself differs from {loss} of the batch")

    return test


def grad_agrees_with_torch(*, loss: str, hint: str, points: float, examples: st.SearchStrategy[Example]) -> Property:
    """``<loss>_grad`` equals ``torch.autograd``'s gradient of PyTorch's ``loss`` in its first argument."""
    return agrees_with(
        function=f"{loss}_grad",
        name="agrees_with_torch_autograd",
        says=f"{loss}_grad agrees with torch.autograd's gradient of the same loss",
        hint=hint,
        points=points,
        examples=examples,
        expected=lambda calls, ex: torch_value_and_grad(loss, *ex.values())[1],
    )


def grad_matches_central_differences(
    *, loss: str, hint: str, points: float, examples: st.SearchStrategy[Example]
) -> Property:
    """``<loss>_grad`` equals the grader's own central differences of :data:`LOSS_FORMULAS`'s ``loss``."""

    @drawn_property(
        function=f"{loss}_grad",
        name="matches_central_differences",
        says=f"{loss}_grad agrees with central differences of {loss} in every coordinate",
        hint=hint,
        points=points,
        examples=examples,
        establishes_correctness=True,  # the grader's own formula of the loss, not the student's
    )
    def test(calls: Calls, example: Example) -> None:
        first, second = example.values()
        numerical = central_differences(lambda p: LOSS_FORMULAS[loss](p, second), first)
        what = f"{loss}_grad disagrees with central differences of {loss}"
        assert_close(result_of(calls, example), numerical, DERIVATIVE_TOLERANCE, what)

    return test


# ---------------------------------------------------------------- numerical_gradient


def _functions_of(name: str, max_abs: float, dtype: np.dtype[Any] = F64) -> st.SearchStrategy[Example]:
    """``{"f": NamedCallable(name, c), "x": x}`` with ``x`` of any shape (0-d included, up to 3 dimensions)
    and coefficients ``c`` of its shape in [-3, 3]."""
    arrays = draw.seeded_arrays(2, min_dims=0, max_dims=3, max_side=3, max_abs=max_abs, dtypes=st.just(dtype))
    return arrays.map(lambda pair: {"f": NamedCallable(name, np.clip(pair[1], -3.0, 3.0).astype(F64)), "x": pair[0]})


SINES = _functions_of("sum_of_sines", 10.0)
SINES_FLOAT32 = _functions_of("sum_of_sines", 10.0, np.dtype(np.float32))
CUBES = st.tuples(_functions_of("sum_of_cubes", 3.0), st.sampled_from([0.1, 0.03, 0.01])).map(
    lambda pair: {**pair[0], "eps": pair[1]}
)
SINES_ANY_EPS = st.tuples(SINES, st.sampled_from([None, 1e-6, 1e-4, 1e-3])).map(
    lambda pair: pair[0] if pair[1] is None else {**pair[0], "eps": pair[1]}
)
NUMERICAL_TOLERANCE = Tolerance(rtol=1e-5, atol=1e-5)


def _gradient_of_sines(example: Example) -> np.ndarray:
    """The exact gradient ``c cos(x)`` of ``sum(c sin(x))``."""
    return np.asarray(example["f"].args[0] * np.cos(example["x"].astype(np.float64)))


def _differences_of_cubes(example: Example) -> np.ndarray:
    """Central differences of ``sum(c x**3)`` are exactly ``3 c x**2 + c eps**2`` (one-sided ones are not)."""
    coefficients, eps = example["f"].args[0], example["eps"]
    return np.asarray(3 * coefficients * example["x"] ** 2 + coefficients * eps**2)


@drawn_property(
    function="numerical_gradient",
    name="accurate_for_float32_input",
    says="numerical_gradient of a float32 x is accurate and float64 (it perturbs a float64 copy)",
    hint="In float32, x + 1e-6 rounds to a neighbour of x that is not 1e-6 away: perturb a float64 copy.",
    points=1,
    examples=SINES_FLOAT32,
)  # neither establishing nor gated: no trivial function passes it, and one right in float64 does most of its job
def numerical_gradient_of_float32(calls: Calls, example: Example) -> None:
    got = result_of(calls, example)
    if got.dtype != F64:
        raise PropertyFailure(f"numerical_gradient returned dtype {got.dtype} for a float32 x; expected float64")
    assert_close(got, _gradient_of_sines(example), NUMERICAL_TOLERANCE, "numerical_gradient is inaccurate")


@drawn_property(
    function="numerical_gradient",
    name="returns_float64_shaped_like_x",
    says="numerical_gradient returns a float64 array of x's shape (0-d included)",
    hint="np.zeros(x.shape) and np.ndindex(x.shape) work for every shape, 0-d included.",
    points=1,
    examples=SINES,
    gated=True,
)
def numerical_gradient_shape(calls: Calls, example: Example) -> None:
    got, x = result_of(calls, example), example["x"]
    if got.shape != x.shape or got.dtype != F64:
        raise PropertyFailure(
            f"numerical_gradient returned shape {got.shape} and dtype {got.dtype} for x of shape {x.shape}; "
            "expected x's shape and float64"
        )


# ---------------------------------------------------------------- relative_error


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return float(np.max(np.abs(a64 - b64) / np.maximum(1e-8, np.abs(a64) + np.abs(b64))))


ERROR_PAIRS = _pairs(("a", "b"), max_abs=1e4)


@drawn_property(
    function="relative_error",
    name="zero_for_equal_inputs",
    says="relative_error(a, a) is 0, zeros included",
    hint="Where a and b are both 0, |a| + |b| is 0 too: that is what the floor of 1e-8 is for.",
    points=2,
    examples=ERROR_PAIRS,
    gated=True,  # a zero function keeps it
)
def relative_error_of_equal_arrays(calls: Calls, example: Example) -> None:
    got = result_of(calls, {"a": example["a"], "b": example["a"].copy()}, read=number_of)
    if not got == 0.0:
        raise PropertyFailure("relative_error(a, a) is not 0", 0.0, got)


@drawn_property(
    function="relative_error",
    name="symmetric",
    says="relative_error(a, b) equals relative_error(b, a)",
    hint="Neither array is the 'true' one: scale the difference by both of them.",
    points=1,
    examples=ERROR_PAIRS,
    gated=True,
)
def relative_error_is_symmetric(calls: Calls, example: Example) -> None:
    backwards = result_of(calls, {"a": example["b"], "b": example["a"]}, read=number_of)
    forwards = result_of(calls, example, read=number_of)
    _close("relative_error", backwards, forwards, "relative_error(b, a) differs from relative_error(a, b)")


@drawn_property(
    function="relative_error",
    name="within_range",
    says="relative_error lies in [0, 1] (|a - b| never exceeds |a| + |b|)",
    hint="Divide by |a| + |b| (each absolute value on its own), not by |a + b|.",
    points=1,
    examples=ERROR_PAIRS,
    gated=True,
)
def relative_error_at_most_one(calls: Calls, example: Example) -> None:
    got = result_of(calls, example, read=number_of)
    if not 0.0 <= got <= 1.0 + 1e-12:
        raise PropertyFailure(f"relative_error returned {got!r}, outside [0, 1]", got=got)


# ---------------------------------------------------------------- mlp_loss_and_grads


def _layers(widths: list[int]) -> list[tuple[int, int]]:
    """The ``(d_in, d_out)`` of each layer of a network with the given widths."""
    return list(zip(widths[:-1], widths[1:], strict=True))


@st.composite
def _mlps(pick: st.DrawFn) -> Example:
    """An MLP classifier: 1 to 3 layers of width 1 to 4, 2 to 4 classes, 1 to 5 examples, any activation.

    Hypothesis draws the sizes and a seed for the values: small integers (where ReLU meets its kink at
    exactly 0) or uniform values, inputs in [-2, 2] and parameters in [-1, 1].
    """
    depth = pick(st.integers(1, 3))
    widths = [*pick(st.lists(st.integers(1, 4), min_size=depth, max_size=depth)), pick(st.integers(2, 4))]
    n = pick(st.integers(1, 5))
    integers = pick(st.booleans())
    rng = np.random.default_rng(pick(draw.seeds()))

    def values(size: tuple[int, ...], bound: int) -> np.ndarray:
        if integers:
            return rng.integers(-bound, bound + 1, size).astype(np.float64)
        return rng.uniform(-bound, bound, size)

    example: Example = {
        "x": values((n, widths[0]), 2),
        "labels": rng.integers(0, widths[-1], n),
        "params": [(values((a, b), 1), values((b,), 1)) for a, b in _layers(widths)],
    }
    activation = pick(st.sampled_from((None, *ACTIVATIONS)))
    if activation is not None:  # None leaves it out: the default is relu
        example["activation"] = activation
    return example


def _activation(example: Example) -> str:
    return str(example.get("activation", "relu"))


def _away_from_kinks(example: Example) -> bool:
    """No hidden ReLU pre-activation within 1e-3 of 0, where central differences straddle the kink."""
    if _activation(example) != "relu":
        return True
    return all(np.all(np.abs(z) > 1e-3) for z in _hidden_layers(example["x"], example["params"], "relu")[0])


MLPS = _mlps()
PERMUTED_MLPS = MLPS.flatmap(
    lambda ex: st.permutations(range(len(ex["labels"]))).map(lambda p: {**ex, "permutation": np.array(p)})
)


def _loss_and_grads(calls: Calls, example: Example) -> tuple[float, Any]:
    """The student's ``(loss, grads)`` on the example (a failure if it is not such a pair)."""
    value = calls.student(*example.values())
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise PropertyFailure("mlp_loss_and_grads must return a pair (loss, grads)", got=value)
    return number_of(value[0], "mlp_loss_and_grads"), value[1]


def _torch_of(example: Example) -> tuple[float, Layers]:
    return torch_mlp(example["x"], example["labels"], example["params"], _activation(example))


@drawn_property(
    function="mlp_loss_and_grads",
    name="agrees_with_torch_loss",
    says="the loss agrees with torch.nn.functional.cross_entropy of the same MLP",
    hint="Hidden layers g(h @ W + b), a linear last layer, then the mean of -log softmax at each label.",
    points=1,
    examples=MLPS,
    establishes_correctness=True,
)
def mlp_loss_agrees_with_torch(calls: Calls, example: Example) -> None:
    loss, _ = _loss_and_grads(calls, example)
    _close("mlp_loss_and_grads", loss, _torch_of(example)[0], "the loss differs from PyTorch's")


@drawn_property(
    function="mlp_loss_and_grads",
    name="agrees_with_torch_autograd",
    says="grads agree with torch.autograd for every activation, depth and width",
    hint="Check each layer: dW = h_prev.T @ delta, db = delta summed over the rows, and the activation's "
    "derivative taken at the pre-activation z.",
    points=2,
    examples=MLPS,
    establishes_correctness=True,
)
def mlp_grads_agree_with_torch(calls: Calls, example: Example) -> None:
    _, grads = _loss_and_grads(calls, example)
    _close("mlp_loss_and_grads", grads, _torch_of(example)[1], "{} differs from torch.autograd's", "grads")


@drawn_property(
    function="mlp_loss_and_grads",
    name="matches_central_differences",
    says="grads agree with central differences of the loss in every parameter (away from ReLU's kink)",
    hint="Check your gradients with your own numerical_gradient, one layer at a time, starting from the last.",
    points=1,
    examples=MLPS.filter(_away_from_kinks),
    establishes_correctness=True,  # the grader's own loss of the MLP, not the student's
)
def mlp_grads_match_central_differences(calls: Calls, example: Example) -> None:
    want = mlp_central_differences(example["x"], example["labels"], example["params"], _activation(example))
    what = "{} disagrees with central differences of the loss"
    got = _loss_and_grads(calls, example)[1]
    assert_nested_close(got, want, DERIVATIVE_TOLERANCE, what, "mlp_loss_and_grads", names="grads")


def mlp_unchanged_when(
    *, name: str, says: str, hint: str, change: Callable[[Example, np.ndarray], Example]
) -> Property:
    """The loss and grads stay the same when ``change`` rearranges the batch (given a drawn permutation); one
    builder for the two rearrangements, stacking and permuting."""

    @drawn_property(
        function="mlp_loss_and_grads",
        name=name,
        says=f"the loss and grads stay the same when {says}",
        hint=hint,
        points=1,
        examples=PERMUTED_MLPS,
        gated=True,  # a constant stays the same
    )
    def test(calls: Calls, drawn: Example) -> None:
        example = {key: value for key, value in drawn.items() if key != "permutation"}
        before = _loss_and_grads(calls, example)
        after = _loss_and_grads(calls, change(example, drawn["permutation"]))
        _close("mlp_loss_and_grads", after, before, f"{{}} changed when {says}", ("the loss", "grads"))

    return test


def assert_layers_like(function: str, what: str, got: Any, params: Layers) -> None:
    """``got`` is a list of ``(W, b)`` pairs, one per layer of ``params``, each array of its parameter's shape
    and dtype (``what`` names ``got`` in messages: ``"grads"``, ``"params"``)."""
    if not isinstance(got, (list, tuple)) or len(got) != len(params):
        raise PropertyFailure(f"{function} returned {what} that are not {len(params)} (W, b) pairs, one per layer")
    for layer, (pair, like) in enumerate(zip(got, params, strict=True)):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise PropertyFailure(f"{what}[{layer}] is not a (W, b) pair", got=pair)
        for name, part, parameter in zip(("W", "b"), pair, like, strict=True):
            array = plain_array(part, function, f" as {what}[{layer}]")
            if array.shape != parameter.shape or array.dtype != parameter.dtype:
                raise PropertyFailure(
                    f"{what}[{layer}] has {name} of shape {array.shape} and dtype {array.dtype}; expected the "
                    f"shape {parameter.shape} and dtype {parameter.dtype} of its parameter",
                    observed=observed_dtype(array.dtype, parameter.dtype) if array.shape == parameter.shape else None,
                )


@drawn_property(
    function="mlp_loss_and_grads",
    name="keeps_shape_and_dtype",
    says="grads has one (dW, db) pair per layer, each of its parameter's shape and float dtype (float32 included)",
    hint="Every step of backpropagation keeps the dtype of x and params if nothing float64 enters: a comparison "
    "such as z > 0 is boolean, and (z > 0) * 1.0 is float64; (z > 0).astype(z.dtype) is not.",
    points=1,
    examples=draw.in_float_dtypes(MLPS),
    gated=True,
    hints=LAYER_DTYPE_HINTS,
)
def mlp_grads_dtype(calls: Calls, example: Example) -> None:
    assert_layers_like("mlp_loss_and_grads", "grads", _loss_and_grads(calls, example)[1], example["params"])


def _stacked(example: Example, _: np.ndarray) -> Example:
    return {**example, "x": np.concatenate([example["x"]] * 2), "labels": np.concatenate([example["labels"]] * 2)}


def _permuted(example: Example, permutation: np.ndarray) -> Example:
    return {**example, "x": example["x"][permutation], "labels": example["labels"][permutation]}


def _large_mlp(rng: np.random.Generator) -> list[Any]:
    params = [(rng.standard_normal((a, b)) / np.sqrt(a), np.zeros(b)) for a, b in _layers([64, 128, 128, 10])]
    return [rng.standard_normal((2048, 64)), rng.integers(0, 10, 2048), params, "relu"]


# ---------------------------------------------------------------- gradient_descent on quadratic bowls


@st.composite
def _bowls(pick: st.DrawFn, rates: tuple[float, float], steps: st.SearchStrategy[int]) -> Example:
    """``f(w) = w·A w / 2 - b·w`` with ``A = Q diag(l) Q^T`` positive definite (curvatures ``l`` from 1 to
    10) and ``lr = c / L``, ``c`` drawn from ``rates`` and ``L`` the largest curvature. Hypothesis draws
    the size, curvatures and rate; the rotation ``Q``, ``b`` and ``w0`` come from a drawn seed."""
    size = pick(st.integers(1, 4))
    curvatures = np.sort(pick(hnp.arrays(np.float64, size, elements=st.floats(1.0, 10.0))))
    data = np.random.default_rng(pick(draw.seeds()))
    rotation = np.linalg.qr(data.standard_normal((size, size)))[0]
    a = (rotation * curvatures) @ rotation.T
    lr = pick(st.floats(*rates)) / float(curvatures[-1])
    b, w0 = data.uniform(-5.0, 5.0, size), data.uniform(-5.0, 5.0, size)
    return {"grad": NamedCallable("quadratic_grad", a, b), "w0": w0, "lr": lr, "steps": pick(steps)}


def _bowl(example: Example) -> tuple[np.ndarray, np.ndarray]:
    a, b = example["grad"].args
    return np.asarray(a), np.asarray(b)


def _minimum(example: Example) -> np.ndarray:
    return np.asarray(np.linalg.solve(*_bowl(example)))


def _steep_component(example: Example) -> float:
    """How much of ``w0 - w*`` lies along the steepest curvature (the direction that blows up first)."""
    curvatures, directions = np.linalg.eigh(_bowl(example)[0])
    steepest = directions[:, curvatures >= curvatures[-1] * (1 - 1e-9)]
    return float(np.linalg.norm(steepest.T @ (example["w0"] - _minimum(example))))


def torch_sgd_path(example: Example) -> np.ndarray:
    """The iterates of ``torch.optim.SGD`` on the example's quadratic bowl, ``w0`` first."""
    a, b = _bowl(example)
    w = _tensor(example["w0"], grad=True)
    optimizer = _torch().optim.SGD([w], lr=example["lr"])
    path = [example["w0"].copy()]
    for _ in range(example["steps"]):
        w.grad = _tensor(a) @ w.detach() - _tensor(b)
        optimizer.step()
        path.append(w.detach().numpy().copy())
    return np.asarray(path)


BOWLS = _bowls((0.1, 1.9), st.integers(0, 10))
DESCENDING = _bowls((0.1, 1.9), st.just(30))
CONVERGING = _bowls((0.5, 1.5), st.just(400))
DIVERGING = _bowls((2.5, 4.0), st.just(40)).filter(
    lambda ex: _steep_component(ex) >= 0.1 * max(float(np.linalg.norm(ex["w0"] - _minimum(ex))), 1.0)
)
STANDING_STILL = _bowls((0.1, 1.9), st.integers(0, 5)).map(lambda ex: {**ex, "lr": 0.0})
ANY_SHAPE_BOWLS = st.builds(
    lambda arrays, lr, steps: {
        "grad": NamedCallable("diagonal_quadratic_grad", np.abs(arrays[1]), arrays[2]),
        "w0": arrays[0],
        "lr": lr,
        "steps": steps,
    },
    draw.seeded_arrays(3, min_dims=0, max_dims=3, max_side=3, max_abs=10.0, dtypes=draw.float64s()),
    st.floats(0.0, 0.5),
    st.integers(0, 4),
)  # w0 of any shape, with the gradient c * (w - m) of an elementwise bowl


def _iterates(calls: Calls, example: Example) -> np.ndarray:
    got = result_of(calls, example)
    want_shape = (example["steps"] + 1, *example["w0"].shape)
    if got.shape != want_shape or got.dtype != F64:
        raise PropertyFailure(
            f"gradient_descent returned shape {got.shape} and dtype {got.dtype}; expected {want_shape} and float64"
        )
    return got


@drawn_property(
    function="gradient_descent",
    name="returns_every_iterate",
    says="gradient_descent returns steps + 1 float64 iterates of w0's shape, w0 first, for any shape of w0",
    hint="np.empty((steps + 1, *w0.shape)) has room for every iterate; row 0 is w0.",
    points=1,
    examples=ANY_SHAPE_BOWLS,
    gated=True,
)
def gradient_descent_starts_at_w0(calls: Calls, example: Example) -> None:
    _close("gradient_descent", _iterates(calls, example)[0], example["w0"], "the first iterate is not w0")


@drawn_property(
    function="gradient_descent",
    name="zero_lr_changes_nothing",
    says="with lr = 0 every iterate is w0",
    hint="The step is lr * grad(w) and nothing else.",
    points=1,
    examples=STANDING_STILL,
    gated=True,  # standing still keeps it
)
def gradient_descent_with_zero_lr(calls: Calls, example: Example) -> None:
    path = _iterates(calls, example)
    _close("gradient_descent", path, np.broadcast_to(example["w0"], path.shape), "lr = 0 moved w")


@drawn_property(
    function="gradient_descent",
    name="descends_below_2_over_L",
    says="with lr < 2/L on a convex quadratic, f(w) goes down at every step",
    hint="Step against the gradient, with the gradient at the current w.",
    points=1,
    examples=DESCENDING,
    gated=True,  # standing still keeps it
)
def gradient_descent_descends(calls: Calls, example: Example) -> None:
    path = _iterates(calls, example)
    a, b = _bowl(example)
    values = 0.5 * np.einsum("ti,ij,tj->t", path, a, path) - path @ b
    rises = np.flatnonzero(values[1:] > values[:-1] + 1e-12 * (1 + np.abs(values[:-1])))
    if rises.size:
        t = int(rises[0])
        raise PropertyFailure(f"f rose from step {t} to step {t + 1}", values[t], values[t + 1])


@drawn_property(
    function="gradient_descent",
    name="converges_to_the_minimum",
    says="with lr around 1/L, 400 steps reach the closed-form minimum A^-1 b",
    hint="Keep stepping with the same lr: no decay, no early stop.",
    points=1,
    examples=CONVERGING,
    establishes_correctness=True,  # the closed-form minimum
)
def gradient_descent_converges(calls: Calls, example: Example) -> None:
    last = _iterates(calls, example)[-1]
    assert_close(last, _minimum(example), Tolerance(rtol=1e-6, atol=1e-6), "the last iterate is not A^-1 b")


@drawn_property(
    function="gradient_descent",
    name="diverges_above_2_over_L",
    says="with lr > 2/L, the iterates move away from the minimum (too large a learning rate diverges)",
    hint="Plain gradient descent has no safety net: do not clip, normalise or decay the step.",
    points=1,
    examples=DIVERGING,
)  # neither establishing nor gated: no trivial function blows up
def gradient_descent_diverges(calls: Calls, example: Example) -> None:
    last = _iterates(calls, example)[-1]
    start, end = (float(np.linalg.norm(w - _minimum(example))) for w in (example["w0"], last))
    if not end > 1e3 * start:
        raise PropertyFailure(
            f"after {example['steps']} steps the distance to the minimum went from {start:.3g} to {end:.3g}; "
            "with lr > 2/L it must blow up"
        )


# ---------------------------------------------------------------- sgd_momentum_step and adam_step


def _optimizer_runs(hyperparameters: dict[str, st.SearchStrategy[float]]) -> st.SearchStrategy[Example]:
    """A start ``w`` (0 to 2 dimensions), four gradients of its shape, and the hyperparameters."""
    arrays = draw.seeded_arrays(5, min_dims=0, max_abs=100.0, dtypes=draw.float64s())
    return st.tuples(arrays, st.fixed_dictionaries(hyperparameters)).map(
        lambda pair: {"w": pair[0][0], "gradients": list(pair[0][1:]), **pair[1]}
    )


def _step_examples(
    names: tuple[str, ...],
    required: dict[str, st.SearchStrategy[Any]],
    optional: tuple[tuple[str, st.SearchStrategy[Any]], ...],
) -> st.SearchStrategy[Example]:
    """Float64 arrays of one shape (0 to 2 dimensions) named ``names``, then the ``required`` arguments and a
    drawn prefix of the ``optional`` ones (they are positional: the ones left out keep their defaults)."""
    arrays = draw.seeded_arrays(len(names), min_dims=0, max_abs=100.0, dtypes=draw.float64s())

    def build(pair: tuple[tuple[np.ndarray, ...], int]) -> st.SearchStrategy[Example]:
        values, count = pair
        given = {name: st.just(value) for name, value in zip(names, values, strict=True)}
        return st.fixed_dictionaries({**given, **required, **dict(optional[:count])})

    order = in_order(*names, *required, *(name for name, _ in optional))
    return st.tuples(arrays, st.integers(0, len(optional))).flatmap(build).map(order)


MOMENTUM_STEPS = _step_examples(("w", "dw", "velocity"), {"lr": st.floats(0.0, 1.0)}, (("beta", st.floats(0.0, 0.99)),))
ADAM_STEPS = _step_examples(
    ("w", "dw", "m", "v"),
    {"t": st.integers(1, 1000)},
    (
        ("lr", st.floats(1e-4, 0.5)),
        ("beta1", st.floats(0.0, 0.99)),
        ("beta2", st.floats(0.9, 0.9999)),
        ("eps", st.sampled_from([1e-8, 1e-6, 1e-3])),
    ),
).map(lambda ex: {**ex, "v": np.asarray(np.abs(ex["v"]))})  # a second moment is never negative


def _step_results(value: Any, count: int, function: str) -> list[np.ndarray]:
    """An optimizer step's ``count`` returned arrays (NumPy scalars, for 0-d inputs, read as 0-d arrays)."""
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise PropertyFailure(f"{function} must return a tuple of {count} arrays", got=value)
    return [plain_array(part, function, f" at [{index}]") for index, part in enumerate(value)]


@drawn_property(
    function="sgd_momentum_step",
    name="agrees_with_torch_sgd",
    says="four steps agree with torch.optim.SGD(momentum=beta), w and the velocity",
    hint="First the velocity, v = beta * v + dw, then the step with the new velocity, w = w - lr * v.",
    points=4,
    examples=_optimizer_runs({"lr": st.floats(1e-3, 1.0), "beta": st.floats(0.1, 0.99)}),
    establishes_correctness=True,
)
def momentum_agrees_with_torch(calls: Calls, example: Example) -> None:
    # The student's first step before PyTorch: an unfinished function answers without importing it.
    calls.student(example["w"], example["gradients"][0], np.zeros_like(example["w"]), example["lr"], example["beta"])
    w = _tensor(example["w"], grad=True)
    optimizer = _torch().optim.SGD([w], lr=example["lr"], momentum=example["beta"])
    mine, velocity = example["w"], np.zeros_like(example["w"])
    for step, gradient in enumerate(example["gradients"], start=1):
        w.grad = _tensor(gradient)
        optimizer.step()
        got = calls.student(mine, gradient, velocity, example["lr"], example["beta"])
        mine, velocity = _step_results(got, 2, "sgd_momentum_step")
        _close(
            "sgd_momentum_step",
            (mine, velocity),
            (w.detach().numpy(), optimizer.state[w]["momentum_buffer"].numpy()),
            f"after step {step}, {{}} differs from torch.optim.SGD's",
            ("w", "v"),
        )


# Neither establishing nor gated: no trivial function passes either special case (the velocity must still
# move), and a step right in the special case does part of the job.
@drawn_property(
    function="sgd_momentum_step",
    name="beta_zero_is_gradient_descent",
    says="sgd_momentum_step: beta = 0 is a plain gradient step",
    hint="With beta = 0 the velocity is dw.",
    points=1,
    examples=MOMENTUM_STEPS.map(lambda ex: {**ex, "beta": 0.0}),
)
def momentum_without_beta(calls: Calls, example: Example) -> None:
    w, dw = example["w"], example["dw"]
    what = "with beta = 0 a momentum step is a plain gradient step (w - lr * dw, v = dw), but {} is wrong"
    _close("sgd_momentum_step", calls.student(*example.values()), (w - example["lr"] * dw, dw), what, ("w", "v"))


@drawn_property(
    function="sgd_momentum_step",
    name="zero_lr_changes_nothing",
    says="sgd_momentum_step: lr = 0 leaves w where it is",
    hint="Only lr * v moves w; the velocity itself still accumulates.",
    points=1,
    examples=MOMENTUM_STEPS.map(lambda ex: {**ex, "lr": 0.0}),
)
def momentum_with_zero_lr(calls: Calls, example: Example) -> None:
    want = (example["w"], example.get("beta", 0.9) * example["velocity"] + example["dw"])
    what = "with lr = 0, w stays where it is while v = beta * v + dw still accumulates, but {} is wrong"
    _close("sgd_momentum_step", calls.student(*example.values()), want, what, ("w", "v"))


@drawn_property(
    function="adam_step",
    name="agrees_with_torch_adam",
    says="four steps (t = 1, 2, 3, 4) agree with torch.optim.Adam, w and both moments",
    hint="Update m and v first, then correct both for their start at zero with 1 - beta**t, t counting from 1.",
    points=4,
    examples=_optimizer_runs(
        {
            "lr": st.floats(1e-3, 0.5),
            "beta1": st.floats(0.0, 0.99),
            "beta2": st.floats(0.9, 0.9999),
            "eps": st.sampled_from([1e-8, 1e-6, 1e-3]),
        }
    ),
    establishes_correctness=True,
)
def adam_agrees_with_torch(calls: Calls, example: Example) -> None:
    hyper = (example["lr"], example["beta1"], example["beta2"], example["eps"])
    zeros = np.zeros_like(example["w"])
    # The student's first step before PyTorch: an unfinished function answers without importing it.
    calls.student(example["w"], example["gradients"][0], zeros, zeros, 1, *hyper)
    w = _tensor(example["w"], grad=True)
    optimizer = _torch().optim.Adam([w], lr=hyper[0], betas=hyper[1:3], eps=hyper[3])
    mine, m, v = example["w"], np.zeros_like(example["w"]), np.zeros_like(example["w"])
    for t, gradient in enumerate(example["gradients"], start=1):
        w.grad = _tensor(gradient)
        optimizer.step()
        mine, m, v = _step_results(calls.student(mine, gradient, m, v, t, *hyper), 3, "adam_step")
        state = optimizer.state[w]
        want = (w.detach().numpy(), state["exp_avg"].numpy(), state["exp_avg_sq"].numpy())
        _close(
            "adam_step",
            (mine, m, v),
            want,
            f"after step t = {t}, {{}} differs from torch.optim.Adam's",
            ("w", "m", "v"),
        )


def _first_adam_step(example: Example) -> Example:
    zeros = np.zeros_like(example["w"])
    dw = draw.away_from(example["dw"], 0.0, 1e-2)
    return {"w": example["w"], "dw": dw, "m": zeros, "v": zeros, "t": 1, "lr": example.get("lr", 1e-3)}


@drawn_property(
    function="adam_step",
    name="first_step_has_length_lr",
    says="the first step from m = v = 0 (t = 1) moves each coordinate by lr (bias correction)",
    hint="m and v start at 0, so early averages are too small: divide them by 1 - beta1**t and 1 - beta2**t.",
    points=1,
    examples=ADAM_STEPS.map(_first_adam_step),
)  # neither establishing nor gated: no trivial function passes it, and a right first step is part of the job
def adam_first_step(calls: Calls, example: Example) -> None:
    dw = example["dw"]
    want = example["w"] - example["lr"] * dw / (np.abs(dw) + 1e-8)
    _close(
        "adam_step",
        _step_results(calls.student(*example.values()), 3, "adam_step")[0],
        want,
        "the first Adam step is not lr * dw / (|dw| + eps)",
    )


@drawn_property(
    function="adam_step",
    name="zero_lr_changes_nothing",
    says="adam_step with lr = 0 leaves w where it is",
    hint="The step is lr times the corrected ratio; nothing else may move w.",
    points=1,
    examples=ADAM_STEPS.map(lambda ex: {**ex, "lr": 0.0}),
    gated=True,  # a step that returns (w, m, v) as they came keeps it
)
def adam_with_zero_lr(calls: Calls, example: Example) -> None:
    _close(
        "adam_step",
        _step_results(calls.student(*example.values()), 3, "adam_step")[0],
        example["w"],
        "adam_step with lr = 0 moved w",
    )


def optimizer_shapes(*, function: str, names: tuple[str, ...], examples: st.SearchStrategy[Example]) -> Property:
    """The step returns the arrays ``names``, each of w's shape and dtype."""
    count = len(names)

    @drawn_property(
        function=function,
        name="keeps_shape_and_dtype",
        says=f"{function} returns ({', '.join(names)}), each of w's shape and dtype (float32 included)",
        hint="A Python float times an array keeps the array's dtype; np.float64 values promote float32.",
        points=1,
        examples=draw.in_float_dtypes(examples),
        gated=True,
        hints=DTYPE_HINTS,
    )
    def test(calls: Calls, example: Example) -> None:
        w = first_array(example)
        for index, part in enumerate(_step_results(calls.student(*example.values()), count, function)):
            if part.shape != w.shape or part.dtype != w.dtype:
                raise PropertyFailure(
                    f"{function} returned {names[index]} of shape {part.shape} and dtype {part.dtype} "
                    f"for w of shape {w.shape} and dtype {w.dtype}",
                    observed=observed_dtype(part.dtype, w.dtype) if part.shape == w.shape else None,
                )

    return test


# ---------------------------------------------------------------- minibatch_sgd, checked structurally


@st.composite
def _training_runs(
    pick: st.DrawFn,
    batch: str,
    examples: tuple[int, int] = (1, 8),
    epochs: tuple[int, int] = (1, 2),
    min_batch: int = 1,
) -> Example:
    """A linear network on ``n`` examples whose first feature is the example's index / n (so that the
    grader can tell which examples a mini-batch holds). ``batch`` is ``"full"`` (batch_size >= n) or
    ``"mini"`` (``min_batch <= batch_size < n``).

    Hypothesis draws the sizes, the hyperparameters and a seed for the data: the checks are structural,
    so the values matter less than the sizes, and drawing every number would cost more than the checks.
    """
    n = pick(st.integers(max(examples[0], min_batch + 1 if batch == "mini" else 1), examples[1]))
    widths = [pick(st.integers(1, 3)) for _ in range(pick(st.integers(1, 2)))] + [pick(st.integers(1, 2))]
    data = np.random.default_rng(pick(draw.seeds()))
    features = data.uniform(-1.0, 1.0, (n, widths[0]))
    features[:, 0] = np.arange(n) / n
    batch_size = pick(st.integers(n, n + 3) if batch == "full" else st.integers(min_batch, n - 1))
    return {
        "loss_and_grads": NamedCallable("linear_network"),
        "params": [(data.uniform(-1.0, 1.0, (a, b)), data.uniform(-1.0, 1.0, b)) for a, b in _layers(widths)],
        "x": features,
        "y": data.uniform(-1.0, 1.0, (n, widths[-1])),
        "lr": pick(st.floats(0.01, 0.2)),
        "batch_size": batch_size,
        "epochs": pick(st.integers(*epochs)),
        "rng": NamedCallable("rng", pick(draw.seeds())),
    }


FULL_BATCH_RUNS = _training_runs("full")
MINI_BATCH_RUNS = _training_runs("mini")
# Orders of 10 or more examples over 3 epochs: a correct shuffle repeats itself with odds below 1e-13.
SHUFFLED_RUNS = _training_runs("mini", examples=(10, 12), epochs=(3, 3), min_batch=3)


def _run_of(value: Any) -> tuple[Any, list[float]]:
    """The student's ``(params, epoch_losses)`` (a failure if it is not such a pair)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise PropertyFailure("minibatch_sgd must return a pair (params, epoch_losses)", got=value)
    params, losses = value
    if not isinstance(losses, (list, tuple, np.ndarray)):
        raise PropertyFailure("epoch_losses must be a list of numbers", got=losses)
    return params, [number_of(loss, "minibatch_sgd") for loss in losses]


def _flat_result(params: Any) -> np.ndarray:
    """The student's returned params flattened like the probe's records (a failure if they are not layers)."""
    if not isinstance(params, (list, tuple)) or not all(isinstance(layer, (list, tuple)) for layer in params):
        raise PropertyFailure("minibatch_sgd must return params as a list of (W, b) pairs", got=params)
    return flat_parameters([[plain_array(a, "minibatch_sgd") for a in layer] for layer in params])


def _probe(calls: Calls, example: Example, repeat: int = 0) -> tuple[Any, list[float], list[dict[str, Any]]]:
    """Run the student's function through the recording harness: its result and every call it made."""
    recorded = calls.student(*example.values(), harness=NamedCallable("minibatch_probe"), repeat=repeat)
    if not isinstance(recorded, dict):
        raise PropertyFailure("minibatch_sgd could not be run")
    params, losses = _run_of(recorded["result"])
    return params, losses, _unpacked(recorded)


def _unpacked(recorded: dict[str, Any]) -> list[dict[str, Any]]:
    """The harness's packed record (see ``_minibatch_probe``) as one dict per call."""
    count = len(recorded["batch_sizes"])
    if count == 0:
        return []

    def split(values: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
        return np.split(values, np.cumsum(sizes)[:-1])

    columns = {
        "x": split(recorded["x"], recorded["batch_sizes"]),
        "y": split(recorded["y"], recorded["batch_sizes"]),
        "loss": list(recorded["losses"]),
        "params": split(recorded["params"], recorded["param_sizes"]),
        "grads": split(recorded["grads"], recorded["param_sizes"]),
    }
    return [{key: column[index] for key, column in columns.items()} for index in range(count)]


def _epochs(example: Example, recorded: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The recorded calls split into epochs of ceil(n / batch_size) mini-batches each."""
    n, batch_size, epochs = len(example["x"]), example["batch_size"], example["epochs"]
    per_epoch = -(-n // batch_size)
    if len(recorded) != per_epoch * epochs:
        raise PropertyFailure(
            f"loss_and_grads was called {len(recorded)} times; {epochs} epochs of {n} examples in mini-batches "
            f"of {batch_size} make {per_epoch * epochs} steps"
        )
    return [recorded[e * per_epoch : (e + 1) * per_epoch] for e in range(epochs)]


def _indices(call: dict[str, Any], n: int) -> np.ndarray:
    """Which examples a mini-batch holds, read off its first feature (index / n)."""
    return np.asarray(np.rint(np.asarray(call["x"])[:, 0] * n).astype(int))


def _orders(example: Example, recorded: list[dict[str, Any]]) -> list[np.ndarray]:
    """The order in which each epoch visited the examples."""
    n = len(example["x"])
    return [np.concatenate([_indices(call, n) for call in batches]) for batches in _epochs(example, recorded)]


@drawn_property(
    function="minibatch_sgd",
    name="full_batch_is_gradient_descent",
    says="with batch_size >= n (one batch per epoch), minibatch_sgd is plain gradient descent",
    hint="Each step: (loss, grads) = loss_and_grads(x[idx], y[idx], params), then p - lr * g for every array.",
    points=2,
    examples=FULL_BATCH_RUNS,
    establishes_correctness=True,  # the grader's own gradient descent
)
def minibatch_full_batch(calls: Calls, example: Example) -> None:
    params, losses = _run_of(calls.student(*example.values()))
    want_params, want_losses = example["params"], []
    for _ in range(example["epochs"]):
        loss, grads = linear_network_loss_and_grads(example["x"], example["y"], want_params)
        want_losses.append(loss)
        want_params = [
            (w - example["lr"] * gw, b - example["lr"] * gb)
            for (w, b), (gw, gb) in zip(want_params, grads, strict=True)
        ]
    _close(
        "minibatch_sgd",
        (params, losses),
        (want_params, want_losses),
        "{} differs from plain gradient descent's",
        ("params", "epoch_losses"),
    )


@drawn_property(
    function="minibatch_sgd",
    name="uses_every_example_once_per_epoch",
    says="each epoch passes every example (with its own y) exactly once, in mini-batches of at most batch_size",
    hint="Shuffle the indices, then take consecutive slices order[start:start + batch_size]: the last one "
    "may be shorter. Index x and y with the same indices.",
    points=1,
    examples=MINI_BATCH_RUNS,
    gated=True,  # structural: how the examples are dealt, whatever is done with them
)
def minibatch_uses_every_example(calls: Calls, example: Example) -> None:
    n = len(example["x"])
    for epoch, batches in enumerate(_epochs(example, _probe(calls, example)[2])):
        for call in batches:
            if len(call["x"]) > example["batch_size"]:
                raise PropertyFailure(f"epoch {epoch} has a mini-batch of {len(call['x'])} examples")
            if not np.array_equal(call["y"], example["y"][_indices(call, n)]):
                raise PropertyFailure(f"in epoch {epoch}, a mini-batch pairs examples with other examples' y")
        seen = np.sort(np.concatenate([_indices(call, n) for call in batches]))
        if not np.array_equal(seen, np.arange(n)):
            raise PropertyFailure(f"epoch {epoch} did not use every example exactly once", np.arange(n), seen)


@drawn_property(
    function="minibatch_sgd",
    name="steps_from_the_latest_params",
    says="every step is p - lr * g from the params of the step before, and the last step's params are returned",
    hint="Pass the current params to loss_and_grads and update them after every mini-batch, not once per epoch.",
    points=2,
    examples=MINI_BATCH_RUNS,
    establishes_correctness=True,  # every step against the grader's own p - lr * g
)
def minibatch_steps(calls: Calls, example: Example) -> None:
    params, _, recorded = _probe(calls, example)
    expected = flat_parameters(example["params"])
    for step, call in enumerate(recorded):
        what = f"at step {step}, loss_and_grads was given params other than the last step's p - lr * g"
        _close("minibatch_sgd", call["params"], expected, what)
        expected = call["params"] - example["lr"] * call["grads"]
    _close("minibatch_sgd", _flat_result(params), expected, "the params returned are not the last step's p - lr * g")


@drawn_property(
    function="minibatch_sgd",
    name="epoch_loss_is_mean_of_batches",
    says="each epoch's loss is the mean of the losses of its mini-batches",
    hint="Collect the loss of every mini-batch of the epoch, then append their mean.",
    points=1,
    examples=MINI_BATCH_RUNS,
    establishes_correctness=True,  # the losses returned against the mean of the mini-batches' losses
)
def minibatch_epoch_losses(calls: Calls, example: Example) -> None:
    _, losses, recorded = _probe(calls, example)
    want = [float(np.mean([call["loss"] for call in batches])) for batches in _epochs(example, recorded)]
    _close("minibatch_sgd", losses, want, "{} is not the mean of that epoch's mini-batch losses", "epoch_losses")


@drawn_property(
    function="minibatch_sgd",
    name="keeps_shape_and_dtype",
    says="the params returned are (W, b) pairs shaped like the params given, of their float dtype (float32 included)",
    hint="Copy the params with np.copy or p.copy(), which keep the dtype; np.array(p, dtype=float) is float64.",
    points=1,
    examples=draw.in_float_dtypes(MINI_BATCH_RUNS),
    gated=True,
    hints=LAYER_DTYPE_HINTS,
)
def minibatch_params_dtype(calls: Calls, example: Example) -> None:
    params, _ = _run_of(calls.student(*example.values()))
    assert_layers_like("minibatch_sgd", "params", params, example["params"])


@drawn_property(
    function="minibatch_sgd",
    name="shuffles_every_epoch",
    says="the order of the examples changes from epoch to epoch",
    hint="Draw a fresh rng.permutation(n) at the start of every epoch.",
    points=1,
    examples=SHUFFLED_RUNS,
    gated=True,
)
def minibatch_shuffles(calls: Calls, example: Example) -> None:
    orders = _orders(example, _probe(calls, example)[2])
    if all(np.array_equal(order, orders[0]) for order in orders):
        raise PropertyFailure(f"all {len(orders)} epochs visit the examples in the same order", got=orders[0])


@drawn_property(
    function="minibatch_sgd",
    name="shuffles_with_the_given_rng",
    says="the shuffling comes from rng alone: the same seed gives the same run, another seed another order",
    hint="Use the rng you are given (rng.permutation), not np.random or a generator of your own.",
    points=1,
    examples=SHUFFLED_RUNS,
    gated=True,
)
def minibatch_uses_its_rng(calls: Calls, example: Example) -> None:
    seed = example["rng"].args[0]
    params, losses, recorded = _probe(calls, example)
    again = _probe(calls, {**example, "rng": NamedCallable("rng", seed)}, repeat=1)
    what, names = "{} differs in a second run with the same seed", ("params", "epoch_losses")
    assert_nested_close(again[:2], (params, losses), EXACT, what, "minibatch_sgd", names=names)
    other = _probe(calls, {**example, "rng": NamedCallable("rng", (seed + 1) % 2**32)})
    if all(np.array_equal(a, b) for a, b in zip(_orders(example, recorded), _orders(example, other[2]), strict=True)):
        raise PropertyFailure("runs with two different seeds visit the examples in the same order")


# ---------------------------------------------------------------- the catalogue


# Timed inputs, sized so that one reference call takes about a millisecond or more while a Python loop over
# the elements (or the rows) takes tens of times longer. A function that returns an array pays for sending it
# back, so its input is no larger than that millisecond needs.
LargeInput = Callable[[np.random.Generator], list[Any]]


@drawn_property(
    function="huber_loss",
    says="huber_loss is half the mean squared error where every residual is within delta",
    hint="Within delta the loss is the quadratic branch, 0.5 * r**2, for every element.",
    points=1,
    examples=SMALL_RESIDUALS,
    gated=True,  # a loss of 0.5 * mse everywhere keeps it, and is wrong beyond delta
)
def quadratic_within_delta(calls: Calls, example: Example) -> None:
    residuals = example["y_pred"] - example["y"]
    got = result_of(calls, example, read=number_of)
    _close(
        "huber_loss", got, 0.5 * float(np.mean(residuals**2)), "huber_loss is not 0.5 * mean(r**2) with every |r| <= 1"
    )


def _large_pairs(size: int, targets: str = "normal") -> LargeInput:
    """Two arrays of ``size`` elements: predictions (or logits, five times wider) and targets, standard normal
    or, with ``targets="probabilities"``, uniform in [0, 1)."""

    def make(rng: np.random.Generator) -> list[Any]:
        if targets == "probabilities":
            return [rng.standard_normal(size) * 5, rng.random(size)]
        return [rng.standard_normal(size), rng.standard_normal(size)]

    return make


def _large_logits(rows: int) -> LargeInput:
    """``rows`` rows of 64 logits (standard deviation 5) and their labels."""
    return lambda rng: [rng.standard_normal((rows, 64)) * 5, rng.integers(0, 64, rows)]


LOOP_HINT = "Python loops over examples are slow; a few NumPy operations on the whole batch are fast."
# np.logaddexp(0, z), the natural stable log(1 + exp(z)), is a scalar loop inside NumPy: two to four times the
# reference's SIMD exp and log1p. The binary cross-entropy and its gradient allow that twice over (an honest
# solution may do twice the reference's work), while a Python loop over the elements is 40 to 50 times slower.
LOGADDEXP_RATIO = 12.0

PROPERTIES: tuple[Property, ...] = (
    # mse_loss
    agrees_with_torch(
        loss="mse_loss",
        torch_name="mse_loss",
        hint="mean((y_pred - y)**2) over every element, as one number.",
        points=3,
        examples=PREDICTIONS,
    ),
    agrees_with_reference(
        function="mse_loss",
        hint="Average the squared differences over all elements.",
        points=2,
        examples=PREDICTIONS,
    ),
    mean_over_the_batch(loss="mse_loss", points=2, examples=PREDICTIONS),
    returns_one_number(function="mse_loss", points=1, examples=PREDICTIONS),
    leaves_input_unchanged(function="mse_loss", points=1, examples=PREDICTIONS),
    as_fast_as_reference(function="mse_loss", make_input=_large_pairs(1 << 21), hint=LOOP_HINT, points=1),
    # mse_loss_grad
    grad_agrees_with_torch(
        loss="mse_loss",
        hint="d/dy_pred of mean((y_pred - y)**2) is 2 (y_pred - y) / N: keep the 2 and the 1/N.",
        points=3,
        examples=PREDICTIONS,
    ),
    grad_matches_central_differences(
        loss="mse_loss",
        hint="Differentiate one term (y_pred_i - y_i)**2 / N with the chain rule.",
        points=3,
        examples=PREDICTIONS_MODERATE,
    ),
    agrees_with_reference(
        function="mse_loss_grad", hint="N is the number of elements, y.size.", points=1, examples=PREDICTIONS
    ),
    keeps_shape_and_dtype(function="mse_loss_grad", points=1, examples=PREDICTIONS_ANY_DTYPE),
    leaves_input_unchanged(function="mse_loss_grad", points=1, examples=PREDICTIONS),
    as_fast_as_reference(function="mse_loss_grad", make_input=_large_pairs(1 << 20), hint=LOOP_HINT, points=1),
    # huber_loss
    agrees_with(
        function="huber_loss",
        name="agrees_with_torch",
        says="huber_loss agrees with torch.nn.functional.huber_loss on float64 inputs",
        hint="0.5 * r**2 where |r| <= delta, delta * (|r| - 0.5 * delta) beyond it, averaged over every element.",
        points=3,
        examples=HUBER,
        expected=lambda calls, ex: torch_huber(ex),
    ),
    agrees_with_reference(
        function="huber_loss",
        hint="Pick each element's branch with np.where, then average.",
        points=2,
        examples=HUBER,
    ),
    quadratic_within_delta,
    mean_over_the_batch(loss="huber_loss", points=1, examples=PREDICTIONS),
    returns_one_number(function="huber_loss", points=1, examples=HUBER),
    leaves_input_unchanged(function="huber_loss", points=1, examples=HUBER),
    as_fast_as_reference(function="huber_loss", make_input=_large_pairs(1 << 20), hint=LOOP_HINT, points=1),
    # bce_with_logits
    agrees_with_torch(
        loss="bce_with_logits",
        torch_name="binary_cross_entropy_with_logits",
        hint="Per element: max(z, 0) - z * y + log(1 + exp(-|z|)), then the mean.",
        points=3,
        examples=BINARY,
    ),
    agrees_with_reference(
        function="bce_with_logits", hint="Try z = -1e4 and z = 50 with y = 1 and y = 0.", points=1, examples=BINARY
    ),
    stable_for_large_inputs(
        function="bce_with_logits", hint=STABILITY_HINT, points=2, examples=BINARY_LARGE, read=number_of
    ),
    mean_over_the_batch(loss="bce_with_logits", points=1, examples=BINARY),
    returns_one_number(function="bce_with_logits", points=1, examples=BINARY),
    leaves_input_unchanged(function="bce_with_logits", points=1, examples=BINARY),
    as_fast_as_reference(
        function="bce_with_logits",
        make_input=_large_pairs(1 << 18, "probabilities"),
        hint=LOOP_HINT,
        points=1,
        max_ratio=LOGADDEXP_RATIO,
    ),
    # bce_with_logits_grad
    grad_agrees_with_torch(
        loss="bce_with_logits",
        hint="The gradient is (sigmoid(z) - y) / N: prediction minus target, averaged.",
        points=3,
        examples=BINARY,
    ),
    grad_matches_central_differences(
        loss="bce_with_logits",
        hint="Differentiate max(z, 0) - z y + log(1 + exp(-|z|)) for z > 0 and z < 0.",
        points=2,
        examples=BINARY_MODERATE,
    ),
    agrees_with_reference(
        function="bce_with_logits_grad",
        hint="Use a stable sigmoid, written with exp(-|z|).",
        points=1,
        examples=BINARY,
    ),
    stable_for_large_inputs(function="bce_with_logits_grad", hint=STABILITY_HINT, points=1, examples=BINARY_LARGE),
    keeps_shape_and_dtype(function="bce_with_logits_grad", points=1, examples=BINARY_ANY_DTYPE),
    leaves_input_unchanged(function="bce_with_logits_grad", points=1, examples=BINARY),
    as_fast_as_reference(
        function="bce_with_logits_grad",
        make_input=_large_pairs(1 << 17, "probabilities"),
        hint=LOOP_HINT,
        points=1,
        max_ratio=LOGADDEXP_RATIO,
    ),
    # cross_entropy
    agrees_with_torch(
        loss="cross_entropy",
        torch_name="cross_entropy",
        hint="The mean over the rows of -log softmax(logits)[i, labels[i]]: logits are not probabilities.",
        points=3,
        examples=LOGITS,
    ),
    agrees_with_reference(
        function="cross_entropy",
        hint="Softmax along each row (axis 1), then pick its label.",
        points=2,
        examples=LOGITS,
    ),
    stable_for_large_inputs(
        function="cross_entropy", hint=STABILITY_HINT, points=1, examples=LOGITS_LARGE, read=number_of
    ),
    mean_over_the_batch(loss="cross_entropy", points=1, examples=LOGITS),
    returns_one_number(function="cross_entropy", points=1, examples=LOGITS),
    leaves_input_unchanged(function="cross_entropy", points=1, examples=LOGITS),
    as_fast_as_reference(function="cross_entropy", make_input=_large_logits(1 << 14), hint=LOOP_HINT, points=1),
    # cross_entropy_grad
    grad_agrees_with_torch(
        loss="cross_entropy",
        hint="(softmax(logits) - onehot(labels)) / n, with n the number of rows.",
        points=3,
        examples=LOGITS,
    ),
    grad_matches_central_differences(
        loss="cross_entropy",
        hint="Each row's gradient is its softmax minus the one-hot label, over n.",
        points=2,
        examples=LOGITS_MODERATE,
    ),
    agrees_with_reference(
        function="cross_entropy_grad",
        hint="Divide by the number of rows, not of elements.",
        points=1,
        examples=LOGITS,
    ),
    stable_for_large_inputs(function="cross_entropy_grad", hint=STABILITY_HINT, points=1, examples=LOGITS_LARGE),
    keeps_shape_and_dtype(function="cross_entropy_grad", points=1, examples=LOGITS_ANY_DTYPE),
    leaves_input_unchanged(function="cross_entropy_grad", points=1, examples=LOGITS),
    as_fast_as_reference(function="cross_entropy_grad", make_input=_large_logits(1 << 13), hint=LOOP_HINT, points=1),
    # numerical_gradient
    agrees_with(
        function="numerical_gradient",
        name="agrees_with_analytic_gradient",
        says="numerical_gradient of f(x) = sum(c sin(x)) agrees with c cos(x), for x of any shape",
        hint="For each index j: (f(x + eps e_j) - f(x - eps e_j)) / (2 eps), with x restored in between.",
        points=3,
        examples=SINES,
        expected=lambda calls, ex: _gradient_of_sines(ex),
        tolerance=NUMERICAL_TOLERANCE,
    ),
    agrees_with(
        function="numerical_gradient",
        name="central_differences_with_eps",
        says="numerical_gradient takes central differences with the eps it is given: exact on cubics",
        hint="Step eps both ways, (f(x + eps) - f(x - eps)) / (2 eps): a one-sided difference is far less "
        "accurate, and eps is an argument.",
        points=2,
        examples=CUBES,
        expected=lambda calls, ex: _differences_of_cubes(ex),
        tolerance=Tolerance(rtol=1e-7, atol=1e-8),
    ),
    numerical_gradient_of_float32,
    numerical_gradient_shape,
    leaves_input_unchanged(function="numerical_gradient", points=1, examples=st.one_of(SINES, SINES_FLOAT32)),
    agrees_with_reference(
        function="numerical_gradient",
        hint="Perturb one coordinate at a time, by eps each way.",
        points=2,
        examples=SINES_ANY_EPS,
        tolerance=NUMERICAL_TOLERANCE,
    ),
    # relative_error
    agrees_with(
        function="relative_error",
        name="agrees_with_formula",
        says="relative_error agrees with max(|a - b| / maximum(1e-8, |a| + |b|))",
        hint="Elementwise |a - b| / maximum(1e-8, |a| + |b|), then the largest value.",
        points=3,
        examples=ERROR_PAIRS,
        expected=lambda calls, ex: _relative_error(ex["a"], ex["b"]),
    ),
    agrees_with_reference(
        function="relative_error", hint="Take the maximum, not the mean.", points=2, examples=ERROR_PAIRS
    ),
    relative_error_of_equal_arrays,
    relative_error_is_symmetric,
    relative_error_at_most_one,
    returns_one_number(function="relative_error", points=1, examples=ERROR_PAIRS),
    # mlp_loss_and_grads
    mlp_loss_agrees_with_torch,
    mlp_grads_agree_with_torch,
    mlp_grads_match_central_differences,
    agrees_with_reference(
        function="mlp_loss_and_grads",
        hint="Compare one layer at a time.",
        points=1,
        examples=MLPS,
        names=("the loss", "grads"),
    ),
    mlp_unchanged_when(
        name="batch_invariant",
        says="the batch is stacked on itself",
        hint="The loss is a mean over the examples; its gradients are too (delta is divided by n).",
        change=_stacked,
    ),
    mlp_unchanged_when(
        name="permutation_invariant",
        says="the examples are permuted",
        hint="The order of the examples cannot matter: reduce over the rows (axis 0) for db.",
        change=_permuted,
    ),
    leaves_nested_input_unchanged(function="mlp_loss_and_grads", points=1, examples=MLPS),
    mlp_grads_dtype,
    as_fast_as_reference(function="mlp_loss_and_grads", make_input=_large_mlp, hint=LOOP_HINT, points=1),
    # gradient_descent
    agrees_with(
        function="gradient_descent",
        name="agrees_with_torch_sgd",
        says="gradient_descent's iterates agree with torch.optim.SGD on a quadratic bowl",
        hint="w <- w - lr * grad(w), and every iterate kept.",
        points=3,
        examples=BOWLS,
        expected=lambda calls, ex: torch_sgd_path(ex),
    ),
    gradient_descent_starts_at_w0,
    gradient_descent_with_zero_lr,
    gradient_descent_descends,
    gradient_descent_converges,
    gradient_descent_diverges,
    leaves_input_unchanged(function="gradient_descent", points=1, examples=BOWLS),
    agrees_with_reference(
        function="gradient_descent",
        hint="Row t + 1 is row t minus lr times the gradient at row t.",
        points=1,
        examples=BOWLS,
    ),
    # sgd_momentum_step
    momentum_agrees_with_torch,
    momentum_without_beta,
    momentum_with_zero_lr,
    agrees_with_reference(
        function="sgd_momentum_step",
        hint="v = beta * v + dw first, then w - lr * v.",
        points=2,
        examples=MOMENTUM_STEPS,
        names=("w", "v"),
    ),
    optimizer_shapes(function="sgd_momentum_step", names=("w", "v"), examples=MOMENTUM_STEPS),
    leaves_nested_input_unchanged(function="sgd_momentum_step", points=1, examples=MOMENTUM_STEPS),
    # adam_step
    adam_agrees_with_torch,
    adam_first_step,
    adam_with_zero_lr,
    agrees_with_reference(
        function="adam_step",
        hint="eps is added after the square root.",
        points=2,
        examples=ADAM_STEPS,
        names=("w", "m", "v"),
    ),
    optimizer_shapes(function="adam_step", names=("w", "m", "v"), examples=ADAM_STEPS),
    leaves_nested_input_unchanged(function="adam_step", points=1, examples=ADAM_STEPS),
    # minibatch_sgd
    minibatch_full_batch,
    minibatch_uses_every_example,
    minibatch_steps,
    minibatch_epoch_losses,
    minibatch_params_dtype,
    minibatch_shuffles,
    minibatch_uses_its_rng,
    leaves_nested_input_unchanged(function="minibatch_sgd", points=1, examples=MINI_BATCH_RUNS),
)

ASSIGNMENT = Assignment(
    id="03_gradient_descent",
    notebook="gradient_descent.ipynb",
    properties=PROPERTIES,
    preload=("numpy",),
    warm_up=warm_pytorch,
    dtypes={
        "mse_loss": "number",
        "mse_loss_grad": "input",
        "huber_loss": "number",
        "bce_with_logits": "number",
        "bce_with_logits_grad": "input",
        "cross_entropy": "number",
        "cross_entropy_grad": "input",
        "numerical_gradient": "float64",
        "relative_error": "number",
        "mlp_loss_and_grads": "input",
        "gradient_descent": "input",
        "sgd_momentum_step": "input",
        "adam_step": "input",
        "minibatch_sgd": "input",
    },
)
