"""The property catalogue of ``01_neurons`` (contract: docs/CURRICULUM.md, section 01).

Public properties compare with the contract's formulas evaluated here in float64 NumPy and with
invariants: shapes, the activation's range, rows of a batch that do not influence each other.
``init_dense`` is random and the contract does not fix how a student draws random numbers, so its
properties are statistical (bounds six standard errors wide, and a normality test at p < 1e-6, so a
correct solution fails one with a probability below 1e-6 per drawn example) and structural; none of
them asks for the reference's random stream.
Hidden properties compare with the reference and time the functions where vectorisation is the lesson.

The catalogue reads as a table (:data:`PROPERTIES`, at the end): builders shared by several functions
come first, then each function's own checks, one decorated test per property.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from autograder.exercises import strategies as draw
from autograder.exercises.common import (
    Example,
    agrees_with,
    agrees_with_reference,
    array_part,
    as_fast_as_reference,
    drawn_property,
    in_order,
    leaves_nested_input_unchanged,
    parts_of,
    result_of,
)
from autograder.grading.calls import Calls
from autograder.grading.catalogue import Assignment, Property
from autograder.grading.checks import DTYPE_HINTS, PropertyFailure, assert_close, observed_dtype, tolerance_for
from autograder.grading.report import Verdict
from autograder.sandbox.callables import resolve_arguments
from autograder.sandbox.protocol import NamedCallable

MAX_ABS = 10.0
FLOAT64 = tolerance_for(np.dtype(np.float64))

IDENTITY = NamedCallable("identity")
RELU = NamedCallable("relu")
TANH = NamedCallable("ufunc", "tanh")
SIN = NamedCallable("ufunc", "sin")
ABS = NamedCallable("ufunc", "abs")
ACTIVATIONS = (IDENTITY, RELU, TANH, SIN, ABS)
# Activations whose outputs are bounded: a bias added after the activation shows up outside the bounds.
RANGES: dict[str, tuple[float, float]] = {
    "relu": (0.0, np.inf),
    "tanh": (-1.0, 1.0),
    "sin": (-1.0, 1.0),
    "abs": (0.0, np.inf),
}


def _label(activation: NamedCallable) -> str:
    return str(activation.args[0]) if activation.args else activation.name


BOUNDED = tuple(a for a in ACTIVATIONS if _label(a) in RANGES)

LOOP_HINT = "A Python loop over examples is slow; one matrix product handles the whole batch at once."
IN_PLACE_HINT = "x *= w or x -= x.mean() change the caller's array; compute into new arrays instead."


# --- neuron and dense_forward: examples, formula and the builders they share ----------------------


@st.composite
def _neuron_examples(
    draw_from: st.DrawFn, batched: bool | None = None, activations: tuple[NamedCallable, ...] = ACTIVATIONS
) -> Example:
    d = draw_from(st.integers(1, 4))
    in_batch = draw_from(st.booleans()) if batched is None else batched
    shape = (draw_from(st.integers(2 if batched else 1, 5)), d) if in_batch else (d,)
    x, w, b = draw_from(draw.float64_blocks([shape, (d,), ()], MAX_ABS))
    return {"x": x, "w": w, "b": float(b), "activation": draw_from(st.sampled_from(activations))}


@st.composite
def _dense_examples(
    draw_from: st.DrawFn, min_rows: int = 1, activations: tuple[NamedCallable, ...] = ACTIVATIONS
) -> Example:
    n, d_in, d_out = draw_from(st.integers(min_rows, 5)), draw_from(st.integers(1, 4)), draw_from(st.integers(1, 4))
    x, W, b = draw_from(draw.float64_blocks([(n, d_in), (d_in, d_out), (d_out,)], MAX_ABS))
    return {"x": x, "W": W, "b": b, "activation": draw_from(st.sampled_from(activations))}


NEURON = _neuron_examples()
DENSE = _dense_examples()


def _layer(example: Example) -> np.ndarray:
    """``activation(x @ W + b)`` in float64, for a neuron (``w``, scalar ``b``) or a layer (``W``, ``b``)."""
    weights = example["w"] if "w" in example else example["W"]
    activation = resolve_arguments(example["activation"])
    return np.asarray(activation(np.asarray(example["x"] @ weights + example["b"])))


def check_dtype(function: str, got: np.ndarray, x: np.ndarray) -> None:
    """``got`` has the float dtype of the input ``x`` (the contract: float32 in, float32 out)."""
    if got.dtype != x.dtype:
        raise PropertyFailure(
            f"{function} returned dtype {got.dtype} for an input x of dtype {x.dtype}",
            observed=observed_dtype(got.dtype, x.dtype),
        )


def returns_the_layer_shape_and_dtype(
    *, function: str, says: str, hint: str, points: float, examples: st.SearchStrategy[Example]
) -> Property:
    """``function(x, ...)`` has the shape of ``activation(x @ W + b)`` and ``x``'s float dtype (examples
    drawn in float32 and float64)."""

    @drawn_property(
        function=function,
        name="returns_the_right_shape_and_dtype",
        says=says,
        hint=hint,
        points=points,
        examples=draw.in_float_dtypes(examples),
        gated=True,
        hints=DTYPE_HINTS,
    )
    def test(calls: Calls, example: Example) -> None:
        got = result_of(calls, example)
        want = _layer(example).shape
        if got.shape != want:
            shapes = ", ".join(f"{k} {v.shape}" for k, v in example.items() if isinstance(v, np.ndarray))
            raise PropertyFailure(f"{function} returned shape {got.shape} for {shapes}; expected {want}")
        check_dtype(function, got, example["x"])

    return test


def rows_are_independent(
    *, function: str, points: float, examples: st.SearchStrategy[Example], hint: str = ""
) -> Property:
    """Each example of a batch is computed on its own: reversing the rows of ``x`` reverses the output, and
    the first row alone gives the first row of the output."""

    @drawn_property(
        function=function,
        name="rows_are_independent",
        says=f"each row of {function}'s output depends on its own input row only",
        hint=hint
        or "A batch is n separate examples: nothing computed for one row may use another row "
        "(no statistics over the batch, no mixing of axes).",
        points=points,
        examples=examples,
        gated=True,  # a constant is the same for every row
    )
    def test(calls: Calls, example: Example) -> None:
        x = example["x"]
        whole = result_of(calls, example)
        if whole.shape[:1] != x.shape[:1]:
            raise PropertyFailure(f"{function} returned shape {whole.shape} for a batch of {x.shape[0]} rows")
        reversed_rows = result_of(calls, {**example, "x": x[::-1].copy()})
        assert_close(reversed_rows, whole[::-1], FLOAT64, f"{function} of the rows in reverse order is not reversed")
        first = result_of(calls, {**example, "x": x[:1].copy()})
        assert_close(first, whole[:1], FLOAT64, f"{function} of the first row alone differs from its row in the batch")

    return test


def within_activation_range(*, function: str, points: float, examples: st.SearchStrategy[Example]) -> Property:
    """Every output lies in the range of the example's (bounded) activation, within float64 rounding: the
    bias goes inside the activation, ``g(x @ w + b)``."""

    @drawn_property(
        function=function,
        name="within_activation_range",
        says=f"{function}'s outputs lie in the activation's range (the bias goes inside the activation)",
        hint="The activation is applied last, to the whole pre-activation: g(x·w + b), not g(x·w) + b.",
        points=points,
        examples=examples,
        gated=True,
    )
    def test(calls: Calls, example: Example) -> None:
        got = result_of(calls, example)
        low, high = RANGES[_label(example["activation"])]
        slack = FLOAT64.atol + FLOAT64.rtol * max(abs(low), abs(high) if np.isfinite(high) else 0.0)
        outside = (got < low - slack) | (got > high + slack)
        if np.any(outside):
            raise PropertyFailure(
                f"{function} returned {got[outside].ravel()[0]!r}, outside the range [{low:g}, {high:g}] "
                f"of the activation {_label(example['activation'])}",
                got=got,
            )

    return test


def _large_single_neuron(rng: np.random.Generator) -> list[Any]:
    return [rng.standard_normal((1 << 18, 16)), rng.standard_normal(16), 0.1, TANH]


def _large_layer(rng: np.random.Generator) -> list[Any]:
    return [rng.standard_normal((1 << 14, 64)), rng.standard_normal((64, 64)) / 8, rng.standard_normal(64), RELU]


# --- init_dense ---------------------------------------------------------------------------------

STD: dict[str, Callable[[int, int], float]] = {
    "he": lambda d_in, d_out: float(np.sqrt(2.0 / d_in)),
    "glorot": lambda d_in, d_out: float(np.sqrt(2.0 / (d_in + d_out))),
}
UNKNOWN_SCHEMES = ("xavier", "kaiming", "uniform", "lecun", "he_uniform", "normal")
# Sizes large enough for tight statistics: at least 4096 weights, so 6 / sqrt(2 N) <= 0.066.
LARGE_SIDE = st.integers(64, 256)
SMALL_SIDE = st.integers(1, 6)


def _init_examples(
    schemes: tuple[str, ...], side: st.SearchStrategy[int] = LARGE_SIDE, default: bool = False
) -> st.SearchStrategy[Example]:
    """``(d_in, d_out, rng, scheme)``; with ``default``, ``scheme`` is sometimes left out (meaning "he")."""
    required = {"d_in": side, "d_out": side, "rng": draw.generators()}
    scheme = st.sampled_from(schemes)
    if default:
        examples = st.fixed_dictionaries(required, optional={"scheme": scheme})
    else:
        examples = st.fixed_dictionaries({**required, "scheme": scheme})
    return examples.map(in_order("d_in", "d_out", "rng", "scheme"))


SMALL_INITS = _init_examples(("he", "glorot"), side=SMALL_SIDE, default=True)
LARGE_INITS = _init_examples(("he", "glorot"), default=True)


def _weights_and_biases(calls: Calls, example: Example, repeat: int = 0) -> tuple[np.ndarray, np.ndarray]:
    W, b = parts_of(calls.student(*example.values(), repeat=repeat), ("W", "b"), "init_dense")
    return array_part(W, "init_dense", "W"), array_part(b, "init_dense", "b")


def _scheme(example: Example) -> str:
    return str(example.get("scheme", "he"))


def _contract_std(example: Example) -> float:
    return STD[_scheme(example)](example["d_in"], example["d_out"])


@drawn_property(
    function="init_dense",
    says="init_dense returns W: (d_in, d_out) and b: (d_out,), float64",
    hint="Column j of W holds the weights of neuron j, as in dense_forward.",
    points=1,
    examples=SMALL_INITS,
    gated=True,
)
def returns_the_right_shapes(calls: Calls, example: Example) -> None:
    W, b = _weights_and_biases(calls, example)
    d_in, d_out = example["d_in"], example["d_out"]
    if W.shape != (d_in, d_out) or b.shape != (d_out,):
        raise PropertyFailure(
            f"init_dense returned W: {W.shape} and b: {b.shape}; expected W: {(d_in, d_out)}, b: {(d_out,)}"
        )
    if W.dtype != np.float64 or b.dtype != np.float64:
        raise PropertyFailure(f"init_dense returned W of dtype {W.dtype} and b of dtype {b.dtype}; expected float64")


@drawn_property(
    function="init_dense",
    says="init_dense's biases are zero",
    hint="Only the weights are random; every bias starts at 0.",
    points=1,
    examples=SMALL_INITS,
    gated=True,
)
def zero_biases(calls: Calls, example: Example) -> None:
    _, b = _weights_and_biases(calls, example)
    if np.any(b != 0):
        raise PropertyFailure("init_dense returned biases that are not all zero", np.zeros_like(b), b)


@drawn_property(
    function="init_dense",
    says="init_dense's weights have mean 0 (within six standard errors)",
    hint="The weights are centred on zero: positive and negative equally likely.",
    points=1,
    examples=LARGE_INITS,
    gated=True,  # all-zero weights have mean 0
)
def zero_mean(calls: Calls, example: Example) -> None:
    W, _ = _weights_and_biases(calls, example)
    std = _contract_std(example)
    bound = 6 * std / np.sqrt(W.size)
    if abs(float(np.mean(W))) > bound:
        raise PropertyFailure(
            f"the mean of W is {np.mean(W):.4g}; for {W.size} weights of mean 0 and std {std:.4g} it stays "
            f"within +-{bound:.3g} (six standard errors)"
        )


def _assert_contract_std(calls: Calls, example: Example) -> None:
    """The root mean square of W is the scheme's standard deviation within six relative standard errors
    (``1 / sqrt(2 N)`` for a sample standard deviation of ``N`` weights)."""
    W, _ = _weights_and_biases(calls, example)
    std = _contract_std(example)
    observed = float(np.sqrt(np.mean(np.square(W))))
    bound = 6 / np.sqrt(2 * W.size)
    if abs(observed / std - 1) > bound:
        raise PropertyFailure(
            f"the standard deviation of W is {observed:.4g}; the {_scheme(example)!r} scheme asks for "
            f"{std:.4g} (allowed: within {100 * bound:.1f}% for {W.size} weights)"
        )


@drawn_property(
    function="init_dense",
    says='with scheme "he" (the default), the weights\' standard deviation is sqrt(2 / d_in)',
    hint="rng.normal(loc, scale, size) takes the standard deviation as scale, not the variance; "
    "He counts the inputs of a neuron (d_in).",
    points=2,
    examples=_init_examples(("he",), default=True),
    establishes_correctness=True,  # the contract's standard deviation
)
def he_std(calls: Calls, example: Example) -> None:
    _assert_contract_std(calls, example)


@drawn_property(
    function="init_dense",
    says='with scheme "glorot", the weights\' standard deviation is sqrt(2 / (d_in + d_out))',
    hint="Glorot averages the fan-in and the fan-out; mind standard deviation versus variance.",
    points=2,
    examples=_init_examples(("glorot",)),
    establishes_correctness=True,
)
def glorot_std(calls: Calls, example: Example) -> None:
    _assert_contract_std(calls, example)


# Neither establishing nor gated: no trivial function passes it, and weights of the right spread drawn
# from another distribution still do part of the job.
@drawn_property(
    function="init_dense",
    says="init_dense's weights are normally distributed (Kolmogorov-Smirnov test)",
    hint="The contract asks for W ~ N(0, std**2): a normal distribution, not a uniform one.",
    points=1,
    examples=LARGE_INITS,
)
def normally_distributed(calls: Calls, example: Example) -> None:
    from scipy.stats import kstest

    W, _ = _weights_and_biases(calls, example)
    spread = float(np.sqrt(np.mean(np.square(W))))
    if spread == 0 or not np.isfinite(spread):
        raise PropertyFailure(f"W has no spread at all (root mean square {spread})")
    result = kstest(W.ravel() / spread, "norm")
    if result.pvalue < 1e-6:
        raise PropertyFailure(
            f"W's values do not look normally distributed (Kolmogorov-Smirnov distance {result.statistic:.3f} "
            f"over {W.size} weights, p = {result.pvalue:.1e})"
        )


@drawn_property(
    function="init_dense",
    says="init_dense draws its weights from the rng it is given (same seed, same weights)",
    hint="All randomness comes from the rng argument (rng.normal, rng.standard_normal): not np.random, "
    "not a generator of your own.",
    points=1,
    examples=_init_examples(("he", "glorot"), side=SMALL_SIDE),
    gated=True,  # any use of the rng keeps it, whatever is drawn
)
def uses_the_rng(calls: Calls, example: Example) -> None:
    seed = int(example["rng"].args[0])
    first = _weights_and_biases(calls, example)
    again = _weights_and_biases(calls, example, repeat=1)
    other = _weights_and_biases(calls, {**example, "rng": NamedCallable("rng", seed ^ 1)})
    if not (np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])):
        raise PropertyFailure("two calls with generators of the same seed returned different weights")
    if np.array_equal(first[0], other[0]):
        raise PropertyFailure("generators of different seeds gave the same weights: the rng argument is not used")


@drawn_property(
    function="init_dense",
    says="init_dense raises a ValueError that names an unknown scheme",
    hint="Only 'he' and 'glorot' are schemes: for anything else, raise ValueError with a message that says "
    "which scheme was asked for.",
    points=1,
    examples=_init_examples(UNKNOWN_SCHEMES, side=SMALL_SIDE),
    gated=True,  # a function that always raises ValueError(repr(args)) keeps it
)
def rejects_unknown_schemes(calls: Calls, example: Example) -> None:
    scheme = example["scheme"]
    try:
        calls.student(*example.values())
    except PropertyFailure as failure:
        if failure.verdict != Verdict.ERROR:
            raise
        if failure.raised != "ValueError":
            raise PropertyFailure(f"{failure.message}; expected a ValueError for scheme {scheme!r}") from None
        if scheme not in failure.message.rsplit(" (at ", 1)[0]:
            raise PropertyFailure(f"{failure.message}: the message does not name the scheme {scheme!r}") from None
        return
    raise PropertyFailure(f"init_dense returned a result for the unknown scheme {scheme!r} instead of raising")


# --- mlp_forward --------------------------------------------------------------------------------

OUTPUT_ACTIVATIONS = (None, IDENTITY, TANH, RELU)


@st.composite
def _mlp_examples(draw_from: st.DrawFn, layers: int | None = None, min_rows: int = 1) -> Example:
    sizes = st.lists(st.integers(1, 4), min_size=layers + 1, max_size=layers + 1) if layers else draw.layer_widths()
    widths = draw_from(sizes)
    n = draw_from(st.integers(min_rows, 4))
    x, *weights = draw_from(draw.float64_blocks([(n, widths[0]), *draw.layer_shapes(widths)], 1.0))
    example: Example = {
        "x": 3.0 * x,
        "params": draw.as_params(weights),
        "activation": draw_from(st.sampled_from(ACTIVATIONS)),
    }
    if draw_from(st.booleans()):  # left out half of the time: the default is the identity
        example["output_activation"] = draw_from(st.sampled_from(OUTPUT_ACTIVATIONS))
    return example


MLP = _mlp_examples()


def _mlp(example: Example) -> np.ndarray:
    """The contract's forward pass in float64: hidden layers through ``activation``, the last through
    ``output_activation`` (the identity when it is None or absent)."""
    activation = resolve_arguments(example["activation"])
    output_activation = resolve_arguments(example.get("output_activation"))
    h = example["x"]
    for index, (W, b) in enumerate(example["params"]):
        z = h @ W + b
        last = index == len(example["params"]) - 1
        h = (z if output_activation is None else output_activation(z)) if last else activation(z)
    return np.asarray(h)


def _large_network(rng: np.random.Generator) -> list[Any]:
    # Many examples through narrow layers: a loop over examples pays Python's overhead on each of them.
    widths = (16, 32, 32, 4)
    params = [
        (rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_in), np.zeros(d_out))
        for d_in, d_out in zip(widths, widths[1:], strict=False)
    ]
    return [rng.standard_normal((1 << 16, widths[0])), params, RELU]


@drawn_property(
    function="mlp_forward",
    name="returns_the_right_shape_and_dtype",
    says="mlp_forward returns shape (n, d_L), the width of the last layer, of x's float dtype",
    hint="Every layer, the last one included, maps (n, d_in) to (n, d_out).",
    points=1,
    examples=draw.in_float_dtypes(MLP),
    gated=True,
    hints=DTYPE_HINTS,
)
def mlp_shape_and_dtype(calls: Calls, example: Example) -> None:
    got = result_of(calls, example)
    want = (example["x"].shape[0], example["params"][-1][0].shape[1])
    if got.shape != want:
        widths = [example["x"].shape[1]] + [W.shape[1] for W, _ in example["params"]]
        raise PropertyFailure(f"mlp_forward returned shape {got.shape} for layer widths {widths}; expected {want}")
    check_dtype("mlp_forward", got, example["x"])


# --- the table: every function's properties, in the order the feedback shows them -----------------

PROPERTIES: tuple[Property, ...] = (
    # neuron
    agrees_with(
        function="neuron",
        name="agrees_with_formula",
        says="neuron computes activation(x @ w + b), for one example and for a batch",
        hint="A neuron is g(w·x + b): a weighted sum of the inputs, plus the bias, through the activation.",
        points=3,
        examples=NEURON,
        expected=lambda calls, example: _layer(example),
    ),
    agrees_with_reference(
        function="neuron",
        hint="Try one example x: (d,) and a batch x: (n, d) with the same w and b.",
        points=2,
        examples=NEURON,
    ),
    returns_the_layer_shape_and_dtype(
        function="neuron",
        says="neuron returns a 0-d result for x: (d,) and shape (n,) for x: (n, d), of x's float dtype",
        hint="x @ w handles both shapes: it sums over the last axis of x only.",
        points=1,
        examples=NEURON,
    ),
    rows_are_independent(function="neuron", points=1, examples=_neuron_examples(batched=True)),
    within_activation_range(function="neuron", points=1, examples=_neuron_examples(activations=BOUNDED)),
    leaves_nested_input_unchanged(function="neuron", points=1, examples=NEURON, hint=IN_PLACE_HINT),
    as_fast_as_reference(function="neuron", make_input=_large_single_neuron, hint=LOOP_HINT, points=1),
    # dense_forward
    agrees_with(
        function="dense_forward",
        name="agrees_with_formula",
        says="dense_forward computes activation(x @ W + b)",
        hint="W has shape (d_in, d_out): column j holds the weights of neuron j, and b[j] is its bias.",
        points=3,
        examples=DENSE,
        expected=lambda calls, example: _layer(example),
    ),
    agrees_with_reference(
        function="dense_forward", hint="Check a batch whose d_in, d_out and n all differ.", points=2, examples=DENSE
    ),
    returns_the_layer_shape_and_dtype(
        function="dense_forward",
        says="dense_forward returns shape (n, d_out), of x's float dtype",
        hint="(n, d_in) @ (d_in, d_out) gives (n, d_out); b: (d_out,) broadcasts over the rows.",
        points=1,
        examples=DENSE,
    ),
    rows_are_independent(function="dense_forward", points=1, examples=_dense_examples(min_rows=2)),
    within_activation_range(function="dense_forward", points=1, examples=_dense_examples(activations=BOUNDED)),
    leaves_nested_input_unchanged(function="dense_forward", points=1, examples=DENSE, hint=IN_PLACE_HINT),
    as_fast_as_reference(function="dense_forward", make_input=_large_layer, hint=LOOP_HINT, points=1),
    # init_dense
    returns_the_right_shapes,
    zero_biases,
    zero_mean,
    he_std,
    glorot_std,
    normally_distributed,
    uses_the_rng,
    rejects_unknown_schemes,
    # mlp_forward
    agrees_with(
        function="mlp_forward",
        name="agrees_with_formula",
        says="mlp_forward composes the layers: activation on hidden layers, output_activation on the last",
        hint="h <- activation(h @ W + b) for every layer but the last; the last uses output_activation, or nothing.",
        points=3,
        examples=MLP,
        expected=lambda calls, example: _mlp(example),
    ),
    agrees_with_reference(
        function="mlp_forward", hint="Try networks of one, two and three layers.", points=2, examples=MLP
    ),
    agrees_with(
        function="mlp_forward",
        name="single_layer_network",
        says="a one-layer mlp_forward is output_activation(x @ W + b): the identity when output_activation is None",
        hint="The hidden activation is for hidden layers only; with one layer there is none, and None means "
        "no activation at all on the output.",
        points=1,
        examples=_mlp_examples(layers=1),
        expected=lambda calls, example: _mlp(example),
    ),
    mlp_shape_and_dtype,
    rows_are_independent(
        function="mlp_forward",
        points=1,
        examples=_mlp_examples(min_rows=2),
        hint="Every layer works on each row on its own: no statistics over the batch.",
    ),
    leaves_nested_input_unchanged(function="mlp_forward", points=1, examples=MLP),
    as_fast_as_reference(
        function="mlp_forward",
        make_input=_large_network,
        hint="Loop over the layers, never over the examples.",
        points=1,
    ),
)

ASSIGNMENT = Assignment(
    id="01_neurons",
    notebook="neurons.ipynb",
    properties=PROPERTIES,
    preload=("numpy", "matplotlib", "matplotlib.pyplot"),
    dtypes={"neuron": "input", "dense_forward": "input", "init_dense": "float64", "mlp_forward": "input"},
)
