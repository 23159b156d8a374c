"""03_gradient_descent graded end to end: full marks, zero, every classic bug at its exact cost, determinism.

Sixty bugs are packed at one per function per pack (bug_suite.BugSuite.packs), so that they take a handful of
gradings. The first pack, where every function has a bug, is graded in full twice (determinism); the other
packs are graded on the functions that carry a bug, and the last one also on two functions left correct beside
them. Every graded function's points are asserted, so a bug that cost another function anything would show.
"""

from __future__ import annotations

import pytest
from bug_suite import BugSuite, GradingTests

from autograder.grading.report import Report

pytestmark = pytest.mark.gradient_descent


class TestGrading(GradingTests):
    suite = BugSuite(
        "03_gradient_descent", determinism_runs=2, partial_packs=True, beside=("mse_loss_grad", "relative_error")
    )
    counted_by_hand = {
        "mse_keeps_dims": 9,
        "numerical_ignores_eps": 6,
        "numerical_forward_difference": 4,
        "minibatch_shuffles_x_and_y_apart": 3,
        "ce_grad_without_max_shift": 2,
    }

    def test_every_function_has_at_least_three_classic_bugs(self) -> None:
        for function in self.suite.assignment.functions:
            assert sum(bug.function == function for bug in self.suite.bugs.values()) >= 3, function

    def test_feedback_shows_smallest_input_expected_got_and_hint(self, reports: dict[str, Report]) -> None:
        def failed(bug: str, prop: str) -> str:
            return self.failed_property(reports[bug], self.suite.bugs[bug].function, prop).feedback

        feedback = failed("mse_grad_missing_the_2", "agrees_with_torch_autograd")
        assert "smallest failing input: y_pred = " in feedback
        assert "expected: " in feedback and "got: " in feedback and "hint: " in feedback
        assert "Traceback" not in feedback
        overflow = failed("bce_naive_sigmoid_and_log", "stable_for_large_inputs")
        assert "FloatingPointError" in overflow
        shuffle = failed("minibatch_shuffles_once", "shuffles_every_epoch")
        assert "same order" in shuffle and "rng = rng(" in shuffle
