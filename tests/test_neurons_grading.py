"""01_neurons graded end to end: full marks, zero, every classic bug at its exact cost, determinism."""

from __future__ import annotations

import pytest
from bug_files import load_bugs
from bug_suite import BugSuite, GradingTests

from autograder.grading.report import Report

pytestmark = pytest.mark.neurons

BUGS = load_bugs("01_neurons").BUGS
FORMULA = {"agrees_with_formula", "agrees_with_reference"}

# Each bug: the points its function keeps, and the properties that catch it (what the gate then takes,
# bug_suite.gated_by, follows from them).
EXPECTED: dict[str, tuple[float, set[str]]] = {
    "neuron_bias_after_activation": (0, FORMULA | {"within_activation_range"}),
    "neuron_sums_the_whole_batch": (0, FORMULA | {"returns_the_right_shape_and_dtype", "rows_are_independent"}),
    # np.empty(n) to fill is float64: a float32 batch comes out float64 (drawn since issue 14).
    "neuron_loops_over_examples": (8, {"as_fast_as_reference", "returns_the_right_shape_and_dtype"}),
    "neuron_reshapes_its_input": (9, {"leaves_input_unchanged"}),
    "dense_forward_transposed_weights": (
        0,
        FORMULA
        | {
            "returns_the_right_shape_and_dtype",
            "rows_are_independent",
            "within_activation_range",
            "leaves_input_unchanged",
        },
    ),
    "dense_forward_forgets_the_bias": (0, FORMULA),
    "dense_forward_bias_after_activation": (0, FORMULA | {"within_activation_range"}),
    "dense_forward_loops_over_examples": (9, {"as_fast_as_reference"}),
    "dense_forward_centres_inputs_in_place": (0, FORMULA | {"rows_are_independent", "leaves_input_unchanged"}),
    "init_dense_variance_as_scale": (1, {"he_std", "glorot_std"}),
    "init_dense_he_counts_outputs": (3, {"he_std"}),
    "init_dense_uniform_with_the_right_variance": (9, {"normally_distributed"}),
    "init_dense_random_instead_of_normal": (0, {"zero_mean", "he_std", "glorot_std", "normally_distributed"}),
    "init_dense_global_numpy_random": (9, {"uses_the_rng"}),
    "init_dense_pytorch_layout": (9, {"returns_the_right_shapes"}),
    "init_dense_key_error_for_unknown_scheme": (9, {"rejects_unknown_schemes"}),
    "init_dense_random_biases": (9, {"zero_biases"}),
    "mlp_forward_activation_on_the_output": (0, FORMULA | {"single_layer_network"}),
    "mlp_forward_skips_the_last_layer": (0, FORMULA | {"single_layer_network", "returns_the_right_shape_and_dtype"}),
    # Each timed call gets a freshly stored input, so the in-place change costs its own property only.
    "mlp_forward_pops_the_last_layer": (9, {"leaves_input_unchanged"}),
    "mlp_forward_loops_over_examples": (9, {"as_fast_as_reference"}),
    "mlp_forward_standardises_the_batch": (0, FORMULA | {"single_layer_network", "rows_are_independent"}),
    # Float32 inputs (issue 14): float64 for a float32 batch costs the shape-and-dtype property.
    "neuron_casts_to_float64": (9, {"returns_the_right_shape_and_dtype"}),
    "dense_forward_casts_the_weights_to_float64": (9, {"returns_the_right_shape_and_dtype"}),
    "mlp_forward_float64_copy_of_x": (9, {"returns_the_right_shape_and_dtype"}),
}


class TestGrading(GradingTests):
    suite = BugSuite("01_neurons", BUGS, EXPECTED)

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
