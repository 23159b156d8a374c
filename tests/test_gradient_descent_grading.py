"""03_gradient_descent graded end to end: full marks, zero, every classic bug at its exact cost, determinism.

The bugs are dealt into rounds (see ``bugs.rounds``): one submission per round carries the r-th bug of
every function at once, so that 60 bugs take a handful of gradings. The first round is graded in full
twice (determinism); the last round in full too, where the functions without a bug must keep all their
points; the rounds between are graded on the functions that carry a bug. Every graded function's points
are asserted, so a bug that cost another function anything would show.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from autograder.catalogue import POINTS_PER_FUNCTION, load_assignment
from autograder.references import load_references
from autograder.report import Report
from autograder.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED, Grader
from autograder.submission import load_submission

pytestmark = pytest.mark.gradient_descent

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "tests" / "submissions" / "03_gradient_descent"
sys.path.insert(0, str(FOLDER))
from bugs import BUGS, rounds, submission_with_all  # noqa: E402

ASSIGNMENT = load_assignment("03_gradient_descent")
ROUNDS = rounds()

# Each bug: the points its function keeps, and the properties that catch it.
EXPECTED: dict[str, tuple[float, set[str]]] = {}

# A grading job: the submission, "grade" or "check", and the functions to grade (None: all of them).
Job = tuple[Path, str, tuple[str, ...] | None]


def _grade(job: Job) -> Report:
    path, mode, functions = job
    if mode == "grade":
        grader = Grader(ASSIGNMENT, load_references(ASSIGNMENT), GRADE, GRADING_SEED)
    else:
        grader = Grader(ASSIGNMENT, None, CHECK, PUBLIC_SEED)
    return grader.grade(load_submission(path), list(functions) if functions else None)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Every grading this module needs, in one parallel pass (one process per core)."""
    folder = tmp_path_factory.mktemp("bugs")
    correct = (FOLDER / "correct.py").read_text()
    student = ROOT / "assignments" / "03_gradient_descent" / "gradient_descent.ipynb"
    jobs: dict[str, Job] = {
        "correct": (FOLDER / "correct.py", "grade", None),
        "correct-check": (FOLDER / "correct.py", "check", None),
        "reference": (ROOT / "solutions" / "03_gradient_descent" / "gradient_descent.ipynb", "grade", None),
        "student": (student, "grade", None),
        "student-check": (student, "check", None),
    }
    for number, names in enumerate(ROUNDS):
        path = folder / f"round_{number}.py"
        path.write_text(submission_with_all(names, correct))
        in_full = number in (0, len(ROUNDS) - 1)
        jobs[f"round-{number}"] = (path, "grade", None if in_full else tuple(BUGS[name].function for name in names))
    jobs["round-0-again"] = jobs["round-0"]
    with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return dict(zip(jobs, pool.map(_grade, jobs.values()), strict=True))


def _round_of(bug: str) -> int:
    return next(number for number, names in enumerate(ROUNDS) if bug in names)


def test_every_function_is_worth_ten_points() -> None:
    for function in ASSIGNMENT.functions:
        assert ASSIGNMENT.max_points(function) == POINTS_PER_FUNCTION, function


def test_reference_notebook_gets_full_marks(reports: dict[str, Report]) -> None:
    report = reports["reference"]
    failures = [(p.function, p.property, p.feedback) for f in report.functions for p in f.properties if not p.passed]
    assert failures == []
    assert report.points == report.max_points == 130


def test_a_correct_student_solution_gets_full_marks(reports: dict[str, Report]) -> None:
    assert reports["correct"].points_by_function() == {f: 10 for f in ASSIGNMENT.functions}


def test_public_checks_pass_a_correct_solution_without_the_reference(reports: dict[str, Report]) -> None:
    report = reports["correct-check"]
    ran = [p for f in report.functions for p in f.properties if p.verdict != "skipped"]
    assert ran and all(p.public and p.passed for p in ran), [(p.function, p.property, p.feedback) for p in ran]


def test_student_notebook_gets_zero_and_not_implemented_everywhere(reports: dict[str, Report]) -> None:
    for mode in ("student", "student-check"):
        report = reports[mode]
        assert report.points == 0
        for function in report.functions:
            assert function.verdict == "not_implemented", function.name
            assert "not implemented yet" in function.note
            assert "Traceback" not in function.note


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_bug_costs_exact_points_and_is_caught_by_exact_properties(bug: str, reports: dict[str, Report]) -> None:
    result = reports[f"round-{_round_of(bug)}"].function(BUGS[bug].function)
    kept, caught_by = EXPECTED[bug]
    assert result.points == kept
    assert {p.property for p in result.properties if not p.passed} == caught_by


@pytest.mark.parametrize("number", range(len(ROUNDS)))
def test_each_bug_costs_its_own_function_only(number: int, reports: dict[str, Report]) -> None:
    by_bug = {BUGS[name].function: EXPECTED[name][0] for name in ROUNDS[number]}
    graded = reports[f"round-{number}"].points_by_function()
    assert graded == {function: by_bug.get(function, 10.0) for function in graded}


def test_every_round_of_bugs_is_graded_in_full_at_least_once_where_functions_stay_correct() -> None:
    last = ROUNDS[-1]
    assert len(last) < len(ASSIGNMENT.functions), "the last round must leave some functions correct"


def test_every_property_is_caught_by_some_bug() -> None:
    caught = {(BUGS[bug].function, prop) for bug, (_, props) in EXPECTED.items() for prop in props}
    uncaught = sorted(p.key for p in ASSIGNMENT.properties if (p.function, p.name) not in caught)
    assert uncaught == [], f"properties no bug demonstrates: {uncaught}"


def test_every_function_has_at_least_four_bugs() -> None:
    for function in ASSIGNMENT.functions:
        assert sum(bug.function == function for bug in BUGS.values()) >= 3, function


def test_feedback_shows_smallest_input_expected_got_and_hint(reports: dict[str, Report]) -> None:
    def failed(bug: str, prop: str) -> str:
        result = reports[f"round-{_round_of(bug)}"].function(BUGS[bug].function)
        return next(p.feedback for p in result.properties if p.property == prop)

    feedback = failed("mse_grad_missing_the_2", "agrees_with_torch_autograd")
    assert "smallest failing input: y_pred = " in feedback
    assert "expected: " in feedback and "got: " in feedback and "hint: " in feedback
    assert "Traceback" not in feedback
    overflow = failed("bce_naive_sigmoid_and_log", "stable_for_large_inputs")
    assert "FloatingPointError" in overflow
    shuffle = failed("minibatch_shuffles_once", "shuffles_every_epoch")
    assert "same order" in shuffle and "rng = rng(" in shuffle


def test_the_same_submission_graded_twice_scores_the_same(reports: dict[str, Report]) -> None:
    runs = [reports["round-0"], reports["round-0-again"]]
    assert runs[0].points_by_function() == runs[1].points_by_function()
    feedback = [
        [(p.function, p.property, p.feedback) for f in run.functions for p in f.properties if "took" not in p.feedback]
        for run in runs
    ]
    assert feedback[0] == feedback[1]
