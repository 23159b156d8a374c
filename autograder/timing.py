"""Timing a student's function against the reference's, as a ratio measured side by side.

Both functions run in their own worker process; calls alternate (student, reference, student, ...)
so that a burst of load on a busy machine hits both. Every repeat uses a fresh input, stored in both
workers just before it is timed, and both results come back and must agree: a function cannot
remember an answer it computed before, nor skip the work (a patched worker that answers at once is
caught by its wrong answer).

Times are round trips measured by the grader, never clocks inside a worker (student code can patch
those), less the round trip of echoing a stored input of the same size through the reference's
worker, which no student code touches. The ratio of the best times is compared with the property's
``max_ratio``: a Python loop is tens of times slower than vectorised NumPy, while a correct
vectorised solution stays well within a factor of 3.

A function whose arguments cannot be stored as plain data (a model, an optimizer) is timed through the
property's trusted harness, which builds them in the worker and is the same for both sides; such a
harness returns nothing, and the function's answers are checked by the properties before its timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.catalogue import Timing
from autograder.checks import PropertyFailure, as_array, assert_close, tolerance_for
from autograder.protocol import NamedCallable, NumpyScalar
from autograder.sandbox import BadReturn, StudentRaised, Worker

_INPUT = "timing-input"
# Give up on repeats at once when the first call is this many times over the limit.
_HOPELESS = 10.0


@dataclass(frozen=True)
class TimingResult:
    student_seconds: float
    reference_seconds: float

    @property
    def ratio(self) -> float:
        return self.student_seconds / self.reference_seconds


def measure(
    function: str, student: Worker, reference: Worker, timing: Timing, rng: np.random.Generator
) -> TimingResult:
    """Best-of-``repeats`` times of student and reference on fresh inputs, overhead removed."""
    student_times: list[float] = []
    reference_times: list[float] = []
    overheads: list[float] = []
    harness = timing.harness
    _store(timing.make_input(rng), student, reference)  # a warm-up: first-call costs are not the lesson
    _timed_call(reference, function, "the reference", harness)
    _timed_call(student, function, function, harness)
    for repeat in range(timing.repeats):
        _store(timing.make_input(rng), student, reference)
        overheads.append(reference.echo_stored(_INPUT))
        student.echo_stored(_INPUT)  # the same warm-up for both; only the reference's time is trusted
        if repeat % 2:  # who goes first alternates, so that neither always meets a cold cache
            elapsed, want = _timed_call(reference, function, "the reference", harness)
            reference_times.append(elapsed)
        elapsed, got = _timed_call(student, function, function, harness)
        student_times.append(elapsed)
        if not repeat % 2:
            elapsed, want = _timed_call(reference, function, "the reference", harness)
            reference_times.append(elapsed)
        _same_answer(function, got, want)
        if repeat == 0 and student_times[0] > _HOPELESS * timing.max_ratio * reference_times[0]:
            break
    overhead = min(overheads)
    return TimingResult(_net(student_times, overhead), _net(reference_times, overhead))


def _store(args: list[Any], *workers: Worker) -> None:
    for worker in workers:
        worker.store(_INPUT, args)


def _net(times: list[float], overhead: float) -> float:
    """The best time less the overhead of a round trip; the overhead never counts for more than half."""
    best = min(times)
    return max(best - overhead, best / 2)


def check_timing(function: str, student: Worker, reference: Worker, timing: Timing, rng: np.random.Generator) -> str:
    """Raise :class:`PropertyFailure` when the student's function is too slow; else a one-line summary."""
    result = measure(function, student, reference, timing, rng)
    summary = (
        f"{function} took {result.student_seconds * 1e3:.2f} ms, the reference "
        f"{result.reference_seconds * 1e3:.2f} ms (ratio {result.ratio:.1f}, limit {timing.max_ratio:g})"
    )
    if result.ratio > timing.max_ratio:
        raise PropertyFailure(summary)
    return summary


def _timed_call(worker: Worker, function: str, who: str, harness: NamedCallable | None = None) -> tuple[float, Any]:
    """The round trip of one call on the stored input (through ``harness`` if there is one), and its result."""
    try:
        elapsed, outcome = worker.call_stored(function, _INPUT, harness=harness)
    except StudentRaised as error:
        raise PropertyFailure(
            f"{who} raised {error.message} on the large timing input", verdict=error.verdict
        ) from None
    except BadReturn as error:
        raise PropertyFailure(f"{who} returned something that cannot be checked: {error}") from None
    return elapsed, outcome.value


def _same_answer(function: str, got: Any, want: Any, where: str = "") -> None:
    """The timed result must be the reference's: a fast wrong answer is not fast.

    Results may be arrays, numbers, or tuples and lists of them (a loss and its gradients).
    """
    what = f"{function} gave a wrong answer on the timing input{where}"
    if want is None and got is None:
        return  # a timing harness returns nothing
    if isinstance(want, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(want):
            raise PropertyFailure(f"{what}: expected {len(want)} items", want, got)
        for index, (got_item, want_item) in enumerate(zip(got, want, strict=True)):
            _same_answer(function, got_item, want_item, f"{where}[{index}]")
        return
    expected = _as_numbers(want, "the reference")
    answer = _as_numbers(got, function)
    if expected.ndim == 0 and answer.size == 1:
        answer = answer.reshape(())
    assert_close(answer, expected, tolerance_for(expected.dtype), what)


def _as_numbers(value: Any, who: str) -> np.ndarray:
    """An array, or a number (Python or NumPy) as a 0-d float64 array."""
    if isinstance(value, NumpyScalar):
        value = value.value
    if isinstance(value, (int, float, np.generic)) and not isinstance(value, bool):
        return np.asarray(value, dtype=np.float64) if isinstance(value, (int, float)) else np.asarray(value)
    return as_array(value, who)
