"""02_activations graded end to end: full marks, zero, every classic bug at its exact cost, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest
from bug_suite import failed_and_gated, gated_by, wrong_costs
from grading import grade_many

from autograder.exercises import load_assignment
from autograder.grading.catalogue import POINTS_PER_FUNCTION
from autograder.grading.report import Report

pytestmark = pytest.mark.activations

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "tests" / "submissions" / "02_activations"
from bug_files import load_bugs  # noqa: E402

_BUG_FILE = load_bugs("02_activations")
BUGS = _BUG_FILE.BUGS
submission_with = _BUG_FILE.submission_with

ASSIGNMENT = load_assignment("02_activations")

# Each bug: the points its function keeps, and the properties that catch it (what the gate then takes,
# bug_suite.gated_by, follows from them). Every other function keeps all of its points.
EXPECTED: dict[str, tuple[float, set[str]]] = {
    "naive_sigmoid_overflows": (9, {"stable_for_large_inputs"}),
    "softmax_without_max_shift": (
        0,
        {
            "agrees_with_scipy",
            "respects_axis",
            "agrees_with_reference",
            "sums_to_one",
            "shift_invariant",
            "stable_for_large_inputs",
        },
    ),
    "softmax_over_wrong_axis": (0, {"agrees_with_scipy", "respects_axis", "agrees_with_reference", "sums_to_one"}),
    "relu_grad_one_at_negatives": (0, {"matches_central_differences", "agrees_with_reference"}),
    "tanh_grad_of_activation": (0, {"matches_central_differences", "agrees_with_reference", "within_range"}),
    "leaky_relu_fixed_slope": (0, {"agrees_with_formula", "agrees_with_reference"}),
    "leaky_relu_grad_zero_at_negatives": (0, {"matches_central_differences", "agrees_with_reference", "value_at_zero"}),
    "relu_in_place": (8, {"leaves_input_unchanged"}),
    "sigmoid_python_loop": (9, {"as_fast_as_reference"}),
    "tanh_returns_float64": (9, {"keeps_shape_and_dtype"}),
    "log_of_softmax_underflows": (2, {"agrees_with_scipy", "agrees_with_reference", "stable_for_large_inputs"}),
    "sigmoid_grad_of_activation": (0, {"matches_central_differences", "agrees_with_reference", "within_range"}),
    "relu_grad_one_at_zero": (2, {"agrees_with_reference", "value_at_zero"}),
    "leaky_relu_grad_one_at_zero": (2, {"agrees_with_reference", "value_at_zero"}),
    "tanh_absolute_value": (0, {"agrees_with_numpy", "agrees_with_reference", "symmetry"}),
    "relu_flattens": (0, {"agrees_with_numpy", "agrees_with_reference", "keeps_shape_and_dtype"}),
    "softmax_python_loop": (9, {"as_fast_as_reference"}),
    "log_softmax_sign_flipped": (
        0,
        {"agrees_with_scipy", "agrees_with_reference", "is_log_of_softmax", "within_range"},
    ),
    "sigmoid_grad_overflows": (3, {"agrees_with_reference", "within_range", "stable_for_large_inputs"}),
    "sigmoid_shifted": (0, {"agrees_with_scipy", "agrees_with_reference", "symmetry"}),
    "relu_grad_integer_mask": (9, {"keeps_shape_and_dtype"}),
    "softmax_max_over_the_batch": (
        0,
        {"agrees_with_scipy", "respects_axis", "agrees_with_reference", "sums_to_one", "stable_for_large_inputs"},
    ),
    # Correct values computed one element at a time: only the timing property catches them.
    "sigmoid_grad_python_loop": (9, {"as_fast_as_reference"}),
    "tanh_python_loop": (9, {"as_fast_as_reference"}),
    "tanh_grad_python_loop": (9, {"as_fast_as_reference"}),
    "relu_python_loop": (9, {"as_fast_as_reference"}),
    "relu_grad_python_loop": (9, {"as_fast_as_reference"}),
    "leaky_relu_python_loop": (9, {"as_fast_as_reference"}),
    "leaky_relu_grad_python_loop": (9, {"as_fast_as_reference"}),
    "log_softmax_python_loop": (9, {"as_fast_as_reference"}),
}

DETERMINISM_RUNS = 3
SEVERAL_BUGS = ("naive_sigmoid_overflows", "relu_in_place", "softmax_over_wrong_axis")  # graded together


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Every submission this module needs, graded once, in parallel."""
    folder = tmp_path_factory.mktemp("bugs")
    correct = (FOLDER / "correct.py").read_text()
    jobs: dict[str, tuple[Path, str, str]] = {
        "correct": (FOLDER / "correct.py", ASSIGNMENT.id, "grade"),
        "reference": (ROOT / "solutions" / "02_activations" / "activations.ipynb", ASSIGNMENT.id, "grade"),
        "student": (ROOT / "assignments" / "02_activations" / "activations.ipynb", ASSIGNMENT.id, "grade"),
        "student-check": (ROOT / "assignments" / "02_activations" / "activations.ipynb", ASSIGNMENT.id, "check"),
    }
    for name, bug in BUGS.items():
        path = folder / f"{name}.py"
        path.write_text(submission_with(bug, correct))
        jobs[name] = (path, ASSIGNMENT.id, "grade")
    # One submission with several bugs, graded three times, for determinism.
    several = folder / "several_bugs.py"
    several.write_text(correct + "".join(BUGS[b].source for b in SEVERAL_BUGS))
    for run in range(DETERMINISM_RUNS):
        jobs[f"determinism-{run}"] = (several, ASSIGNMENT.id, "grade")
    results = grade_many(list(jobs.values()))
    return dict(zip(jobs, results, strict=True))


def test_every_function_is_worth_ten_points() -> None:
    for function in ASSIGNMENT.functions:
        assert ASSIGNMENT.max_points(function) == POINTS_PER_FUNCTION, function


def test_reference_notebook_gets_full_marks(reports: dict[str, Report]) -> None:
    report = reports["reference"]
    failures = [(p.function, p.property, p.feedback) for f in report.functions for p in f.properties if not p.passed]
    assert failures == []
    assert report.points == report.max_points == 100


def test_a_correct_student_solution_gets_full_marks(reports: dict[str, Report]) -> None:
    assert reports["correct"].points_by_function() == {f: 10 for f in ASSIGNMENT.functions}


def test_student_notebook_gets_zero_and_not_implemented_everywhere(reports: dict[str, Report]) -> None:
    for mode in ("student", "student-check"):
        report = reports[mode]
        assert report.points == 0
        for function in report.functions:
            assert function.verdict == "not_implemented", function.name
            assert "not implemented yet" in function.note
            assert "Traceback" not in function.note


def test_every_bug_has_its_expected_cost() -> None:
    assert sorted(BUGS) == sorted(EXPECTED)
    assert wrong_costs(ASSIGNMENT, BUGS, EXPECTED) == []


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_bug_costs_exact_points_on_its_own_function_only(bug: str, reports: dict[str, Report]) -> None:
    report = reports[bug]
    function = BUGS[bug].function
    kept, caught_by = EXPECTED[bug]
    expected = {f: 10.0 for f in ASSIGNMENT.functions}
    expected[function] = kept
    assert report.points_by_function() == expected
    failed, gated = failed_and_gated(report.function(function))
    assert failed == caught_by
    assert gated == gated_by(ASSIGNMENT, function, failed)


def test_every_property_is_caught_by_some_bug() -> None:
    caught = {(BUGS[bug].function, prop) for bug, (_, props) in EXPECTED.items() for prop in props}
    names_caught = {prop for _, prop in caught}
    uncaught = sorted({p.name for p in ASSIGNMENT.properties} - names_caught)
    assert uncaught == [], f"properties no bug demonstrates: {uncaught}"
    specific = {"symmetry", "value_at_zero", "sums_to_one", "shift_invariant", "respects_axis", "is_log_of_softmax"}
    for prop in ASSIGNMENT.properties:
        if prop.name in specific or prop.name.startswith("agrees_with") and prop.public:
            assert (prop.function, prop.name) in caught, f"no bug shows that {prop.key} can fail"


def test_feedback_shows_smallest_input_expected_got_and_hint(reports: dict[str, Report]) -> None:
    prop = next(p for p in reports["naive_sigmoid_overflows"].function("sigmoid").properties if not p.passed)
    assert "FloatingPointError" in prop.feedback
    assert "smallest failing input: z = " in prop.feedback
    assert "hint: " in prop.feedback
    assert "Traceback" not in prop.feedback
    wrong = next(p for p in reports["tanh_grad_of_activation"].function("tanh_grad").properties if not p.passed)
    assert "expected: " in wrong.feedback and "got: " in wrong.feedback


def test_the_same_submission_graded_three_times_scores_the_same(reports: dict[str, Report]) -> None:
    runs = [reports[f"determinism-{run}"] for run in range(DETERMINISM_RUNS)]
    scores = [r.points_by_function() for r in runs]
    assert scores[0] == scores[1] == scores[2]
    planted = {BUGS[b].function: EXPECTED[b][0] for b in SEVERAL_BUGS}
    assert {function: scores[0][function] for function in planted} == planted
    feedback = [
        [(p.key if hasattr(p, "key") else p.property, p.feedback) for f in r.functions for p in f.properties]
        for r in runs
    ]
    drawn = [[text for text in run if "took" not in text[1]] for run in feedback]  # timing lines carry times
    assert drawn[0] == drawn[1] == drawn[2]
