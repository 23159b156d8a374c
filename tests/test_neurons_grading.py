"""01_neurons graded end to end: full marks, zero, every classic bug at its exact cost, determinism."""

from __future__ import annotations

import pytest
from bug_suite import BugSuite, GradingTests

from autograder.grading.report import Report

pytestmark = pytest.mark.neurons


class TestGrading(GradingTests):
    suite = BugSuite("01_neurons")
    counted_by_hand = {
        "neuron_reshapes_its_input": 9,
        "neuron_loops_over_examples": 8,
        "init_dense_he_counts_outputs": 3,
        "init_dense_variance_as_scale": 1,
        "dense_forward_forgets_the_bias": 0,
    }

    def test_statistical_feedback_says_what_was_measured_and_what_was_expected(
        self, reports: dict[str, Report]
    ) -> None:
        he = self.failed_property(reports["init_dense_variance_as_scale"], "init_dense", "he_std")
        assert "the standard deviation of W is" in he.feedback and "'he' scheme asks for" in he.feedback
        assert "smallest failing input: d_in = 64, d_out = 64, rng = rng(" in he.feedback

    def test_an_unknown_scheme_must_raise_a_value_error(self, reports: dict[str, Report]) -> None:
        report = reports["init_dense_key_error_for_unknown_scheme"]
        unknown = self.failed_property(report, "init_dense", "rejects_unknown_schemes")
        assert "init_dense raised KeyError" in unknown.feedback and "expected a ValueError" in unknown.feedback
        assert "Traceback" not in unknown.feedback

    def test_feedback_names_the_activation_and_its_range(self, reports: dict[str, Report]) -> None:
        bounded = self.failed_property(reports["neuron_bias_after_activation"], "neuron", "within_activation_range")
        assert "outside the range" in bounded.feedback and "of the activation" in bounded.feedback
        assert "smallest failing input: x = " in bounded.feedback
