"""What a property's test calls: the student's function in its sandboxed worker, and the reference.

:class:`Calls` is the one thing a catalogue's tests receive (``test(calls, example)``); the runner makes
one per property and keeps its answers, so that an example drawn again costs no second round trip.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from autograder.grading.batching import Answer, Answers, NeedsAnswer
from autograder.grading.checks import PropertyFailure
from autograder.grading.references import References
from autograder.grading.report import Verdict
from autograder.sandbox.callables import resolve_arguments
from autograder.sandbox.launcher import (
    BadReturn,
    CallOutcome,
    Failure,
    Launcher,
    Missing,
    NotImplementedYet,
    PreparedCall,
    StudentRaised,
    Worker,
    WorkerFailure,
    prepare_call,
)
from autograder.sandbox.protocol import NamedCallable


class GraderError(Exception):
    """The grader itself cannot run (as opposed to a problem with the submission)."""


class BudgetExceeded(BaseException):
    """A function used up its time budget across examples; a BaseException so Hypothesis stops."""


class WorkerSlot:
    """The worker a function's properties run in: started when first needed, and again after it died."""

    def __init__(
        self, launcher: Launcher | None, worker: Worker | None = None, bind: Callable[[Worker], Worker] | None = None
    ) -> None:
        self._launcher = launcher
        self._worker = worker
        self._bind = bind  # what every new worker is given before its first call (see SiblingRelay.bind)

    def live(self) -> Worker:
        if self._worker is None or self._worker.dead:
            if self._launcher is None:
                raise WorkerFailure(Failure.CRASHED, "the worker process died")
            worker = self._launcher.spawn()
            self._worker = worker if self._bind is None else self._bind(worker)
        return self._worker

    def kill(self) -> None:
        if self._worker is not None:
            self._worker.kill()


class Calls:
    """What a property's test uses: the student's function in its worker, and the reference.

    Every answer is kept for the property, keyed by the encoded call, so that the examples Hypothesis
    draws again (to settle a batch, to shrink a failure) never cost a second round trip.
    """

    def __init__(
        self,
        function: str,
        worker: Worker | WorkerSlot,
        references: References | None,
        deadline: float,
        answers: Answers | None = None,
    ) -> None:
        self.function = function
        self.slot = worker if isinstance(worker, WorkerSlot) else WorkerSlot(None, worker)
        self.references = references
        self.deadline = deadline
        self.answers = answers if answers is not None else Answers()
        self._recording = False
        # Set once a verdict may rest on what the worker says about itself rather than on what it returned.
        self.self_reported = False

    @property
    def worker(self) -> Worker:
        return self.slot.live()

    def student(self, *args: Any, errstate: bool = False, harness: NamedCallable | None = None, repeat: int = 0) -> Any:
        """``function(*args)`` in the worker; the student's exceptions become failures to report.

        With ``harness`` (a trusted callable named in :mod:`autograder.sandbox.callables`), the worker runs
        ``harness(function, *args)``, for functions whose arguments are not plain data. The same call
        twice is answered once; ``repeat=1`` (2, ...) really calls the function again.
        """
        call = prepare_call(self.function, args, errstate=errstate, harness=harness, repeat=repeat)
        self.self_reported |= errstate  # the worker says whether a floating-point error was raised
        return self._call(call).value

    def student_and_args_after(self, *args: Any) -> tuple[Any, list[Any]]:
        """The result and the arguments as they were after the call (to see if they were modified)."""
        self.self_reported = True  # the worker says what the arguments were after the call
        outcome = self._call(prepare_call(self.function, args, return_args=True))
        return outcome.value, list(outcome.args_after or [])

    def reference(self, *args: Any, function: str | None = None) -> Any:
        """The instructor's reference, run here on copies of the arguments."""
        if self.references is None:
            raise GraderError("this property needs the reference solutions, which are not available")
        copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in resolve_arguments(list(args))]
        with np.errstate(all="ignore"):
            return self.references.function(function or self.function)(*copies)

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """While settling a batch: a call the cache cannot answer raises :class:`NeedsAnswer`."""
        self._recording = True
        try:
            yield
        finally:
            self._recording = False

    def fetch(self, calls: list[PreparedCall]) -> None:
        """Answer ``calls`` in one round trip, into the cache, within the function's time budget."""
        if not calls:
            return
        if time.monotonic() > self.deadline:
            self.answers.put(calls[0].key, BudgetExceeded())
            return
        try:
            worker = self.slot.live()
        except WorkerFailure as failure:
            self.answers.put(calls[0].key, failure)
            return
        answered = 0
        for answer in worker.batch(calls):
            self.answers.put(calls[answered].key, answer)
            answered += 1
            if answered < len(calls) and time.monotonic() > self.deadline:
                worker.kill()  # it is still working through the rest of the batch
                self.answers.put(calls[answered].key, BudgetExceeded())
                return

    def _call(self, call: PreparedCall) -> CallOutcome:
        answer = self.answers.get(call.key)
        if answer is None:
            if self._recording:
                raise NeedsAnswer(call)
            answer = self._ask(call)
            self.answers.put(call.key, answer)
        return self._open(answer)

    def _ask(self, call: PreparedCall) -> Answer:
        if time.monotonic() > self.deadline:
            return BudgetExceeded()
        try:
            return self.slot.live().call_prepared(call)
        except (StudentRaised, BadReturn, Missing, NotImplementedYet, WorkerFailure) as failure:
            return failure

    def _open(self, answer: Answer) -> CallOutcome:
        """The outcome of a call, or the failure it stands for, raised."""
        if isinstance(answer, CallOutcome):
            return answer
        if isinstance(answer, StudentRaised):
            raise PropertyFailure(
                f"{self.function} raised {answer.message}", verdict=Verdict(answer.verdict), raised=answer.raised
            ) from None
        if isinstance(answer, BadReturn):
            raise PropertyFailure(f"{self.function} returned something that is not plain data: {answer}") from None
        if isinstance(answer, Missing):
            raise PropertyFailure(
                f"{self.function} is not a function in the submission", verdict=Verdict.MISSING
            ) from None
        raise answer
