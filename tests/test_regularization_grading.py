"""04_regularization graded end to end: full marks, zero, every classic bug at its exact cost, determinism."""

from __future__ import annotations

import pytest
from bug_files import load_bugs
from bug_suite import BugSuite, GradingTests

from autograder.grading.report import Report

pytestmark = pytest.mark.regularization

BUGS = load_bugs("04_regularization").BUGS
NUMPY = {"agrees_with_numpy", "agrees_with_reference"}
FORMULA = {"agrees_with_formula", "agrees_with_reference"}
SKLEARN = {"agrees_with_sklearn", "agrees_with_reference"}
RULE = {"agrees_with_rule", "agrees_with_reference", "worked_examples"}

# Each bug: the points its function keeps, and the properties that catch it (what the gate then takes,
# bug_suite.gated_by, follows from them).
EXPECTED: dict[str, tuple[float, set[str]]] = {
    "polynomial_features_one_power_short": (0, NUMPY | {"returns_the_right_shape_and_dtype"}),
    # np.vander makes a float64 matrix for a float32 x (drawn since issue 14).
    "polynomial_features_decreasing_powers": (
        0,
        NUMPY | {"first_column_is_ones", "returns_the_right_shape_and_dtype"},
    ),
    "polynomial_features_python_loop": (9, {"as_fast_as_reference"}),
    # x ** np.arange(...): an int64 exponent promotes a float32 x to float64 (drawn since issue 14).
    "polynomial_features_reshapes_its_input": (8, {"leaves_input_unchanged", "returns_the_right_shape_and_dtype"}),
    "l2_penalty_on_biases": (0, FORMULA | {"ignores_biases"}),
    "l2_penalty_without_the_half": (0, FORMULA),
    "l2_penalty_keeps_the_last_layer_only": (0, FORMULA | {"sums_over_layers"}),
    "l2_penalty_forgets_lambda": (0, FORMULA | {"zero_at_zero_lambda"}),
    "l2_penalty_squares_in_place": (9, {"leaves_input_unchanged"}),
    "l2_penalty_grads_twice_lambda": (0, FORMULA | {"matches_central_differences"}),
    "l2_penalty_grads_on_biases": (3, {"agrees_with_reference", "matches_central_differences", "zero_bias_gradients"}),
    "l2_penalty_grads_scalar_bias_gradient": (5, {"agrees_with_reference", "shaped_like_params"}),
    "l2_penalty_grads_scales_in_place": (9, {"leaves_input_unchanged"}),
    "ridge_fit_penalizes_the_intercept": (0, SKLEARN | {"shift_moves_only_intercept", "huge_lambda_leaves_the_mean"}),
    "ridge_fit_half_lambda": (0, SKLEARN),
    "ridge_fit_centres_y_in_place": (9, {"leaves_input_unchanged"}),
    "ridge_fit_column_of_targets": (
        0,
        SKLEARN | {"shift_moves_only_intercept", "huge_lambda_leaves_the_mean", "returns_the_right_shape"},
    ),
    # out = x * mask / (1 - p) is worth 1 since issue 14 gave a point to timing (8, not 7).
    "dropout_without_scaling": (8, {"mask_explains_output", "keeps_the_mean"}),
    "dropout_active_in_evaluation": (9, {"identity_in_evaluation"}),
    "dropout_keeps_with_probability_p": (
        0,
        {"keeps_the_mean", "drops_a_fraction_p", "identity_at_p_zero", "zeros_at_p_one"},
    ),
    "dropout_divides_by_zero_at_p_one": (9, {"zeros_at_p_one"}),
    "dropout_in_place": (9, {"leaves_input_unchanged"}),
    "dropout_global_numpy_random": (9, {"uses_the_rng"}),
    "dropout_scaled_float_mask": (9, {"returns_the_right_dtypes"}),
    "dropout_backward_without_scaling": (0, FORMULA | {"matches_central_differences"}),
    "dropout_backward_divides_by_zero_at_p_one": (9, {"zeros_at_p_one"}),
    "dropout_backward_in_place": (9, {"leaves_input_unchanged"}),
    "early_stopping_ties_move_the_best": (0, RULE | {"ties_keep_the_first_epoch"}),
    "early_stopping_waits_one_epoch_too_many": (0, RULE | {"waits_exactly_patience_epochs"}),
    "early_stopping_returns_the_length": (0, RULE | {"runs_to_the_end_if_never_triggered"}),
    "early_stopping_needs_an_array": (9, {"accepts_a_list"}),
    # Float32 inputs and losses at any magnitude (issue 14).
    "polynomial_features_float64_ones": (9, {"returns_the_right_shape_and_dtype"}),
    "l2_penalty_grads_float64_zero_biases": (9, {"shaped_like_params"}),
    "early_stopping_best_starts_at_1e5": (
        1,
        RULE - {"worked_examples"} | {"ties_keep_the_first_epoch", "runs_to_the_end_if_never_triggered"},
    ),
    "dropout_python_loop": (9, {"as_fast_as_reference"}),
    "dropout_scales_with_a_float64_mask": (9, {"returns_the_right_dtypes"}),
    "dropout_backward_python_loop": (9, {"as_fast_as_reference"}),
    "dropout_backward_float_mask": (9, {"keeps_shape_and_dtype"}),
    "early_stopping_min_delta": (
        1,
        RULE - {"worked_examples"} | {"ties_keep_the_first_epoch", "runs_to_the_end_if_never_triggered"},
    ),
}


class TestGrading(GradingTests):
    suite = BugSuite("04_regularization", BUGS, EXPECTED)

    def test_dropout_feedback_gives_the_binomial_bound(self, reports: dict[str, Report]) -> None:
        mean = self.failed_property(reports["dropout_without_scaling"], "dropout_forward", "keeps_the_mean")
        assert "the mean of out is" in mean.feedback and "six standard errors" in mean.feedback
        assert "smallest failing input: x = " in mean.feedback and "rng = rng(" in mean.feedback

    def test_early_stopping_feedback_shows_expected_and_got(self, reports: dict[str, Report]) -> None:
        report = reports["early_stopping_waits_one_epoch_too_many"]
        worked = self.failed_property(report, "early_stopping", "worked_examples")
        assert "expected: " in worked.feedback and "got: " in worked.feedback
        assert "smallest failing input: val_losses = " in worked.feedback
