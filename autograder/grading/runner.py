"""Running an assignment's catalogue against one submission.

For each graded function the runner forks a fresh worker from the assignment's zygote and runs the
function's properties in order; a worker that dies is replaced for the next property. Drawn
properties are Hypothesis tests seeded from the run's seed and the property's name, so the same
submission always meets the same inputs. Their examples are drawn once and replayed from
:mod:`autograder.grading.example_bank`, and their student calls travel in a few batches
(:mod:`autograder.grading.batching`). Every score is computed here, in the grader process, from plain data
the worker sent back.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import HypothesisException

from autograder import __version__
from autograder.grading.batching import first_failure
from autograder.grading.calls import BudgetExceeded, Calls, GraderError, WorkerSlot
from autograder.grading.catalogue import Assignment, Property
from autograder.grading.checks import PropertyFailure, describe, observe
from autograder.grading.curves import sample_curve
from autograder.grading.example_bank import ExampleBankError, drawn_examples, fewest_examples, hypothesis_settings
from autograder.grading.references import References
from autograder.grading.report import Curve, FunctionResult, PropertyResult, Report, Verdict, environment
from autograder.grading.shrinking import aligned_slices
from autograder.grading.siblings import SiblingRelay
from autograder.grading.submission import Submission
from autograder.grading.timing import check_timing
from autograder.sandbox.isolation import PROTECTIONS
from autograder.sandbox.launcher import (
    Failure,
    Launcher,
    Limits,
    NotImplementedYet,
    Worker,
    WorkerFailure,
    zygote_for,
)

GRADING_SEED = 20261122  # the instructor's default; set AUTOGRADER_SEED or --seed for a course
PUBLIC_SEED = 7  # public checks use another seed, so seeing them teaches nothing about grading


@dataclass(frozen=True)
class Mode:
    name: str  # "check" or "grade"
    include_hidden: bool
    max_examples: int
    function_seconds: float  # wall-time budget for all drawn properties of one function
    # Start each function's worker while the one before it works (autograder.sandbox.launcher.Launcher): only
    # where nothing is timed, since a worker starting beside a timed call would slow it.
    start_workers_ahead: bool = False


CHECK = Mode("check", include_hidden=False, max_examples=25, function_seconds=30.0, start_workers_ahead=True)
GRADE = Mode("grade", include_hidden=True, max_examples=60, function_seconds=60.0)


def property_seed(seed: int, prop: Property) -> int:
    return seed + zlib.crc32(prop.key.encode())


def examples_of(prop: Property, seed: int, max_examples: int) -> list[Any]:
    """The examples ``prop`` is checked on with the run's ``seed`` (drawn once, then replayed)."""
    try:
        return drawn_examples(prop, property_seed(seed, prop), max_examples)
    except HypothesisException as error:
        raise GraderError(f"property {prop.key} could not draw its examples: {error}") from None
    except ExampleBankError as error:
        raise GraderError(str(error)) from None


def examples_per_property(assignment: Assignment, mode: Mode) -> int:
    """The mode's number of examples, or the assignment's if it asks for fewer (training takes time)."""
    return min(mode.max_examples, assignment.max_examples or mode.max_examples)


def prepare_examples(assignment: Assignment, seed: int, mode: Mode) -> None:
    """Draw every example ``mode`` will check, once, before many submissions are graded in parallel."""
    for prop in assignment.properties:
        if prop.strategy is not None and (prop.public or mode.include_hidden):
            examples_of(prop, seed, examples_per_property(assignment, mode))


def run_drawn(prop: Property, calls: Calls, seed: int, max_examples: int) -> None:
    """Run one drawn property; on failure, raise the failure of the smallest (shrunk) example.

    The examples come from the bank, and their student calls are answered in batches
    (:mod:`autograder.grading.batching`); the real Hypothesis test runs, with the same seed, only when one of
    them fails, to shrink it. Its first examples are the bank's, so their answers come from the cache.
    """
    assert prop.test is not None and prop.strategy is not None
    test = prop.test
    examples = examples_of(prop, seed, max_examples)
    if len(examples) < fewest_examples(prop, max_examples):  # a pass must never rest on nothing
        raise GraderError(f"property {prop.key} would be checked on {len(examples)} examples; no verdict")

    def replay(body: Callable[[Any], None]) -> None:
        for example in examples:
            body(example)

    found = first_failure(replay, test, calls)
    if found is None:
        return
    failure, example = found
    if isinstance(failure, WorkerFailure):
        failure.example = example
    if not isinstance(failure, PropertyFailure):
        raise failure  # a crash, a hang, a stub or the time budget stops the property as it is
    failures: list[tuple[Any, PropertyFailure]] = []

    def body(example: Any) -> None:
        try:
            test(calls, example)
        except PropertyFailure as failure:
            failures.append((example, failure))
            raise
        except WorkerFailure as failure:
            failure.example = example
            raise

    shrinking = given(prop.strategy)(body)
    shrinking = hypothesis_seed(property_seed(seed, prop))(hypothesis_settings(max_examples)(shrinking))
    try:
        shrinking()
    except PropertyFailure:
        example, failure = failures[-1]  # Hypothesis replays the shrunk example last
    except HypothesisException as error:
        raise GraderError(f"property {prop.key} could not run: {error}") from None
    example, failure = _cut_down(test, calls, example, failure)
    raise PropertyFailure(
        failure.message + "\n" + _describe_example(example),
        failure.expected,
        failure.got,
        failure.verdict,
        observe(failure),
    ) from None


def _cut_down(
    test: Callable[[Calls, Any], None], calls: Calls, example: Any, failure: PropertyFailure
) -> tuple[Any, PropertyFailure]:
    """The shrunk failing example cut down further, while it still fails the same way (same verdict): its
    arrays sliced alike to fewer elements (:func:`autograder.grading.shrinking.aligned_slices`), which Hypothesis
    cannot reach from values drawn from a seed. A cut that passes, or breaks in any other way, is not taken."""
    smaller = True
    while smaller:
        smaller = False
        for candidate in aligned_slices(example):
            try:
                test(calls, candidate)
            except PropertyFailure as found:
                if found.verdict == failure.verdict:
                    example, failure, smaller = candidate, found, True
                    break
            except (WorkerFailure, NotImplementedYet, BudgetExceeded):
                return example, failure  # the worker died or the budget ran out: keep what was found
            except Exception:  # noqa: BLE001 - a cut the property cannot check is simply not taken
                continue
    return example, failure


def _describe_example(example: Any, label: str = "smallest failing input") -> str:
    if isinstance(example, dict):
        inputs = ", ".join(f"{name} = {describe(value)}" for name, value in example.items())
    else:
        inputs = describe(example)
    return f"{label}: {inputs}"


def feedback(failure: PropertyFailure, prop: Property) -> str:
    lines = [failure.message]
    if failure.expected is not None:
        lines.append(f"expected: {describe(failure.expected)}")
    if failure.got is not None:
        lines.append(f"got:      {describe(failure.got)}")
    lines.append(f"hint: {prop.hint_for(observe(failure))}")
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
        self.max_examples = examples_per_property(assignment, mode)
        self._reference_launcher: Launcher | None = None
        self._curves: dict[str, Curve] = {}
        self._load_problems: dict[str, dict[str, Any]] = {}

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
        # A check of some functions (in a notebook) names only what those functions use; a grade names it all.
        used = {read for name in names for read in submission.reads_of(name)} if functions else None
        left_out = submission.left_out_note(used)
        if left_out:
            report.notes.append(left_out)
        self._load_problems = {}
        try:
            zygote = zygote_for(self.assignment.preload, self.limits)
        except RuntimeError as error:
            raise GraderError(str(error)) from None
        timed = any(p.timing is not None for name in names for p in self._selected(name))
        ahead = self.mode.start_workers_ahead and len(names) > 1 and not timed
        launcher = Launcher(zygote, submission.chunks, ahead=ahead)
        self._reference_launcher = None
        try:
            for name in names:
                report.functions.append(self._grade_function(name, submission, launcher))
        finally:
            launcher.close()
        report.notes.extend(launcher.notes(self.assignment.functions))
        report.notes.extend(
            f"{origin}: this raised {problem['message']} when the grader ran it"
            for origin, problem in self._load_problems.items()
            if not set(problem["names"]) & set(self.assignment.functions)
        )
        missing = {**zygote.missing, **launcher.missing}
        report.sandbox = {name: missing.get(name, "on") for name in PROTECTIONS}
        if missing:
            report.notes.append(
                "the sandbox lacks some protections on this machine: "
                + ", ".join(sorted(missing))
                + " (see docs/SANDBOX.md)"
            )
        report.execution_time = time.monotonic() - started
        return report

    def _selected(self, name: str) -> list[Property]:
        return [p for p in self.assignment.properties_of(name) if p.public or self.mode.include_hidden]

    def _grade_function(self, name: str, submission: Submission, launcher: Launcher) -> FunctionResult:
        catalogue = self.assignment.properties_of(name)
        selected = self._selected(name)
        results = {p.key: _result(p, Verdict.SKIPPED) for p in catalogue}
        note = self._run_function(name, selected, submission, launcher, results)
        siblings = self._siblings_called(name, submission, selected, results)
        if siblings:
            note = self._apart_from_siblings(name, siblings, selected, submission, launcher, results, note)
        return FunctionResult(name, [results[p.key] for p in catalogue], note, self._curves.pop(name, None))

    def _siblings_called(
        self, name: str, submission: Submission, selected: list[Property], results: dict[str, PropertyResult]
    ) -> tuple[str, ...]:
        """The other graded functions ``name`` calls (itself, or through helpers), if it lost points."""
        if name not in submission.defined_names or all(results[p.key].passed for p in selected):
            return ()
        graded = set(self.assignment.functions)
        return tuple(sorted(submission.reads_of(name, stop=graded) & graded - {name}))

    def _apart_from_siblings(
        self,
        name: str,
        siblings: tuple[str, ...],
        selected: list[Property],
        submission: Submission,
        launcher: Launcher,
        results: dict[str, PropertyResult],
        note: str,
    ) -> str:
        """Grade ``name`` again with the reference's ``siblings`` in place of the student's (docs/GRADING.md):
        a problem in a sibling costs the sibling alone. Keeps whichever grading earns more; returns the note."""
        yours = _names(siblings)
        if self.references is None:  # a check: no reference to stand in for them
            hint = f"{name} calls your {yours}: fix {'it' if len(siblings) == 1 else 'them'} first where a check fails"
            return "\n".join(filter(None, [note, f"{hint}, since every failure there shows here too"]))
        relay = SiblingRelay(siblings, self._references_launcher)
        again = {p.key: _result(p, Verdict.SKIPPED) for p in self.assignment.properties_of(name)}
        curve = self._curves.pop(name, None)
        try:
            again_note = self._run_function(name, selected, submission, launcher, again, relay, results)
        finally:
            relay.close()
        gained = sum(again[p.key].points for p in selected) - sum(results[p.key].points for p in selected)
        if relay.unusable or not relay.used or gained <= 0:
            self._curves.pop(name, None)
            if curve is not None:
                self._curves[name] = curve
            if relay.unusable:  # the first grading stands, but the student learns where to look too
                cannot = f"{relay.unusable}, which cannot reach the reference's, so {name} is graded with yours"
                return "\n".join(filter(None, [note, f"{name} calls your {yours}: {cannot}"]))
            return note
        results.update(again)
        used = _names(tuple(sorted(relay.used)))
        if all(again[p.key].passed or p.timing is not None for p in selected):
            said = (
                f"your `{name}` is right; it failed only through your {used} (graded with the reference's in its place)"
            )
        else:
            said = f"`{name}` was graded with the reference's {used} in place of yours, which cost it more points"
        return "\n".join(filter(None, [said, again_note]))

    def _references_launcher(self) -> Launcher:
        """Starts reference workers: the instructor's code, sandboxed like the student's (timing, siblings)."""
        if self.references is None:
            raise GraderError("this needs the reference solutions, which are not available")
        if self._reference_launcher is None:
            zygote = zygote_for(self.assignment.preload, self.limits)
            self._reference_launcher = Launcher(zygote, self.references.chunks)
        return self._reference_launcher

    def _run_function(
        self,
        name: str,
        selected: list[Property],
        submission: Submission,
        launcher: Launcher,
        results: dict[str, PropertyResult],
        relay: SiblingRelay | None = None,
        before: dict[str, PropertyResult] | None = None,
    ) -> str:
        """Fill ``results`` for the ``selected`` properties; returns a note about the whole function.

        With ``relay``, the siblings it names stand for the reference's functions, and timed properties keep
        the verdict they had ``before`` (speed is measured with the student's own code, or not at all).
        """

        def all_get(verdict: Verdict, props: list[Property]) -> None:
            for prop in props:
                results[prop.key] = _result(prop, verdict)

        if name not in submission.defined_names:
            problem = submission.problem_for(name)
            if problem is not None:
                all_get(Verdict.ERROR, selected)
                return f"{name} could not be read: {problem.message} ({problem.origin})"
            all_get(Verdict.MISSING, selected)
            left_out = submission.left_out_for(name)
            if left_out is not None:
                return left_out.explain(name)
            return f"no function named {name} was found in {submission.path.name}"
        slot = WorkerSlot(launcher, bind=relay.bind if relay is not None else None)
        try:
            worker = slot.live()
        except WorkerFailure as failure:
            all_get(Verdict(failure.verdict), selected)
            return f"loading {submission.path.name} failed: {failure.message}"
        # What the submission's top-level code did at load, but what the Launcher left out (named in its notes).
        self._load_problems.update({str(p["origin"]): p for p in worker.problems if "verdict" not in p})
        try:
            if name not in worker.defined:
                failed = next((p for p in worker.problems if name in p.get("names", [])), None)
                if failed is not None:
                    all_get(_load_verdict(failed.get("verdict")), selected)
                    return f"defining {name} failed: {failed.get('message')} ({failed.get('origin')})"
                all_get(Verdict.MISSING, selected)
                return f"{name} is not a function in {submission.path.name}"
            for prop in selected:  # drawing is the grader's work: it must not eat the student's budget
                if prop.strategy is not None:
                    examples_of(prop, self.seed, self.max_examples)
            deadline = time.monotonic() + self.function_seconds
            for index, prop in enumerate(selected):
                if prop.timing is not None and not _correct(selected, results):
                    # A wrong answer is easy to compute fast: speed counts only for a correct function.
                    results[prop.key] = _result(
                        prop, Verdict.GATED, _gated_message(name, selected, results, "not timed")
                    )
                    continue
                if prop.timing is not None and relay is not None and before is not None:
                    measured = before[prop.key]
                    results[prop.key] = (
                        measured
                        if measured.verdict in (Verdict.PASSED, Verdict.FAILED, Verdict.UNDECIDED)
                        else _result(
                            prop,
                            Verdict.UNDECIDED,  # its speed cannot be told apart from theirs: the point is kept
                            f"not timed: {name} agrees with the reference only with the reference's "
                            f"{_names(tuple(sorted(relay.names)))}, and its speed cannot be measured apart from "
                            "yours, so its point is kept",
                            points=prop.points,
                        )
                    )
                    continue
                try:
                    results[prop.key] = self._run(prop, slot, deadline)
                    if relay is not None and relay.unusable:
                        return ""  # the siblings cannot stand in: the first grading stands
                    undefined = _undefined_name(results[prop.key].feedback)
                    why = _why_undefined(undefined, submission, worker.problems) if undefined else None
                    if why is not None:  # the same on every input: say it once, and stop there
                        all_get(Verdict.ERROR, selected[index:])
                        return f"{name} could not run: {why}"
                except NotImplementedYet:
                    all_get(Verdict.NOT_IMPLEMENTED, selected[index:])
                    return f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code"
                except BudgetExceeded:
                    all_get(Verdict.TIMEOUT, selected[index:])
                    return f"{name} used up its time budget of {self.function_seconds:g} s"
                except WorkerFailure as failure:
                    where = "" if failure.example is None else "\n" + _describe_example(failure.example, "on the input")
                    if failure.verdict == Failure.TIMEOUT:
                        all_get(Verdict.TIMEOUT, selected[index:])
                        return f"{name} {failure.message}{where}"
                    results[prop.key] = _result(prop, Verdict(failure.verdict), f"{name}: {failure.message}{where}")
                    slot.kill()  # the next property gets a fresh worker
            _apply_gate(name, selected, results)
            if any(results[p.key].verdict in (Verdict.FAILED, Verdict.ERROR) for p in selected):
                self._sample_curve(name, slot)
        finally:
            slot.kill()
        return ""

    def _sample_curve(self, name: str, slot: WorkerSlot) -> None:
        """Feedback pages plot a failed function against the reference: sample it while its worker lives."""
        plot = self.assignment.plot_of(name)
        if plot is None or self.references is None:
            return
        try:
            curve = sample_curve(plot, Calls(name, slot, self.references, deadline=math.inf))
        except (PropertyFailure, GraderError, WorkerFailure, NotImplementedYet, BudgetExceeded):
            return  # no curve: the page shows the feedback text alone
        if curve is not None:
            self._curves[name] = curve

    def _run(self, prop: Property, slot: WorkerSlot, deadline: float) -> PropertyResult:
        if prop.needs_reference and self.references is None:
            return _result(prop, Verdict.SKIPPED, "needs the instructor's reference solutions")
        calls = Calls(prop.function, slot, self.references, deadline)
        try:
            if prop.timing is not None:
                slot.kill()  # timed in a fresh worker, as the reference is: no side carries the other properties' heap
                verdict, summary = self._time(prop, slot.live())
                return _result(prop, verdict, summary, points=prop.points)
            run_drawn(prop, calls, self.seed, self.max_examples)
        except PropertyFailure as failure:
            return _result(prop, failure.verdict, feedback(failure, prop), self_reported=calls.self_reported)
        return _result(prop, Verdict.PASSED, points=prop.points, self_reported=calls.self_reported)

    def _time(self, prop: Property, worker: Worker) -> tuple[Verdict, str]:
        assert prop.timing is not None
        if self.references is None:
            raise GraderError("timing needs the reference solutions, which are not available")
        reference_worker = self._references_launcher().spawn()
        try:
            rng = np.random.default_rng(property_seed(self.seed, prop))
            return check_timing(prop.function, worker, reference_worker, prop.timing, rng)
        finally:
            reference_worker.kill()


def _load_verdict(said: Any) -> Verdict:
    """The verdict of a definition that failed at load, from what the worker said (an error if it said nonsense)."""
    return Verdict(said) if said in frozenset(Failure) else Verdict.ERROR


def _names(names: tuple[str, ...]) -> str:
    return " and ".join(f"`{name}`" for name in names)


_NAME_ERROR = re.compile(r"NameError: name '([A-Za-z_]\w*)' is not defined")


def _undefined_name(feedback_text: str) -> str | None:
    """The name a ``NameError`` in a property's feedback is about, if any."""
    found = _NAME_ERROR.search(feedback_text)
    return found.group(1) if found else None


def _why_undefined(name: str, submission: Submission, problems: list[dict[str, Any]]) -> str | None:
    """Why ``name``, which the notebook defines, was not defined where the function ran (``None``: the
    notebook defines it nowhere, and the property's own feedback says so)."""
    left_out = submission.left_out_for(name)
    if left_out is not None:
        return left_out.explain(name)
    failed = next((p for p in reversed(problems) if name in p.get("names", [])), None)
    if failed is not None:
        origin, message = failed.get("origin"), failed.get("message")
        return f"`{name}` is defined only by {origin}, which failed when the grader ran it: {message}"
    return None


def _correct(props: list[Property], results: dict[str, PropertyResult]) -> bool:
    """Whether every property in ``props`` that establishes correctness has passed."""
    return all(results[p.key].passed for p in props if p.establishes_correctness)


def _gated_message(function: str, props: list[Property], results: dict[str, PropertyResult], what: str) -> str:
    failed = [p.name for p in props if p.establishes_correctness and not results[p.key].passed]
    return f"{what}: {function} must agree with the reference first ({', '.join(failed)} did not hold)"


def _apply_gate(function: str, props: list[Property], results: dict[str, PropertyResult]) -> None:
    """Take back the points of gated properties that held for a function that is not yet correct."""
    if _correct(props, results):
        return
    for prop in props:
        if prop.gated and results[prop.key].passed:
            results[prop.key] = _result(
                prop, Verdict.GATED, _gated_message(function, props, results, "held, but does not count yet")
            )


def _result(
    prop: Property, verdict: Verdict, feedback_text: str = "", points: float = 0.0, self_reported: bool = False
) -> PropertyResult:
    return PropertyResult(
        function=prop.function,
        property=prop.name,
        says=prop.says,
        max_points=prop.points,
        public=prop.public,
        verdict=verdict,
        points=points,
        feedback=feedback_text,
        self_reported=self_reported or prop.self_reported,
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
