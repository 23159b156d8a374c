"""Running an assignment's catalogue against one submission.

For each graded function the runner forks a fresh worker from the submission's zygote and runs the
function's properties in order. Drawn properties are Hypothesis tests seeded from the run's seed and
the property's name, so the same submission always meets the same inputs. Every score is computed
here, in the grader process, from plain data the worker sent back.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import HypothesisException

from autograder import __version__
from autograder.callables import resolve_arguments
from autograder.catalogue import Assignment, Property
from autograder.checks import PropertyFailure, describe
from autograder.protocol import NamedCallable
from autograder.references import References
from autograder.report import FunctionResult, PropertyResult, Report, environment
from autograder.sandbox import (
    BadReturn,
    Limits,
    Missing,
    NotImplementedYet,
    StudentRaised,
    Worker,
    WorkerFailure,
    Zygote,
)
from autograder.submission import Submission
from autograder.timing import check_timing

GRADING_SEED = 20261122  # the instructor's default; set AUTOGRADER_SEED or --seed for a course
PUBLIC_SEED = 7  # public checks use another seed, so seeing them teaches nothing about grading


@dataclass(frozen=True)
class Mode:
    name: str  # "check" or "grade"
    include_hidden: bool
    max_examples: int
    function_seconds: float  # wall-time budget for all drawn properties of one function


CHECK = Mode("check", include_hidden=False, max_examples=25, function_seconds=30.0)
GRADE = Mode("grade", include_hidden=True, max_examples=60, function_seconds=60.0)


class GraderError(Exception):
    """The grader itself cannot run (as opposed to a problem with the submission)."""


class BudgetExceeded(BaseException):
    """A function used up its time budget across examples; a BaseException so Hypothesis stops."""


class Calls:
    """What a property's test uses: the student's function in its worker, and the reference."""

    def __init__(self, function: str, worker: Worker, references: References | None, deadline: float) -> None:
        self.function = function
        self.worker = worker
        self.references = references
        self.deadline = deadline

    def student(self, *args: Any, errstate: bool = False, harness: NamedCallable | None = None) -> Any:
        """``function(*args)`` in the worker; the student's exceptions become failures to report.

        With ``harness`` (a trusted callable named in :mod:`autograder.callables`), the worker runs
        ``harness(function, *args)``, for functions whose arguments are not plain data.
        """
        return self._call(args, errstate=errstate, return_args=False, harness=harness).value

    def student_and_args_after(self, *args: Any) -> tuple[Any, list[Any]]:
        """The result and the arguments as they were after the call (to see if they were modified)."""
        outcome = self._call(args, errstate=False, return_args=True)
        return outcome.value, list(outcome.args_after or [])

    def reference(self, *args: Any, function: str | None = None) -> Any:
        """The instructor's reference, run here on copies of the arguments."""
        if self.references is None:
            raise GraderError("this property needs the reference solutions, which are not available")
        copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in resolve_arguments(list(args))]
        with np.errstate(all="ignore"):
            return self.references.function(function or self.function)(*copies)

    def _call(
        self, args: tuple[Any, ...], errstate: bool, return_args: bool, harness: NamedCallable | None = None
    ) -> Any:
        if time.monotonic() > self.deadline:
            raise BudgetExceeded()
        try:
            return self.worker.call(self.function, args, errstate=errstate, return_args=return_args, harness=harness)
        except StudentRaised as error:
            raise PropertyFailure(f"{self.function} raised {error.message}", verdict="error") from None
        except BadReturn as error:
            raise PropertyFailure(f"{self.function} returned something that is not plain data: {error}") from None
        except Missing:
            raise PropertyFailure(f"{self.function} is not a function in the submission", verdict="missing") from None


def property_seed(seed: int, prop: Property) -> int:
    return seed + zlib.crc32(prop.key.encode())


def run_drawn(prop: Property, calls: Calls, seed: int, max_examples: int) -> None:
    """Run one drawn property; on failure, raise the failure of the smallest (shrunk) example."""
    assert prop.strategy is not None and prop.test is not None
    failures: list[tuple[Any, PropertyFailure]] = []
    test = prop.test

    def body(example: Any) -> None:
        try:
            test(calls, example)
        except PropertyFailure as failure:
            failures.append((example, failure))
            raise

    wrapped = given(prop.strategy)(body)
    wrapped = settings(
        database=None,
        deadline=None,
        max_examples=max_examples,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )(wrapped)
    wrapped = hypothesis_seed(property_seed(seed, prop))(wrapped)
    try:
        wrapped()
    except PropertyFailure:
        example, failure = failures[-1]  # Hypothesis replays the shrunk example last
        raise PropertyFailure(
            failure.message + "\n" + _describe_example(example), failure.expected, failure.got, failure.verdict
        ) from None
    except HypothesisException as error:
        raise GraderError(f"property {prop.key} could not run: {error}") from None


def _describe_example(example: Any) -> str:
    if isinstance(example, dict):
        inputs = ", ".join(f"{name} = {describe(value)}" for name, value in example.items())
    else:
        inputs = describe(example)
    return f"smallest failing input: {inputs}"


def feedback(failure: PropertyFailure, prop: Property) -> str:
    lines = [failure.message]
    if failure.expected is not None:
        lines.append(f"expected: {describe(failure.expected)}")
    if failure.got is not None:
        lines.append(f"got:      {describe(failure.got)}")
    lines.append(f"hint: {prop.hint}")
    return "\n".join(lines)


class Grader:
    """Grades one submission against one assignment's catalogue."""

    def __init__(
        self,
        assignment: Assignment,
        references: References | None,
        mode: Mode = GRADE,
        seed: int = GRADING_SEED,
        limits: Limits | None = None,
    ) -> None:
        self.assignment = assignment
        self.references = references
        self.mode = mode
        self.seed = seed
        default_limits = Limits() if assignment.call_seconds is None else Limits(call_seconds=assignment.call_seconds)
        self.limits = limits or default_limits
        self.function_seconds = assignment.function_seconds or mode.function_seconds
        self.max_examples = min(mode.max_examples, assignment.max_examples or mode.max_examples)
        self._reference_zygote: Zygote | None = None

    def grade(self, submission: Submission, functions: list[str] | None = None) -> Report:
        started = time.monotonic()
        report = Report(
            assignment=self.assignment.id,
            submission=submission.path.name,
            mode=self.mode.name,
            seed=self.seed,
            grader_version=__version__,
            environment=environment(),
        )
        report.notes.extend(
            f"{p.origin}: {p.message}" for p in submission.problems if not set(p.names) & set(self.assignment.functions)
        )
        names = functions or list(self.assignment.functions)
        try:
            with Zygote(submission.chunks, self.limits, self.assignment.preload) as zygote:
                for name in names:
                    report.functions.append(self._grade_function(name, submission, zygote))
        except RuntimeError as error:
            raise GraderError(str(error)) from None
        finally:
            if self._reference_zygote is not None:
                self._reference_zygote.close()
                self._reference_zygote = None
        report.execution_time = time.monotonic() - started
        return report

    def _selected(self, name: str) -> list[Property]:
        return [p for p in self.assignment.properties_of(name) if p.public or self.mode.include_hidden]

    def _grade_function(self, name: str, submission: Submission, zygote: Zygote) -> FunctionResult:
        catalogue = self.assignment.properties_of(name)
        selected = self._selected(name)
        results = {p.key: _result(p, "skipped") for p in catalogue}
        note = self._run_function(name, selected, submission, zygote, results)
        return FunctionResult(name, [results[p.key] for p in catalogue], note)

    def _run_function(
        self,
        name: str,
        selected: list[Property],
        submission: Submission,
        zygote: Zygote,
        results: dict[str, PropertyResult],
    ) -> str:
        """Fill ``results`` for the ``selected`` properties; returns a note about the whole function."""

        def all_get(verdict: str, props: list[Property]) -> None:
            for prop in props:
                results[prop.key] = _result(prop, verdict)

        if name not in submission.defined_names:
            problem = submission.problem_for(name)
            if problem is not None:
                all_get("error", selected)
                return f"{name} could not be read: {problem.message} ({problem.origin})"
            all_get("missing", selected)
            return f"no function named {name} was found in {submission.path.name}"
        try:
            worker = zygote.spawn()
        except WorkerFailure as failure:
            all_get(failure.verdict, selected)
            return f"loading {submission.path.name} failed: {failure.message}"
        try:
            if name not in worker.defined:
                problem_text = next(
                    (f"{p.get('message')} ({p.get('origin')})" for p in worker.problems if name in p.get("names", [])),
                    None,
                )
                if problem_text:
                    all_get("error", selected)
                    return f"defining {name} failed: {problem_text}"
                all_get("missing", selected)
                return f"{name} is not a function in {submission.path.name}"
            deadline = time.monotonic() + self.function_seconds
            for index, prop in enumerate(selected):
                if prop.timing is not None and not _agrees(selected[:index], results):
                    # A wrong answer is easy to compute fast: speed counts only for a correct function.
                    results[prop.key] = _result(
                        prop, "failed", "not timed: the function must agree with the reference first"
                    )
                    continue
                try:
                    results[prop.key] = self._run(prop, worker, deadline)
                except NotImplementedYet:
                    all_get("not_implemented", selected[index:])
                    return f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code"
                except BudgetExceeded:
                    all_get("timeout", selected[index:])
                    return f"{name} used up its time budget of {self.function_seconds:g} s"
                except WorkerFailure as failure:
                    if failure.verdict == "timeout":
                        all_get("timeout", selected[index:])
                        return f"{name} {failure.message}"
                    results[prop.key] = _result(prop, failure.verdict, f"{name}: {failure.message}")
                    worker.kill()
                    worker = zygote.spawn()
        finally:
            worker.kill()
        return ""

    def _run(self, prop: Property, worker: Worker, deadline: float) -> PropertyResult:
        if prop.needs_reference and self.references is None:
            return _result(prop, "skipped", "needs the instructor's reference solutions")
        calls = Calls(prop.function, worker, self.references, deadline)
        try:
            if prop.timing is not None:
                summary = self._time(prop, worker)
                return _result(prop, "passed", summary, points=prop.points)
            run_drawn(prop, calls, self.seed, self.max_examples)
        except PropertyFailure as failure:
            return _result(prop, failure.verdict, feedback(failure, prop))
        return _result(prop, "passed", points=prop.points)

    def _time(self, prop: Property, worker: Worker) -> str:
        assert prop.timing is not None
        if self.references is None:
            raise GraderError("timing needs the reference solutions, which are not available")
        if self._reference_zygote is None:
            self._reference_zygote = Zygote(self.references.chunks, self.limits, self.assignment.preload)
        reference_worker = self._reference_zygote.spawn()
        try:
            rng = np.random.default_rng(property_seed(self.seed, prop))
            return check_timing(prop.function, worker, reference_worker, prop.timing, rng)
        finally:
            reference_worker.kill()


def _agrees(props: list[Property], results: dict[str, PropertyResult]) -> bool:
    return all(results[p.key].passed for p in props if p.name.startswith("agrees_with"))


def _result(prop: Property, verdict: str, feedback_text: str = "", points: float = 0.0) -> PropertyResult:
    return PropertyResult(
        function=prop.function,
        property=prop.name,
        says=prop.says,
        max_points=prop.points,
        public=prop.public,
        verdict=verdict,
        points=points,
        feedback=feedback_text,
    )


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Hypothesis and NumPy warnings must not reach stderr (an nbgrader test cell scores 0 if they do)."""
    import io
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stderr(io.StringIO()):
            yield
