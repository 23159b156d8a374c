"""02_activations graded end to end: full marks, zero, every classic bug at its exact cost, determinism."""

from __future__ import annotations

import pytest
from bug_suite import BugSuite, GradingTests

from autograder.grading.report import Report

pytestmark = pytest.mark.activations


class TestGrading(GradingTests):
    # Every function has these four from the same builder: one bug anywhere shows that the builder catches.
    suite = BugSuite(
        "02_activations",
        demonstrated_once=frozenset(
            {"keeps_shape_and_dtype", "leaves_input_unchanged", "stable_for_large_inputs", "within_range"}
        ),
    )
    counted_by_hand = {
        "naive_sigmoid_overflows": 9,
        "relu_in_place": 8,
        "sigmoid_grad_overflows": 3,
        "log_of_softmax_underflows": 2,
        "softmax_over_wrong_axis": 0,
    }

    def test_feedback_shows_smallest_input_expected_got_and_hint(self, reports: dict[str, Report]) -> None:
        prop = self.failed_property(reports["naive_sigmoid_overflows"], "sigmoid", "stable_for_large_inputs")
        assert "FloatingPointError" in prop.feedback
        assert "smallest failing input: z = " in prop.feedback
        assert "hint: " in prop.feedback
        assert "Traceback" not in prop.feedback
        wrong = next(p for p in reports["tanh_grad_of_activation"].function("tanh_grad").properties if not p.passed)
        assert "expected: " in wrong.feedback and "got: " in wrong.feedback
