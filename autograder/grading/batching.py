"""Answering a property's student calls in a few batched round trips instead of one per example.

A drawn property runs in up to three passes over the same examples (one Hypothesis seed):

1. **Collect.** Hypothesis draws the examples exactly as for the real test, while the test body only
   records them. Every few examples (8, then 16, 32...) the body pauses to settle the ones recorded.
2. **Settle.** The property's test runs on each recorded example against a cache of answers. A call
   the cache cannot answer stops that example and is queued; the queued calls go to the worker in one
   batch, and the examples run again (a test that makes two calls takes two rounds). Once an example
   fails, collection stops.
3. **Replay**, only when an example failed: the real Hypothesis test runs with the same seed. It
   meets the same examples in the same order, answered from the cache, reaches the same first
   failure and shrinks it, and only the shrinking's new inputs make fresh round trips.

Hypothesis's choices depend only on the seed and on the outcomes so far, so while every example holds
the collecting run draws exactly what the real test would; when all hold, the real test is not run at
all. A failure that stops a property outright (a crash, a hang, a stub, the time budget) is raised at
its example as soon as settling reaches it, just as the real test would raise it there.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from autograder.sandbox.launcher import CallOutcome, Failure, PreparedCall, WorkerFailure
from autograder.sandbox.protocol import NumpyScalar

Answer = CallOutcome | BaseException
FIRST_CHUNK = 8


class NeedsAnswer(BaseException):
    """A call the cache cannot answer while settling; a ``BaseException`` so that test code passes it on."""

    def __init__(self, call: PreparedCall) -> None:
        super().__init__(call.key)
        self.call = call


class _StopCollecting(BaseException):
    """Raised from the collecting test body once an example has failed: Hypothesis need draw no more."""


# What the answers kept for one property may hold in arrays: examples are small, so an honest function's
# answers to a property come to megabytes; a function that returns hundreds of MiB per call would
# otherwise make the grader hold gigabytes.
ANSWERS_BUDGET_BYTES = 512 << 20


class Answers:
    """The outcome of each distinct student call of one property, keyed by the encoded call.

    Their arrays may hold at most ``budget`` bytes together; an answer over it is kept as a failure
    (verdict ``memory``) that costs its function, never the grader.
    """

    def __init__(self, budget: int = ANSWERS_BUDGET_BYTES) -> None:
        self._answers: dict[str, Answer] = {}
        self._budget = budget
        self._held = 0

    def get(self, key: str) -> Answer | None:
        return self._answers.get(key)

    def put(self, key: str, answer: Answer) -> None:
        if isinstance(answer, CallOutcome):
            size = _array_bytes(answer.value) + _array_bytes(answer.args_after)
            if self._held + size > self._budget:
                answer = WorkerFailure(
                    Failure.MEMORY,
                    f"its answers to this property's examples came to more than {self._budget >> 20} MiB, "
                    "more than the grader keeps",
                )
            else:
                self._held += size
        self._answers[key] = answer

    def __len__(self) -> int:
        return len(self._answers)


def _array_bytes(value: Any, depth: int = 0) -> int:
    """The bytes held by the arrays in a decoded answer (nesting is bounded by the wire format)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, NumpyScalar):
        return int(value.value.nbytes)
    if isinstance(value, (list, tuple)) and depth < 64:
        return sum(_array_bytes(item, depth + 1) for item in value)
    if isinstance(value, dict) and depth < 64:
        return sum(_array_bytes(item, depth + 1) for item in value.values())
    return 0


class Resolver(Protocol):
    """What settling needs from the calls object a test receives (:class:`autograder.grading.calls.Calls`)."""

    def recording(self) -> AbstractContextManager[None]: ...

    def fetch(self, calls: list[PreparedCall]) -> None: ...


Test = Callable[[Any, Any], None]


ExampleFailure = tuple[BaseException, Any]  # how an example failed, and the example


def first_failure(draw: Callable[[Callable[[Any], None]], None], test: Test, calls: Resolver) -> ExampleFailure | None:
    """Passes 1 and 2: the first failing example in Hypothesis's order and its failure, or ``None``.

    ``draw(body)`` runs Hypothesis with the property's strategy, settings and seed, calling ``body``
    with each example.
    """
    pending: list[Any] = []
    chunk = FIRST_CHUNK
    found: list[ExampleFailure] = []

    def settle_pending() -> None:
        nonlocal chunk
        failure = settle(pending, test, calls)
        pending.clear()
        chunk *= 2
        if failure is not None:
            found.append(failure)
            raise _StopCollecting()

    def body(example: Any) -> None:
        pending.append(example)
        if len(pending) >= chunk:
            settle_pending()

    try:
        draw(body)
        if pending:
            settle_pending()
    except _StopCollecting:
        pass
    return found[0] if found else None


def settle(examples: list[Any], test: Test, calls: Resolver) -> ExampleFailure | None:
    """Run ``test`` on ``examples`` in rounds of batched calls; the first failure in order, or ``None``."""
    outcomes: list[BaseException | None | bool] = [False] * len(examples)  # False: not settled yet
    while True:
        queued: dict[str, PreparedCall] = {}
        for index, example in enumerate(examples):
            if outcomes[index] is not False:
                if outcomes[index] is None:
                    continue
                break  # a failure: the examples after it do not matter
            call = _run_recorded(test, calls, example, outcomes, index)
            if call is not None:
                queued.setdefault(call.key, call)
            elif outcomes[index] is not None:
                break
        for outcome, example in zip(outcomes, examples, strict=True):
            if outcome is False:
                break  # the first unsettled example comes before any failure: fetch and go on
            if isinstance(outcome, BaseException):
                return outcome, example
        else:
            return None
        calls.fetch(list(queued.values()))


def _run_recorded(
    test: Test, calls: Resolver, example: Any, outcomes: list[BaseException | None | bool], index: int
) -> PreparedCall | None:
    """Run the test on one example; returns the call it still needs, else records how it ended."""
    try:
        with calls.recording():
            test(calls, example)
    except NeedsAnswer as need:
        return need.call
    except BaseException as failure:  # noqa: BLE001 - every way a test ends is an outcome to keep
        outcomes[index] = failure
        return None
    outcomes[index] = None
    return None
