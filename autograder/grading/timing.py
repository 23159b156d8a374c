"""Timing a student's function against the reference's, as a ratio measured side by side.

Both functions run in their own worker process, in rounds: every round stores one fresh input in
both workers, then times one call of each, in an order drawn from the grading seed, so that neither
always meets a cold cache and a submission cannot tell which call comes next. Both results come back
and must agree: a function cannot remember an answer it computed before, nor skip the work (a patched
worker that answers at once is caught by its wrong answer).

Times are round trips measured by the grader, never clocks inside a worker (student code can patch
those), less the round trip of a call shaped like the timed one: the reference's worker hands back a
stored answer of the same size. The answers themselves come back as digests (the trusted ``digest``
harness of :mod:`autograder.sandbox.callables`: shape, a sample of elements, the mean magnitude), so
that handing back a result of megabytes, which costs about as much as computing it with one ufunc,
cannot swamp the time of the work; the overhead left is small beside it. While the reference (or that
overhead) is timed, every process of the student's worker is stopped (:meth:`Worker.frozen`): nothing a
submission starts can slow the time it is compared with.

The verdict needs the ratio on one side of ``max_ratio`` beyond doubt. The best time of each side is
its least disturbed call; the second best says how far that could be off, so the ratio lies between
``(student best) / (reference second best)`` and ``(student second best) / (reference best)``. Rounds
go on until that interval lies wholly below the limit (passed) or wholly above it (failed); a Python
loop, tens of times slower than vectorised NumPy, is decided in two rounds. Should ``max_rounds`` pass
without a decision, the verdict says so (``undecided``) and the points are kept: a machine too noisy to
tell is never the student's fault, and the same submission then gets the same points on every regrade.

A function whose arguments cannot be stored as plain data (a model, an optimizer) is timed through the
property's own trusted harness, which builds them in the worker and is the same for both sides; what
such a harness returns is compared as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.grading.catalogue import Timing
from autograder.grading.checks import PropertyFailure, as_array, assert_close, tolerance_for
from autograder.grading.report import Verdict
from autograder.sandbox import isolation
from autograder.sandbox.launcher import BadReturn, StudentRaised, Worker
from autograder.sandbox.protocol import NamedCallable, NumpyScalar

_INPUT = "timing-input"
_ANSWER = "timing-answer"  # the reference's answer, echoed back to measure the overhead
_PING = "timing-ping"  # nothing, echoed to wake a worker up before it is timed
# Two rounds this many times over the limit decide at once: no noise explains a factor of 30 twice.
_HOPELESS = 10.0
# Short of hopeless, a failure needs this many rounds: a busy machine can disturb the best calls of one side.
_FAIL_ROUNDS = 5
# The least time a side is taken to need once the overhead is removed: a clock tick, not a floor
# that could move a ratio (timed inputs are sized so that every side needs milliseconds).
_RESOLUTION = 1e-6


@dataclass(frozen=True)
class TimingResult:
    """Each side's time with the overhead removed: its best estimate, and the least and most it could be.

    The best call of a side is its least disturbed one; its second best, and the spread of the overhead's
    two best measurements, say how far that could be off.
    """

    student: tuple[float, float, float]  # (least, best estimate, most), in seconds
    reference: tuple[float, float, float]
    rounds: int

    @property
    def ratio(self) -> float:
        return self.student[1] / self.reference[1]

    @property
    def interval(self) -> tuple[float, float]:
        """The least and the greatest ratio these measurements allow."""
        return self.student[0] / self.reference[2], self.student[2] / self.reference[0]

    def verdict(self, max_ratio: float) -> Verdict:
        low, high = self.interval
        if high <= max_ratio:
            return Verdict.PASSED
        if low > max_ratio:
            return Verdict.FAILED
        return Verdict.UNDECIDED


def measure(
    function: str, student: Worker, reference: Worker, timing: Timing, rng: np.random.Generator
) -> TimingResult:
    """Time rounds of student and reference until the ratio is on one side of the limit (or rounds run out)."""
    # A plain call is timed through the digest harness: the answer comes back as a few hundred numbers.
    harness = timing.harness or NamedCallable("digest")
    sides = {"student": (student, reference, function), "reference": (reference, student, "the reference")}
    warm_up = timing.make_input(rng)  # first-call costs are not the lesson
    for worker in (student, reference):
        worker.store(_PING, [])
        worker.store(_INPUT, warm_up)
    answers = {side: _time_side(*sides[side], function, harness)[1] for side in sides}
    for worker in (student, reference):
        worker.store(_ANSWER, [answers["reference"]])
    times: dict[str, list[float]] = {"student": [], "reference": []}
    overheads: list[float] = []
    result = TimingResult((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0)
    for rounds in range(1, timing.max_rounds + 1):
        _store(timing.make_input(rng), student, reference)
        order = ("reference", "student") if rng.integers(2) else ("student", "reference")
        for side in order:
            elapsed, answers[side] = _time_side(
                *sides[side], function, harness, overheads if side == "reference" else None
            )
            times[side].append(elapsed)
        _same_answer(function, answers["student"], answers["reference"])
        result = TimingResult(_net(times["student"], overheads), _net(times["reference"], overheads), rounds)
        if rounds >= 2 and result.student[0] > _HOPELESS * timing.max_ratio * result.reference[2]:
            break
        verdict = result.verdict(timing.max_ratio)
        if rounds >= timing.min_rounds and (
            verdict == Verdict.PASSED or (verdict == Verdict.FAILED and rounds >= _FAIL_ROUNDS)
        ):
            break
    return result


def _time_side(
    worker: Worker,
    other: Worker,
    who: str,
    function: str,
    harness: NamedCallable | None,
    overheads: list[float] | None = None,
) -> tuple[float, Any]:
    """One timed call of ``worker`` with every process of ``other`` stopped: its round trip and its result.

    An untimed echo first makes sure the worker runs again after its own thaw; with ``overheads``, the
    round trip of echoing an answer-sized value is measured just before the call, under the same conditions.
    """
    with other.frozen():
        worker.echo_stored(_PING)
        if overheads is not None:
            overheads.append(_as_if_alone(worker, lambda: (worker.echo_stored(_ANSWER), None))[0])
        return _as_if_alone(worker, lambda: _timed_call(worker, function, who, harness))


def _as_if_alone(worker: Worker, timed: Callable[[], tuple[float, Any]]) -> tuple[float, Any]:
    """Run ``timed`` (which returns a round trip's wall time and a result) and take off the time the worker's
    threads and the grader spent waiting for a CPU that other work held: the kernel's own accounting.

    On a busy machine a call of a few milliseconds is preempted more often than not, which no number of
    repeats averages away. The time is never taken below the CPU time all the worker's threads used, so
    threads that only wait (or spin) cannot make a function look faster than the work it did; and a
    worker that has a thread running before the call gets no correction at all.
    """
    # An honest worker is idle (waiting for the grader) once it has answered; on a busy machine it may take
    # a while to get there, and a worker with a thread still running gets no correction at all.
    before, own_before = worker.idle_thread_times(limit=0.5), isolation.own_thread_wait()
    wall, value = timed()
    own_after, after = isolation.own_thread_wait(), worker.idle_thread_times()
    if not before or own_before is None or own_after is None or any(busy for _, _, busy in before.values()):
        return wall, value
    waited = own_after - own_before + sum(after[tid][1] - before[tid][1] for tid in before if tid in after)
    ran = sum(run - before.get(tid, (0, 0, False))[0] for tid, (run, _, _) in after.items())
    return max(wall - waited / 1e9, ran / 1e9), value


def _store(args: list[Any], *workers: Worker) -> None:
    """Store the input in each worker, then let each settle by echoing an answer-sized value: the first
    large reply after a large request pays for freeing and mapping memory, which would otherwise fall
    on whichever call is timed next."""
    for worker in workers:
        worker.store(_INPUT, args)
    for worker in workers:
        worker.echo_stored(_ANSWER)


def _net(times: list[float], overheads: list[float]) -> tuple[float, float, float]:
    """(least, best estimate, most) of a side's time less the overhead, from the two best of each.

    After a single round the best is all there is, and least, estimate and most coincide.
    """
    best, second = _two_best(times)
    overhead, overhead_second = _two_best(overheads)
    least = best - overhead - (overhead_second - overhead)
    return max(least, _RESOLUTION), max(best - overhead, _RESOLUTION), max(second - overhead, _RESOLUTION)


def _two_best(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)[:2]
    return ordered[0], ordered[-1]


def check_timing(
    function: str, student: Worker, reference: Worker, timing: Timing, rng: np.random.Generator
) -> tuple[Verdict, str]:
    """The verdict (``passed`` or ``undecided``, whose points are kept) and a one-line summary.

    Raises :class:`PropertyFailure` when the student's function is clearly too slow.
    """
    result = measure(function, student, reference, timing, rng)
    low, high = result.interval
    rounds = f"{result.rounds} round" + ("s" if result.rounds > 1 else "")
    summary = (
        f"{function} took {result.student[1] * 1e3:.2f} ms, the reference {result.reference[1] * 1e3:.2f} ms "
        f"(ratio {result.ratio:.1f}, between {low:.1f} and {high:.1f} over {rounds}; limit {timing.max_ratio:g})"
    )
    verdict = result.verdict(timing.max_ratio)
    if verdict == Verdict.FAILED:
        raise PropertyFailure(summary)
    if verdict == Verdict.UNDECIDED:
        summary = "this machine was too noisy to tell within the rounds allowed, so the points are kept: " + summary
    return verdict, summary


def _timed_call(worker: Worker, function: str, who: str, harness: NamedCallable | None = None) -> tuple[float, Any]:
    """The round trip of one call on the stored input (through ``harness`` if there is one), and its result."""
    try:
        elapsed, outcome = worker.call_stored(function, _INPUT, harness=harness)
    except StudentRaised as error:
        raise PropertyFailure(
            f"{who} raised {error.message} on the large timing input",
            verdict=Verdict(error.verdict),
            raised=error.raised,
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
