"""04_regularization graded end to end: full marks, zero, every classic bug at its exact cost, determinism."""

from __future__ import annotations

import pytest
from bug_suite import BugSuite, GradingTests

from autograder.grading.report import Report

pytestmark = pytest.mark.regularization


class TestGrading(GradingTests):
    suite = BugSuite("04_regularization")
    counted_by_hand = {
        "dropout_without_scaling": 8,
        "l2_penalty_grads_scalar_bias_gradient": 5,
        "l2_penalty_grads_on_biases": 3,
        "early_stopping_min_delta": 1,
        "ridge_fit_half_lambda": 0,
    }

    def test_dropout_feedback_gives_the_binomial_bound(self, reports: dict[str, Report]) -> None:
        mean = self.failed_property(reports["dropout_without_scaling"], "dropout_forward", "keeps_the_mean")
        assert "the mean of out is" in mean.feedback and "six standard errors" in mean.feedback
        assert "smallest failing input: x = " in mean.feedback and "rng = rng(" in mean.feedback

    def test_early_stopping_feedback_shows_expected_and_got(self, reports: dict[str, Report]) -> None:
        report = reports["early_stopping_waits_one_epoch_too_many"]
        worked = self.failed_property(report, "early_stopping", "worked_examples")
        assert "expected: " in worked.feedback and "got: " in worked.feedback
        assert "smallest failing input: val_losses = " in worked.feedback
