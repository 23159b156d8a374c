"""05_training_loop graded end to end: full marks, zero, every classic bug at its exact cost, determinism.

Grading this assignment trains networks; the bugs are packed at most one per function (bug_suite), so the
number of gradings stays at the number of bugs of the function that has the most.
"""

from __future__ import annotations

import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from bug_files import load_bugs
from bug_suite import BugSuite, GradingTests, plant
from grading import grade_many
from torch import nn

from autograder.exercises import load_assignment
from autograder.exercises.training_loop import OVERFIT
from autograder.grading.catalogue import POINTS_PER_FUNCTION
from autograder.grading.references import load_references
from autograder.grading.report import Report
from autograder.sandbox import torch_harness
from autograder.sandbox.protocol import decode, encode

pytestmark = pytest.mark.training_loop

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "tests" / "submissions" / "05_training_loop"
_BUG_FILE = load_bugs("05_training_loop")

ASSIGNMENT = load_assignment("05_training_loop")
CORRECT = (FOLDER / "correct.py").read_text()


class TestGrading(GradingTests):
    # Grading this assignment trains networks: the first pack is graded once more, not twice.
    suite = BugSuite("05_training_loop", determinism_runs=2)
    counted_by_hand = {
        "train_item_per_batch": 9,
        "make_loader_per_sample_data_loader": 6,
        "fit_accuracy_in_percent": 5,
        "get_device_mps_before_cuda": 4,
        "evaluate_forgets_eval": 2,
    }

    def test_the_six_functions_of_the_lesson(self) -> None:
        functions = ("get_device", "make_loader", "make_mlp", "train_one_epoch", "evaluate", "fit")
        assert self.suite.assignment.functions == functions

    def test_the_issues_training_loop_bugs_are_all_here(self) -> None:
        required = {
            "train_forgets_zero_grad",
            "train_steps_before_backward",
            "train_forgets_model_train",
            "train_averages_batch_means",
            "train_hard_codes_cuda",
            "train_forgets_to_move_batches",
            "make_loader_moves_data_set_per_batch",
            "make_loader_shuffles_with_global_generator",
            "train_item_per_batch",
            "train_loops_over_samples",
            "train_accumulates_loss_tensor",
            "evaluate_never_switches_back",
            "evaluate_without_no_grad",
        }
        assert required <= set(self.suite.bugs)

    def test_feedback_names_the_device_the_input_and_a_hint(self, reports: dict[str, Report]) -> None:
        prop = self.failed_property(reports["train_hard_codes_cuda"], "train_one_epoch", "moves_batches_to_device")
        assert "the model received a tensor on cuda:0, but train_one_epoch was asked to use cpu:0" in prop.feedback
        assert "smallest failing input: spec = {" in prop.feedback
        assert "hint: " in prop.feedback and "Traceback" not in prop.feedback

    def test_timing_shows_both_times_side_by_side(self, reports: dict[str, Report]) -> None:
        prop = self.failed_property(reports["train_loops_over_samples"], "train_one_epoch", "as_fast_as_reference")
        assert "train_one_epoch took" in prop.feedback and "the reference" in prop.feedback
        assert "limit 3" in prop.feedback


# -- a problem in one function costs that function only, when fit calls the others (issue 17) ----------------
SIBLING_BUGS = ("train_forgets_zero_grad", "evaluate_forgets_eval")


def through_siblings(path: Path, *, inspecting: bool = False, wrapped: bool = False) -> Path:
    """The correct submission whose fit calls its own train_one_epoch and evaluate, both with a bug.

    ``inspecting``: fit searches its whole process for the reference's code after each call (the attack);
    ``wrapped``: fit hands train_one_epoch its loader as a list, which no reference worker can rebuild.
    """
    fit = _BUG_FILE.fit_through_siblings(CORRECT) + (_BUG_FILE.INSPECTING if inspecting else "")
    if wrapped:
        fit = fit.replace("train_one_epoch(model, train_loader,", "train_one_epoch(model, list(train_loader),")
    source = CORRECT + "\n\n" + fit
    path.write_text(plant(source, [TestGrading.suite.bugs[name] for name in SIBLING_BUGS]))
    return path


@pytest.fixture(scope="module")
def sibling_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("siblings")
    jobs = {
        "inspecting": (through_siblings(folder / "inspecting.py", inspecting=True), ASSIGNMENT.id, "grade"),
        "wrapped": (through_siblings(folder / "wrapped.py", wrapped=True), ASSIGNMENT.id, "grade"),
    }
    return dict(zip(jobs, grade_many(list(jobs.values())), strict=True))


def test_a_correct_fit_keeps_its_points_when_its_siblings_are_wrong(sibling_reports: dict[str, Report]) -> None:
    """fit is graded again with the reference's train_one_epoch and evaluate, reached as plain data: it earns
    all its points, and each sibling loses exactly what its own bug costs it (computed), nothing more."""
    report = sibling_reports["inspecting"]
    expected = {f: POINTS_PER_FUNCTION for f in ASSIGNMENT.functions}
    for name in SIBLING_BUGS:
        expected[TestGrading.suite.bugs[name].function] = TestGrading.suite.kept(name)
    assert report.points_by_function() == expected
    assert report.function("fit").note == (
        "your `fit` is right; it failed only through your `evaluate` and `train_one_epoch` "
        "(graded with the reference's in its place)"
    )


def test_the_stand_in_gives_the_student_s_process_values_and_never_the_reference_s_code(
    sibling_reports: dict[str, Report],
) -> None:
    """The inspecting fit raises, losing its points, if what came back is not floats and tensors, if the
    stand-in holds more than a name and a channel, or if the reference's docstrings or functions are anywhere
    in its process; it also raises if its search cannot find its own docstring. It keeps all its points."""
    fit = sibling_reports["inspecting"].function("fit")
    assert fit.verdict == "passed"
    assert all(p.passed for p in fit.properties), [(p.property, p.feedback) for p in fit.properties if not p.passed]


def test_a_loader_the_harness_did_not_build_cannot_reach_the_reference_and_the_first_grading_stands(
    sibling_reports: dict[str, Report],
) -> None:
    report = sibling_reports["wrapped"]
    points = report.points_by_function()
    assert points["fit"] < POINTS_PER_FUNCTION
    assert {f: points[f] for f in ("train_one_epoch", "evaluate")} == {
        TestGrading.suite.bugs[name].function: TestGrading.suite.kept(name) for name in SIBLING_BUGS
    }
    assert report.function("fit").note.endswith(
        "fit calls your `evaluate` and `train_one_epoch`: your code passes `train_one_epoch` a list, which cannot "
        "reach the reference's, so fit is graded with yours"
    )


def _carried_through_the_wire(function: Any) -> Any:
    """A stand-in for ``function`` that carries each call as the worker does: described, encoded, rebuilt and run
    on another thread (the reference's worker is another process, outside the student's audit), answered."""

    def call(*args: Any, **kwargs: Any) -> Any:
        description, restore = torch_harness.carry(args, kwargs)
        blobs: list[bytes] = []
        (sent,) = decode(encode([description], blobs), blobs, lambda *_: None)
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(lambda: torch_harness.sibling_harness()(function, sent)).result()
        blobs = []
        return restore(decode(encode(answer, blobs), blobs, lambda *_: None))

    return call


def test_a_carried_call_leaves_the_student_s_objects_as_the_reference_s_call_would() -> None:
    """The reference's fit with its siblings carried equals the reference's fit: history, weights, audit."""
    references = load_references(ASSIGNMENT)
    fit = references.function("fit")
    namespace = dict(fit.__globals__)
    for name in ("train_one_epoch", "evaluate"):
        namespace[name] = _carried_through_the_wire(references.function(name))
    carried = types.FunctionType(fit.__code__, namespace, "fit", fit.__defaults__)
    spec = replace(OVERFIT, epochs=6, patience=2)
    want, got = torch_harness.fit_harness(spec)(fit), torch_harness.fit_harness(spec)(carried)
    assert got.history == want.history
    assert all(np.array_equal(g, w) for g, w in zip(got.state, want.state, strict=True))
    assert got.train_passes == want.train_passes
    assert replace(got.audit, syncs=()) == replace(want.audit, syncs=())
    assert len(got.audit.syncs) == len(want.audit.syncs)  # counted, not named: how the reference is written stays


class _OwnModel(nn.Sequential):
    pass


def _refused(change: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A train_one_epoch call on the harness's kinds of objects, with one ``change`` no reference could rebuild."""
    layers: list[nn.Module] = [nn.Linear(3, 4), nn.GELU() if change == "layer" else nn.ReLU(), nn.Linear(4, 2)]
    model = (_OwnModel if change == "class" else nn.Sequential)(*layers)
    if change == "hook":
        model.register_forward_hook(lambda *_: None)
    kind = torch.optim.RMSprop if change == "optimizer" else torch.optim.SGD
    optimizer = kind(nn.Linear(3, 4).parameters() if change == "parameters" else model.parameters(), lr=0.1)
    loader: Any = torch_harness.HostLoader(torch.zeros(8, 3), torch.zeros(8, dtype=torch.long), 4, None)
    if change == "loader":
        loader = list(loader)
    return (model, loader, nn.CrossEntropyLoss(), optimizer, torch.device("cpu")), {}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("class", "a model of type _OwnModel"),
        ("layer", "a model with a GELU layer"),
        ("hook", "a model with a hook of your own"),
        ("optimizer", "an optimizer of type RMSprop"),
        ("parameters", "an optimizer over parameters that are not the model's"),
        ("loader", "a list"),
    ],
)
def test_what_the_harness_does_not_build_cannot_be_carried(change: str, said: str) -> None:
    args, kwargs = _refused(change)
    with pytest.raises(torch_harness.CannotCarry, match=said):
        torch_harness.carry(args, kwargs)
    description, _ = torch_harness.carry(*_refused("nothing"))  # the same call, unchanged, can be
    assert description["optimizers"][0]["type"] == "SGD"
