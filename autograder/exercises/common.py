"""Property builders shared by every assignment: each returns a :class:`Property` ready to catalogue.

An example is a dict of named arguments (``{"z": array, "alpha": 0.1}``); the student's function is
called with them positionally, in that order, and the feedback shows them by name. Builders read like
sentences in the catalogues: ``agrees_with(...)``, ``keeps_shape_and_dtype(...)``, and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

import numpy as np
from hypothesis import strategies as st

from autograder.grading.calls import Calls
from autograder.grading.catalogue import Property, Timing
from autograder.grading.checks import (
    DIVIDE_BY_ZERO,
    DTYPE_HINTS,
    NOT_FINITE,
    ZERO_BY_ZERO,
    PropertyFailure,
    Tolerance,
    as_array,
    assert_close,
    assert_finite,
    observed_dtype,
    tolerance_for,
)
from autograder.sandbox.protocol import NamedCallable, NumpyScalar, Opaque

Example = dict[str, Any]

ERRSTATE = 'np.errstate(over="raise", invalid="raise", divide="raise")'


def in_order(*names: str) -> Callable[[Example], Example]:
    """Put an example's arguments in signature order (drawn optional arguments may come first)."""
    return lambda example: {name: example[name] for name in names if name in example}


Read = Callable[[Any, str], Any]  # a student's value and the function's name -> the value as the property needs it
T = TypeVar("T")


@overload
def result_of(calls: Calls, example: Example, *, errstate: bool = False) -> np.ndarray: ...
@overload
def result_of(calls: Calls, example: Example, *, errstate: bool = False, read: Callable[[Any, str], T]) -> T: ...
def result_of(calls: Calls, example: Example, *, errstate: bool = False, read: Read = as_array) -> Any:
    """The student's answer on ``example``, read by ``read``: a plain array by default (:func:`as_array`),
    one number with ``read=number_of``; a failure if it is not one."""
    return read(calls.student(*example.values(), errstate=errstate), calls.function)


def result_under_errstate(calls: Calls, example: Example, where: str, read: Read = as_array) -> Any:
    """:func:`result_of` under ``np.errstate(... "raise")``; a NumPy floating-point error the student's code
    raised is reported with ``where`` (the conditions it was raised under) added to its message."""
    try:
        return result_of(calls, example, errstate=True, read=read)
    except PropertyFailure as failure:
        if failure.raised == "FloatingPointError":
            raise PropertyFailure(f"{failure.message} {where}", raised=failure.raised) from None
        raise


def first_array(example: Example) -> np.ndarray:
    array = next(iter(example.values()))
    assert isinstance(array, np.ndarray)
    return array


def first_dtype(example: Example) -> np.dtype[Any]:
    """The dtype of the example's first array argument (float64 if it has none)."""
    arrays = [value for value in example.values() if isinstance(value, np.ndarray)]
    return arrays[0].dtype if arrays else np.dtype(np.float64)


# Reading what came back: arrays, numbers, pairs such as ``(W, b)``, lists of layers.


def _what_it_is(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, Opaque):
        return f"an object of type {value.type_name}"
    return f"a Python {type(value).__name__}"


def number_of(value: Any, function: str) -> float:
    """The student's answer read as one number: a Python or NumPy number, or an array holding just one."""
    if isinstance(value, NumpyScalar):
        value = value.value
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu" and value.size == 1:
        return float(value.reshape(()))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise PropertyFailure(f"{function} returned {_what_it_is(value)}; expected one number", got=value)


def plain_array(value: Any, function: str, where: str = "") -> np.ndarray:
    """A number or a numeric array from the student as a plain array (a failure for anything else)."""
    if isinstance(value, NumpyScalar):
        return value.value
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(float(value))
    raise PropertyFailure(f"{function} returned {_what_it_is(value)}{where}; expected a number or an array", got=value)


def parts_of(value: Any, names: tuple[str, ...], function: str) -> tuple[Any, ...]:
    """The items of a returned tuple such as ``(W, b)``; a failure naming them if it is anything else."""
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        wanted = f"a tuple ({', '.join(names)})"
        raise PropertyFailure(f"{function} returned {_what_it_is(value)}; expected {wanted}", got=value)
    return tuple(value)


def array_part(value: Any, function: str, what: str) -> np.ndarray:
    """One array inside a structured result; the failure says which part is wrong."""
    if not isinstance(value, (np.ndarray, NumpyScalar)):
        raise PropertyFailure(f"{function} returned {_what_it_is(value)} as {what}; expected a NumPy array", got=value)
    try:
        return as_array(value, function)
    except PropertyFailure as failure:
        raise PropertyFailure(f"{what}: {failure.message}", got=value) from None


# Comparing a result with the value it should have, whatever its structure.


def _subject(where: str, names: str | tuple[str, ...] | None) -> str:
    """The part of a result at ``where`` (``[1][0]``) in words: ``names`` names the result (a string) or its
    items (a tuple), so ``[1]`` of ``("w", "v")`` is ``v`` and ``[0][1]`` of ``"grads"`` is ``grads[0][1]``."""
    if isinstance(names, str):
        return names + where
    if names and where.startswith("["):
        index, rest = where[1:].split("]", 1)
        if index.isdigit() and int(index) < len(names):
            return names[int(index)] + rest
    return f"item {where} of the result" if where else "the result"


def _sentence(what: str, where: str, names: str | tuple[str, ...] | None) -> str:
    """``what`` about the part at ``where``: a ``{}`` in ``what`` is that part; else it is said after."""
    if "{}" in what:
        return what.format(_subject(where, names))
    return f"{what} in {_subject(where, names)}" if where else what


def assert_nested_close(
    got: Any,
    want: Any,
    tolerance: Tolerance,
    what: str,
    function: str,
    where: str = "",
    names: str | tuple[str, ...] | None = None,
) -> None:
    """``got`` has ``want``'s structure (tuples and lists, alike, of arrays and numbers) and agrees with it.

    Where ``want`` is an array, ``got`` must be a NumPy array (:func:`as_array`); where it is a number, ``got``
    may be a Python float, a NumPy scalar or an array holding one value. ``where`` is the position (``[1][0]``)
    being compared. Messages read as sentences: a ``{}`` in ``what`` stands for the part that differs, named
    from ``names`` (``"after step 2, {} differs"`` with ``names=("w", "v")`` says ``after step 2, v differs``);
    without one, the part is said after ``what``.
    """
    if isinstance(want, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(want):
            shape = f"a sequence of {len(got)} items" if isinstance(got, (list, tuple)) else _what_it_is(got)
            raise PropertyFailure(
                f"{_sentence(what, where, names)}: expected a sequence of {len(want)} items, got {shape}"
            )
        for index, (got_item, want_item) in enumerate(zip(got, want, strict=True)):
            assert_nested_close(got_item, want_item, tolerance, what, function, f"{where}[{index}]", names)
        return
    if isinstance(want, np.ndarray):
        expected = np.asarray(want)
        try:  # a NumPy scalar here is the grader's own indexing (path[0]); the student's arrive as NumpyScalar
            answer = as_array(np.asarray(got) if isinstance(got, np.generic) else got, function)
        except PropertyFailure as failure:
            if not where:
                raise
            raise PropertyFailure(f"{_subject(where, names)}: {failure.message}", got=got) from None
    else:  # a number: a Python or NumPy scalar (a formula's w - lr * dw on 0-d arrays is one)
        at = f" in {_subject(where, names)}" if where else ""
        expected, answer = plain_array(want, function, at), plain_array(got, function, at)
        if expected.ndim == 0 and answer.size == 1:
            answer = answer.reshape(())
    assert_close(answer, expected, tolerance, _sentence(what, where, names))


# The builders.


def agrees_with(
    *,
    function: str,
    name: str,
    says: str,
    hint: str,
    points: float,
    examples: st.SearchStrategy[Example],
    expected: Callable[[Calls, Example], Any],
    public: bool = True,
    needs_reference: bool = False,
    tolerance: Tolerance | None = None,
    names: str | tuple[str, ...] | None = None,
    hints: dict[str, str] | None = None,
) -> Property:
    """The student's result equals ``expected(calls, example)``: an array, a number, or tuples and lists of
    them (:func:`assert_nested_close`), within ``tolerance`` (by default the tolerance of the example's first
    array's dtype, float64 if it has none). ``names`` names the result's items in messages (``v is wrong``).

    ``hint`` is for finite but wrong values; NaN or infinity where the true value is finite gets
    :data:`NOT_FINITE_HINT`, unless ``hints`` says otherwise."""
    what = "{} is wrong" if names else f"{function} gave a wrong value"

    @drawn_property(
        function=function,
        name=name,
        says=says,
        hint=hint,
        points=points,
        examples=examples,
        public=public,
        needs_reference=needs_reference,
        establishes_correctness=True,
        hints={NOT_FINITE: NOT_FINITE_HINT, **(hints or {})},
    )
    def test(calls: Calls, example: Example) -> None:
        got = calls.student(*example.values())
        chosen = tolerance or tolerance_for(first_dtype(example))
        assert_nested_close(got, expected(calls, example), chosen, what, function, names=names)

    return test


def agrees_with_reference(
    *,
    function: str,
    hint: str,
    points: float,
    examples: st.SearchStrategy[Example],
    tolerance: Tolerance | None = None,
    names: str | tuple[str, ...] | None = None,
) -> Property:
    """:func:`agrees_with` the instructor's reference solution (hidden)."""
    return agrees_with(
        function=function,
        name="agrees_with_reference",
        says=f"{function} agrees with the reference solution",
        hint=hint,
        points=points,
        examples=examples,
        expected=lambda calls, example: calls.reference(*example.values()),
        public=False,
        needs_reference=True,
        tolerance=tolerance,
        names=names,
    )


def keeps_shape_and_dtype(*, function: str, points: float, examples: st.SearchStrategy[Example]) -> Property:
    def test(calls: Calls, example: Example) -> None:
        z = first_array(example)
        got = result_of(calls, example)
        if got.shape != z.shape:
            raise PropertyFailure(f"{function} returned shape {got.shape} for an input of shape {z.shape}")
        if got.dtype != z.dtype:
            raise PropertyFailure(
                f"{function} returned dtype {got.dtype} for an input of dtype {z.dtype}",
                observed=observed_dtype(got.dtype, z.dtype),
            )

    return Property(
        function=function,
        name="keeps_shape_and_dtype",
        says=f"{function} returns an array of its input's shape and dtype",
        hint="Work with NumPy operations on the whole array: the result has the input's shape and float dtype.",
        points=points,
        strategy=examples,
        test=test,
        gated=True,
        hints=DTYPE_HINTS,
    )


def leaves_input_unchanged(*, function: str, points: float, examples: st.SearchStrategy[Example]) -> Property:
    def test(calls: Calls, example: Example) -> None:
        _, after = calls.student_and_args_after(*example.values())
        for (argument, before), now in zip(example.items(), after, strict=False):
            if isinstance(before, np.ndarray) and (
                not isinstance(now, np.ndarray)
                or now.dtype != before.dtype
                or not np.array_equal(now, before, equal_nan=True)
            ):
                raise PropertyFailure(f"{function} modified its argument {argument} in place", before, now)

    return Property(
        function=function,
        name="leaves_input_unchanged",
        says=f"{function} leaves its input unchanged",
        hint="Assignments like z[mask] = 0 or z *= 2 change the caller's array; build a new array instead.",
        points=points,
        strategy=examples,
        test=test,
        gated=True,
    )


# Hints for what a stability check saw; the property's own hint is the one for an overflow.
ZERO_BY_ZERO_HINT = (
    "NaN came from 0/0 (or inf/inf): a denominator underflowed to 0, or two infinities met. Look at what you "
    "divide by for the largest |z|: it must stay at least 1, e.g. a sum that includes exp(0)."
)
DIVIDE_BY_ZERO_HINT = (
    "Something was divided by 0, or log(0) was taken: for large |z| a probability underflows to 0. Work with "
    "logits (log-sum-exp) instead of taking the log of a probability."
)
STABILITY_HINTS = {ZERO_BY_ZERO: ZERO_BY_ZERO_HINT, DIVIDE_BY_ZERO: DIVIDE_BY_ZERO_HINT}
# Finite but wrong values call for the property's own hint; NaN or infinity where the true value is finite
# points at the stability of the formula instead.
NOT_FINITE_HINT = (
    "Your result has NaN or infinity where the true value is finite: an exp overflowed (inf, and inf/inf is "
    "NaN) or a sum underflowed to 0 (0/0 is NaN). Look at the largest |z| in the input."
)


def stable_for_large_inputs(
    *,
    function: str,
    hint: str,
    points: float,
    examples: st.SearchStrategy[Example],
    read: Read = as_array,
    hints: dict[str, str] | None = None,
) -> Property:
    """Finite, with no NumPy error under :data:`ERRSTATE`, for a result read by ``read`` (an array, or one
    number with ``read=number_of``): ``hint`` is for an overflow, ``hints`` (by default
    :data:`STABILITY_HINTS`) for 0/0 and division by zero."""

    @drawn_property(
        function=function,
        name="stable_for_large_inputs",
        says=f"{function} is finite and raises no NumPy error for |z| up to 1e4",
        hint=hint,
        points=points,
        examples=examples,
        gated=True,
        hints={**STABILITY_HINTS, NOT_FINITE: hint, **(hints or {})},
    )
    def test(calls: Calls, example: Example) -> None:
        got = result_under_errstate(calls, example, f"under {ERRSTATE}", read)
        assert_finite(np.asarray(got), f"{function} is not finite where the true value is")

    return test


def within(
    *, function: str, low: float, high: float, says: str, hint: str, points: float, examples: st.SearchStrategy[Example]
) -> Property:
    def test(calls: Calls, example: Example) -> None:
        got = result_of(calls, example)
        tolerance = tolerance_for(first_array(example).dtype)  # rounding may step just past a bound
        slack_low = tolerance.atol + tolerance.rtol * abs(low) if np.isfinite(low) else 0.0
        slack_high = tolerance.atol + tolerance.rtol * abs(high) if np.isfinite(high) else 0.0
        outside = ~((got >= low - slack_low) & (got <= high + slack_high))
        if np.any(outside):
            raise PropertyFailure(
                f"{function} returned values outside [{low:g}, {high:g}], e.g. {got[outside].ravel()[0]!r}", got=got
            )

    return Property(
        function=function,
        name="within_range",
        says=says,
        hint=hint,
        points=points,
        strategy=examples,
        test=test,
        gated=True,
    )


def central_differences(f: Callable[[np.ndarray], Any], x: np.ndarray, *, elementwise: bool = False) -> np.ndarray:
    """The grader's own derivative of ``f`` at ``x`` (any shape) by central differences, in float64.

    ``grad[j] = (f(x + h e_j) - f(x - h e_j)) / (2 h_j)`` with ``h_j = 1e-6 max(1, |x_j|)``: the gradient of a
    scalar ``f``, one coordinate at a time. With ``elementwise=True``, ``f`` maps an array to one of its shape
    element by element, so every coordinate is stepped at once (one output depends on one input alone) and
    the result is the elementwise derivative.
    """
    point = np.array(x, dtype=np.float64, copy=True)
    step = 1e-6 * np.maximum(1.0, np.abs(point))
    if elementwise:
        with np.errstate(all="ignore"):
            return np.asarray((f(point + step) - f(point - step)) / (2 * step))
    grad = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        saved = float(point[index])
        point[index] = saved + step[index]
        up = f(point)
        point[index] = saved - step[index]
        down = f(point)
        point[index] = saved
        grad[index] = (up - down) / (2 * step[index])
    return grad


DERIVATIVE_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-6)


def matches_central_differences(
    *,
    function: str,
    forward_name: str,
    forward: Callable[[Example], Callable[[np.ndarray], np.ndarray]],
    hint: str,
    points: float,
    examples: st.SearchStrategy[Example],
) -> Property:
    """A ``*_grad`` equals the numerical derivative of the (trusted) forward function."""

    def test(calls: Calls, example: Example) -> None:
        got = result_of(calls, example)
        numerical = central_differences(forward(example), first_array(example), elementwise=True)
        assert_close(
            got, numerical, DERIVATIVE_TOLERANCE, f"{function} disagrees with the central differences of {forward_name}"
        )

    return Property(
        function=function,
        name="matches_central_differences",
        says=f"{function} agrees with central differences of {forward_name} (away from kinks)",
        hint=hint,
        points=points,
        strategy=examples,
        test=test,
        establishes_correctness=True,  # the grader's own forward function, not the student's
    )


def as_fast_as_reference(
    *,
    function: str,
    make_input: Callable[[np.random.Generator], list[Any]],
    hint: str,
    points: float,
    max_ratio: float = 3.0,
    harness: NamedCallable | None = None,
) -> Property:
    """Hidden: ``function`` takes at most ``max_ratio`` times the reference's time on ``make_input(rng)``,
    called through the trusted ``harness`` where one is given (see :class:`Timing`)."""
    return Property(
        function=function,
        name="as_fast_as_reference",
        says=f"{function} is within {max_ratio:g}x the reference's time on a large input",
        hint=hint,
        points=points,
        public=False,
        timing=Timing(make_input, max_ratio=max_ratio, harness=harness),
        needs_reference=True,
    )


def same_data(before: Any, after: Any) -> bool:
    """Whether an argument came back as it went in: arrays by dtype, shape and values, containers item by item.

    Named callables and generators are rebuilt in the worker and are not data, so they are not compared.
    """
    if isinstance(before, NamedCallable):
        return True
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and after.dtype == before.dtype
            and after.shape == before.shape
            and bool(np.array_equal(after, before, equal_nan=True))
        )
    if isinstance(before, (list, tuple)):
        return (
            type(after) is type(before)
            and len(after) == len(before)
            and all(same_data(b, a) for b, a in zip(before, after, strict=True))
        )
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and after.keys() == before.keys()
            and all(same_data(before[key], after[key]) for key in before)
        )
    return True  # numbers and strings cannot be changed in place


def leaves_nested_input_unchanged(
    *,
    function: str,
    points: float,
    examples: st.SearchStrategy[Example],
    hint: str = "Assignments like x[mask] = 0, x *= 2 or params.pop() change the caller's objects; "
    "build new arrays and lists instead.",
) -> Property:
    """No argument is modified in place: arrays, and arrays inside lists and tuples (a network's params)."""

    def test(calls: Calls, example: Example) -> None:
        _, after = calls.student_and_args_after(*example.values())
        for (argument, before), now in zip(example.items(), after, strict=False):
            if not same_data(before, now):
                raise PropertyFailure(f"{function} modified its argument {argument} in place", before, now)

    return Property(
        function=function,
        name="leaves_input_unchanged",
        says=f"{function} leaves its inputs unchanged",
        hint=hint,
        points=points,
        strategy=examples,
        test=test,
        gated=True,
    )


def returns_one_number(*, function: str, points: float, examples: st.SearchStrategy[Example]) -> Property:
    """A loss is one number: a Python float, a NumPy scalar or a 0-d array, not an array of losses."""

    def test(calls: Calls, example: Example) -> None:
        got = calls.student(*example.values())
        value = got.value if isinstance(got, NumpyScalar) else got
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "f":
            return
        if isinstance(value, float):
            return
        raise PropertyFailure(f"{function} returned {_what_it_is(value)}; expected one float", got=value)

    return Property(
        function=function,
        name="returns_one_number",
        says=f"{function} returns one number (a Python float or a 0-d array)",
        hint="float(...) turns a NumPy result into a Python float; an array of shape (1,) or (1, 1) is not a number.",
        points=points,
        strategy=examples,
        test=test,
        gated=True,
    )


Test = Callable[[Calls, Example], None]


def drawn_property(
    *,
    function: str,
    says: str,
    hint: str,
    points: float,
    examples: st.SearchStrategy[Example],
    name: str | None = None,
    public: bool = True,
    needs_reference: bool = False,
    establishes_correctness: bool = False,
    gated: bool = False,
    hints: Mapping[str, str] | None = None,
    min_examples: int = 1,
    self_reported: bool = False,
) -> Callable[[Test], Property]:
    """Make the decorated ``test(calls, example)`` a drawn property of ``function``, named after the test
    unless ``name`` says otherwise; its body states the relation, raising :class:`PropertyFailure` where it
    does not hold::

        @drawn_property(
            function="relative_error",
            says="relative_error(a, b) equals relative_error(b, a)",
            hint="Neither array is the true one.",
            points=1,
            examples=ERROR_PAIRS,
            gated=True,
        )
        def symmetric(calls: Calls, example: Example) -> None: ...

    The other arguments are :class:`Property`'s fields of the same names (docs/GRADING.md, partial credit).
    """

    def make(test: Test) -> Property:
        return Property(
            function=function,
            name=name or test.__name__,
            says=says,
            hint=hint,
            points=points,
            strategy=examples,
            test=test,
            public=public,
            needs_reference=needs_reference,
            establishes_correctness=establishes_correctness,
            gated=gated,
            hints=hints or {},
            min_examples=min_examples,
            self_reported=self_reported,
        )

    return make
