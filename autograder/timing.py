"""Timing a student's function against the reference's, as a ratio measured side by side.

Both functions run in their own worker process on the same stored input; calls alternate (student,
reference, student, ...) so that a burst of load on a busy machine hits both. Times are round trips
measured by the grader, never clocks inside a worker, minus the round trip of an empty request. The
ratio of the best times is compared with the property's ``max_ratio``: a Python loop is tens of times
slower than vectorised NumPy, while a correct vectorised solution stays well within a factor of 3.
A function whose arguments cannot be stored as plain data (a model, an optimizer) is timed through the
property's trusted harness, which builds them in the worker and is the same for both sides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from autograder.catalogue import Timing
from autograder.checks import PropertyFailure
from autograder.protocol import NamedCallable, encode
from autograder.sandbox import BadReturn, StudentRaised, Worker

_INPUT = "timing-input"
_TINY = "timing-tiny"
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
    """Best-of-``repeats`` times of student and reference on one input, overhead removed."""
    args = timing.make_input(rng)
    for worker in (student, reference):
        worker.store(_INPUT, args)
        worker.store(_TINY, [np.zeros(1)])
    student_times: list[float] = []
    reference_times: list[float] = []
    student_overhead: list[float] = []
    reference_overhead: list[float] = []
    harness = timing.harness
    _timed_call(reference, function, "the reference", harness)  # warm-up: first-call costs are not the lesson
    _timed_call(student, function, function, harness)
    for repeat in range(timing.repeats):
        student_overhead.append(student.echo_stored(_TINY))
        student_times.append(_timed_call(student, function, function, harness))
        reference_overhead.append(reference.echo_stored(_TINY))
        reference_times.append(_timed_call(reference, function, "the reference", harness))
        if repeat == 0 and student_times[0] > _HOPELESS * timing.max_ratio * reference_times[0]:
            break
    return TimingResult(_net(student_times, student_overhead), _net(reference_times, reference_overhead))


def _net(times: list[float], overheads: list[float]) -> float:
    """The best time less the best empty round trip; the overhead never counts for more than half."""
    best = min(times)
    return max(best - min(overheads), best / 2)


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


def _timed_call(worker: Worker, function: str, who: str, harness: NamedCallable | None = None) -> float:
    try:
        elapsed = _call_stored(worker, function, harness)
    except StudentRaised as error:
        raise PropertyFailure(f"{who} raised {error.message} on the large timing input", verdict="error") from None
    except BadReturn as error:
        raise PropertyFailure(f"{who} returned something that cannot be checked: {error}") from None
    return elapsed


def _call_stored(worker: Worker, function: str, harness: NamedCallable | None) -> float:
    """The round trip of one call on the stored input, through ``harness`` (trusted code) if there is one.

    A harness builds what cannot be stored as plain data (a model, an optimizer) from its own arguments
    and then calls the function, so both sides of a timing pay for the same harness.
    """
    if harness is None:
        return worker.call_stored(function, _INPUT)[0]
    blobs: list[bytes] = []
    header = {"op": "call", "function": function, "handle": _INPUT, "discard": True, "harness": encode(harness, blobs)}
    start = time.perf_counter()
    response, out = worker.request(header, blobs)
    elapsed = time.perf_counter() - start
    worker._outcome(response, out)  # raises what the call raised, as Worker.call_stored does
    return elapsed
