"""03_gradient_descent graded end to end: full marks, zero, every classic bug at its exact cost, determinism.

The bugs are dealt into rounds (see ``bugs.rounds``): one submission per round carries the r-th bug of
every function at once, so that sixty bugs take a handful of gradings. The first round, where every
function has a bug, is graded in full twice (determinism); the other rounds are graded on the functions
that carry a bug, and the last one also on two functions left correct beside them. Every graded
function's points are asserted, so a bug that cost another function anything would show.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from bug_suite import failed_and_gated, gated_by, wrong_costs

from autograder.exercises import load_assignment
from autograder.grading.catalogue import POINTS_PER_FUNCTION
from autograder.grading.references import load_references
from autograder.grading.report import Report
from autograder.grading.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED, Grader
from autograder.grading.submission import load_submission

pytestmark = pytest.mark.gradient_descent

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "tests" / "submissions" / "03_gradient_descent"
from bug_files import load_bugs  # noqa: E402

_BUG_FILE = load_bugs("03_gradient_descent")
BUGS = _BUG_FILE.BUGS
rounds = _BUG_FILE.rounds
submission_with_all = _BUG_FILE.submission_with_all

ASSIGNMENT = load_assignment("03_gradient_descent")
ROUNDS = rounds()
# Correct functions graded beside the last round's bugs: they must keep every point.
BESIDE_THE_LAST_ROUND = ("mse_loss_grad", "relative_error")

# Each bug: the points its function keeps, and the properties that catch it (what the gate then takes,
# bug_suite.gated_by, follows from them).
EXPECTED: dict[str, tuple[float, set[str]]] = {
    "mse_sum_instead_of_mean": (0, {"agrees_with_reference", "agrees_with_torch", "mean_over_the_batch"}),
    "mse_keeps_dims": (9, {"returns_one_number"}),
    "mse_in_place": (9, {"leaves_input_unchanged"}),
    "mse_python_loop": (9, {"as_fast_as_reference"}),
    "mse_grad_missing_the_2": (
        0,
        {"agrees_with_reference", "agrees_with_torch_autograd", "matches_central_differences"},
    ),
    "mse_grad_returns_float64": (9, {"keeps_shape_and_dtype"}),
    "mse_grad_in_place": (9, {"leaves_input_unchanged"}),
    "mse_grad_python_loop": (9, {"as_fast_as_reference"}),
    "bce_naive_sigmoid_and_log": (0, {"agrees_with_reference", "agrees_with_torch", "stable_for_large_inputs"}),
    "bce_on_probabilities": (0, {"agrees_with_reference", "agrees_with_torch", "stable_for_large_inputs"}),
    "bce_sum_instead_of_mean": (0, {"agrees_with_reference", "agrees_with_torch", "mean_over_the_batch"}),
    "bce_mean_per_column": (
        0,
        {
            "agrees_with_reference",
            "agrees_with_torch",
            "mean_over_the_batch",
            "returns_one_number",
            "stable_for_large_inputs",
        },
    ),
    "bce_abs_in_place": (9, {"leaves_input_unchanged"}),
    "bce_python_loop": (9, {"as_fast_as_reference"}),
    "bce_grad_naive_sigmoid": (9, {"stable_for_large_inputs"}),
    "bce_grad_without_mean": (
        0,
        {"agrees_with_reference", "agrees_with_torch_autograd", "matches_central_differences"},
    ),
    "bce_grad_clips_in_place": (9, {"leaves_input_unchanged"}),
    "bce_grad_float64_ones": (9, {"keeps_shape_and_dtype"}),
    "bce_grad_python_loop": (9, {"as_fast_as_reference"}),
    "ce_without_max_shift": (0, {"agrees_with_reference", "agrees_with_torch", "stable_for_large_inputs"}),
    "ce_sum_over_the_batch": (0, {"agrees_with_reference", "agrees_with_torch", "mean_over_the_batch"}),
    "ce_per_example_losses": (
        0,
        {
            "agrees_with_reference",
            "agrees_with_torch",
            "mean_over_the_batch",
            "returns_one_number",
            "stable_for_large_inputs",
        },
    ),
    "ce_shifts_in_place": (9, {"leaves_input_unchanged"}),
    "ce_python_loop_over_rows": (9, {"as_fast_as_reference"}),
    "ce_grad_divides_by_every_element": (
        0,
        {"agrees_with_reference", "agrees_with_torch_autograd", "matches_central_differences"},
    ),
    "ce_grad_without_max_shift": (
        2,
        {"agrees_with_reference", "agrees_with_torch_autograd", "stable_for_large_inputs"},
    ),
    "ce_grad_in_place": (9, {"leaves_input_unchanged"}),
    "ce_grad_float64_onehot": (9, {"keeps_shape_and_dtype"}),
    "ce_grad_python_loop_over_rows": (9, {"as_fast_as_reference"}),
    "numerical_forward_difference": (4, {"agrees_with_reference", "central_differences_with_eps"}),
    "numerical_ignores_eps": (6, {"central_differences_with_eps"}),
    "numerical_perturbs_x_in_place": (8, {"accurate_for_float32_input", "leaves_input_unchanged"}),
    "numerical_copy_keeps_float32": (9, {"accurate_for_float32_input"}),
    "numerical_returns_flat": (
        0,
        {
            "accurate_for_float32_input",
            "agrees_with_analytic_gradient",
            "agrees_with_reference",
            "central_differences_with_eps",
            "returns_float64_shaped_like_x",
        },
    ),
    "relative_error_without_floor": (
        0,
        {"agrees_with_formula", "agrees_with_reference", "within_range", "zero_for_equal_inputs"},
    ),
    "relative_error_abs_of_sum": (0, {"agrees_with_formula", "agrees_with_reference", "within_range"}),
    "relative_error_relative_to_a": (0, {"agrees_with_formula", "agrees_with_reference", "symmetric", "within_range"}),
    "relative_error_mean_not_max": (0, {"agrees_with_formula", "agrees_with_reference"}),
    "relative_error_keeps_dims": (9, {"returns_one_number"}),
    "mlp_sum_instead_of_mean": (
        0,
        {
            "agrees_with_reference",
            "agrees_with_torch_autograd",
            "agrees_with_torch_loss",
            "batch_invariant",
            "matches_central_differences",
        },
    ),
    # The loss alone against PyTorch's is worth 1 since issue 14 gave a point to the grads' dtype.
    "mlp_derivative_of_the_activation_output": (
        1,
        {"agrees_with_reference", "agrees_with_torch_autograd", "matches_central_differences"},
    ),
    "mlp_bias_gradient_over_wrong_axis": (
        1,
        {
            "agrees_with_reference",
            "agrees_with_torch_autograd",
            "batch_invariant",
            "keeps_shape_and_dtype",  # db of shape (n,), not (d_out,)
            "matches_central_differences",
            "permutation_invariant",
        },
    ),
    "mlp_reverses_params_in_place": (9, {"leaves_input_unchanged"}),
    "mlp_loops_over_examples": (9, {"as_fast_as_reference"}),
    "mlp_relu_derivative_promotes_float32": (9, {"keeps_shape_and_dtype"}),
    "gd_appends_the_same_array": (
        2,
        {"agrees_with_reference", "agrees_with_torch_sgd", "leaves_input_unchanged", "returns_every_iterate"},
    ),
    "gd_ascends": (
        1,
        {"agrees_with_reference", "agrees_with_torch_sgd", "converges_to_the_minimum", "descends_below_2_over_L"},
    ),
    "gd_decays_the_learning_rate": (
        0,
        {"agrees_with_reference", "agrees_with_torch_sgd", "converges_to_the_minimum", "diverges_above_2_over_L"},
    ),
    "gd_forgets_w0_in_row_zero": (
        2,
        {"agrees_with_reference", "agrees_with_torch_sgd", "returns_every_iterate", "zero_lr_changes_nothing"},
    ),
    "momentum_step_before_velocity": (
        1,
        {"agrees_with_reference", "agrees_with_torch_sgd", "beta_zero_is_gradient_descent"},
    ),
    "momentum_dampened": (1, {"agrees_with_reference", "agrees_with_torch_sgd", "zero_lr_changes_nothing"}),
    "momentum_lr_in_velocity": (
        0,
        {"agrees_with_reference", "agrees_with_torch_sgd", "beta_zero_is_gradient_descent", "zero_lr_changes_nothing"},
    ),
    "momentum_in_place": (9, {"leaves_input_unchanged"}),
    "momentum_casts_to_float64": (9, {"keeps_shape_and_dtype"}),
    "adam_without_bias_correction": (
        0,
        {"agrees_with_reference", "agrees_with_torch_adam", "first_step_has_length_lr"},
    ),
    "adam_counts_t_from_zero": (0, {"agrees_with_reference", "agrees_with_torch_adam", "first_step_has_length_lr"}),
    "adam_eps_inside_the_root": (0, {"agrees_with_reference", "agrees_with_torch_adam", "first_step_has_length_lr"}),
    "adam_ignores_lr": (
        0,
        {"agrees_with_reference", "agrees_with_torch_adam", "first_step_has_length_lr", "zero_lr_changes_nothing"},
    ),
    "adam_moments_in_place": (9, {"leaves_input_unchanged"}),
    "adam_casts_to_float64": (9, {"keeps_shape_and_dtype"}),
    "minibatch_never_shuffles": (8, {"shuffles_every_epoch", "shuffles_with_the_given_rng"}),
    "minibatch_shuffles_once": (9, {"shuffles_every_epoch"}),
    "minibatch_global_random_state": (9, {"shuffles_with_the_given_rng"}),
    "minibatch_reports_the_last_batch_loss": (4, {"epoch_loss_is_mean_of_batches"}),
    "minibatch_drops_the_last_partial_batch": (
        2,
        {
            "epoch_loss_is_mean_of_batches",
            "full_batch_is_gradient_descent",
            "shuffles_every_epoch",
            "shuffles_with_the_given_rng",
            "uses_every_example_once_per_epoch",
        },
    ),
    "minibatch_shuffles_x_and_y_apart": (3, {"full_batch_is_gradient_descent", "uses_every_example_once_per_epoch"}),
    "minibatch_updates_in_place": (9, {"leaves_input_unchanged"}),
    "minibatch_one_step_per_epoch": (3, {"steps_from_the_latest_params"}),
    "minibatch_copies_params_as_float64": (9, {"keeps_shape_and_dtype"}),
}

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
    # The longest gradings first, so that the pool does not end waiting on one of them.
    jobs: dict[str, Job] = {
        "correct": (FOLDER / "correct.py", "grade", None),
        "reference": (ROOT / "solutions" / "03_gradient_descent" / "gradient_descent.ipynb", "grade", None),
    }
    for number, names in enumerate(ROUNDS):
        path = folder / f"round_{number}.py"
        path.write_text(submission_with_all(names, correct))
        functions = tuple(BUGS[name].function for name in names)
        if number == len(ROUNDS) - 1:
            functions += BESIDE_THE_LAST_ROUND
        jobs[f"round-{number}"] = (path, "grade", None if number == 0 else functions)
    jobs["round-0-again"] = jobs["round-0"]
    jobs["correct-check"] = (FOLDER / "correct.py", "check", None)
    jobs["student"] = (student, "grade", None)
    jobs["student-check"] = (student, "check", None)
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
    failed, gated = failed_and_gated(result)
    assert failed == caught_by
    assert gated == gated_by(ASSIGNMENT, BUGS[bug].function, failed)


def test_every_bug_has_its_expected_cost() -> None:
    assert sorted(BUGS) == sorted(EXPECTED)
    assert wrong_costs(ASSIGNMENT, BUGS, EXPECTED) == []


@pytest.mark.parametrize("number", range(len(ROUNDS)))
def test_each_bug_costs_its_own_function_only(number: int, reports: dict[str, Report]) -> None:
    by_bug = {BUGS[name].function: EXPECTED[name][0] for name in ROUNDS[number]}
    graded = reports[f"round-{number}"].points_by_function()
    assert graded == {function: by_bug.get(function, 10.0) for function in graded}


def test_functions_without_a_bug_keep_every_point_beside_buggy_ones(reports: dict[str, Report]) -> None:
    last = len(ROUNDS) - 1
    assert not set(BESIDE_THE_LAST_ROUND) & {BUGS[name].function for name in ROUNDS[last]}
    points = reports[f"round-{last}"].points_by_function()
    assert {function: points[function] for function in BESIDE_THE_LAST_ROUND} == dict.fromkeys(
        BESIDE_THE_LAST_ROUND, 10
    )


def test_every_property_is_caught_by_some_bug() -> None:
    caught = {(BUGS[bug].function, prop) for bug, (_, props) in EXPECTED.items() for prop in props}
    uncaught = sorted(p.key for p in ASSIGNMENT.properties if (p.function, p.name) not in caught)
    assert uncaught == [], f"properties no bug demonstrates: {uncaught}"


def test_every_function_has_at_least_three_classic_bugs() -> None:
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
