"""05_training_loop graded end to end: full marks, zero, every classic bug at its exact cost, determinism.

Grading this assignment trains networks, so the bugs are graded in groups: each group plants at most one
bug per function, and every function's points are asserted exactly. A bug that cost another function
points would break that function's assertion, so "its own function only" is proven for every bug while
the number of gradings stays at the number of bugs of the function that has the most.
"""

from __future__ import annotations

import types
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from bug_suite import failed_and_gated, gated_by, wrong_costs
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
from bug_files import load_bugs  # noqa: E402

_BUG_FILE = load_bugs("05_training_loop")
BUGS = _BUG_FILE.BUGS
submission_with = _BUG_FILE.submission_with

ASSIGNMENT = load_assignment("05_training_loop")
CORRECT = (FOLDER / "correct.py").read_text()
ALL_BUGS = BUGS

# Each bug: the points its function keeps, and the properties that catch it (what the gate then takes,
# bug_suite.gated_by, follows from them).
EXPECTED: dict[str, tuple[float, set[str]]] = {
    "get_device_ignores_prefer": (3, {"honours_prefer", "fails_clearly_when_unavailable"}),
    "get_device_mps_before_cuda": (4, {"prefers_cuda_then_mps_then_cpu"}),
    "get_device_trusts_prefer": (7, {"fails_clearly_when_unavailable"}),
    "make_loader_shuffles_with_global_generator": (0, {"covers_each_example_once", "deterministic_for_seed"}),
    "make_loader_shuffles_once": (9, {"reshuffles_each_epoch"}),
    "make_loader_moves_data_set_per_batch": (8, {"batches_on_device"}),
    "make_loader_per_sample_data_loader": (6, {"batches_on_device", "as_fast_as_reference"}),
    "make_mlp_activation_after_last_layer": (6, {"activation_between_layers", "relu_by_default"}),
    "make_mlp_ignores_activation": (6, {"activation_between_layers", "rejects_unknown_activation"}),
    "make_mlp_builds_layers_backwards": (3, {"agrees_with_reference"}),
    "make_mlp_forgets_output_layer": (0, {"has_the_requested_layers", "agrees_with_reference"}),
    "train_forgets_zero_grad": (1, {"agrees_with_reference"}),
    "train_steps_before_backward": (1, {"agrees_with_reference"}),
    "train_forgets_model_train": (1, {"agrees_with_reference", "trains_in_train_mode"}),
    "train_averages_batch_means": (0, {"agrees_with_reference", "returns_mean_loss_over_samples"}),
    "train_item_per_batch": (9, {"synchronises_once_per_epoch"}),
    "train_accumulates_loss_tensor": (9, {"keeps_no_graph_across_batches"}),
    "train_forgets_to_move_batches": (9, {"moves_batches_to_device"}),
    # On a machine without CUDA the timed epoch (which runs unaudited) fails outright: the code cannot run.
    "train_hard_codes_cuda": (8, {"moves_batches_to_device", "as_fast_as_reference"}),
    "train_loops_over_samples": (9, {"as_fast_as_reference"}),
    "train_ignores_amp": (9, {"amp_autocasts_to_bfloat16"}),
    "evaluate_without_no_grad": (8, {"builds_no_graph"}),
    "evaluate_never_switches_back": (9, {"restores_mode"}),
    "evaluate_zeroes_gradients": (8, {"leaves_model_unchanged"}),
    "evaluate_forgets_eval": (2, {"agrees_with_reference", "leaves_model_unchanged", "restores_mode"}),
    "evaluate_leaves_labels_behind": (9, {"moves_batches_to_device"}),
    "evaluate_averages_batch_accuracies": (0, {"agrees_with_reference", "mean_loss_and_accuracy"}),
    "fit_does_not_restore_best": (3, {"early_stopping_restores_best", "agrees_with_reference"}),
    "fit_ignores_patience": (3, {"early_stopping_restores_best", "agrees_with_reference"}),
    "fit_zero_grad_after_backward": (2, {"reaches_95_percent_on_digits", "agrees_with_reference"}),
    "fit_accuracy_in_percent": (5, {"history_has_every_epoch", "agrees_with_reference"}),
    "fit_forgets_to_move_batches": (9, {"moves_batches_to_device"}),
    "fit_always_shows_progress": (9, {"shows_progress_bar"}),
}


def groups() -> list[list[str]]:
    """The bugs in groups with at most one bug per function: the k-th bug of each function in group k."""
    by_function: dict[str, list[str]] = defaultdict(list)
    for name, bug in ALL_BUGS.items():
        by_function[bug.function].append(name)
    count = max(len(names) for names in by_function.values())
    return [[names[k] for names in by_function.values() if k < len(names)] for k in range(count)]


GROUPS = groups()
DETERMINISM_RUNS = 1  # the first group is graded this many more times


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Every submission this module needs, graded once, in parallel."""
    folder = tmp_path_factory.mktemp("bugs")
    notebook = "training_loop.ipynb"
    jobs = {
        "correct": (FOLDER / "correct.py", ASSIGNMENT.id, "grade"),
        "reference": (ROOT / "solutions" / ASSIGNMENT.id / notebook, ASSIGNMENT.id, "grade"),
        "student": (ROOT / "assignments" / ASSIGNMENT.id / notebook, ASSIGNMENT.id, "grade"),
        "student-check": (ROOT / "assignments" / ASSIGNMENT.id / notebook, ASSIGNMENT.id, "check"),
    }
    for index, group in enumerate(GROUPS):
        path = folder / f"group_{index}.py"
        source = CORRECT
        for name in group:
            source = submission_with(ALL_BUGS[name], source)
        path.write_text(source)
        jobs[f"group-{index}"] = (path, ASSIGNMENT.id, "grade")
    for run in range(DETERMINISM_RUNS):
        jobs[f"determinism-{run}"] = jobs["group-0"]
    results = grade_many(list(jobs.values()))
    return dict(zip(jobs, results, strict=True))


def test_every_function_is_worth_ten_points() -> None:
    assert ASSIGNMENT.functions == ("get_device", "make_loader", "make_mlp", "train_one_epoch", "evaluate", "fit")
    for function in ASSIGNMENT.functions:
        assert ASSIGNMENT.max_points(function) == POINTS_PER_FUNCTION, function


def test_every_bug_has_its_expected_cost() -> None:
    assert set(EXPECTED) == set(ALL_BUGS)
    assert wrong_costs(ASSIGNMENT, ALL_BUGS, EXPECTED) == []


def test_reference_notebook_gets_full_marks(reports: dict[str, Report]) -> None:
    report = reports["reference"]
    failures = [(p.function, p.property, p.feedback) for f in report.functions for p in f.properties if not p.passed]
    assert failures == []
    assert report.points == report.max_points == 60


def test_a_correct_student_solution_gets_full_marks(reports: dict[str, Report]) -> None:
    assert reports["correct"].points_by_function() == {f: 10 for f in ASSIGNMENT.functions}


def test_student_notebook_gets_zero_and_not_implemented_everywhere(reports: dict[str, Report]) -> None:
    for mode in ("student", "student-check"):
        report = reports[mode]
        assert report.points == 0
        for function in report.functions:
            assert function.verdict == "not_implemented", function.name
            assert "not implemented yet" in function.note


@pytest.mark.parametrize("index", range(len(GROUPS)))
def test_each_bug_costs_exact_points_on_its_own_function_only(index: int, reports: dict[str, Report]) -> None:
    report = reports[f"group-{index}"]
    expected = {f: POINTS_PER_FUNCTION for f in ASSIGNMENT.functions}
    caught = {}
    for name in GROUPS[index]:
        function = ALL_BUGS[name].function
        expected[function], caught[function] = EXPECTED[name]
    assert report.points_by_function() == expected
    for function, caught_by in caught.items():
        failed, gated = failed_and_gated(report.function(function))
        assert failed == caught_by, function
        assert gated == gated_by(ASSIGNMENT, function, failed), function


def test_every_property_is_caught_by_some_bug() -> None:
    caught = {(ALL_BUGS[name].function, prop) for name, (_, props) in EXPECTED.items() for prop in props}
    uncaught = sorted(p.key for p in ASSIGNMENT.properties if (p.function, p.name) not in caught)
    assert uncaught == [], f"properties no bug demonstrates: {uncaught}"


def test_the_issues_training_loop_bugs_are_all_here() -> None:
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
    assert required <= set(ALL_BUGS)


def test_feedback_names_the_device_the_input_and_a_hint(reports: dict[str, Report]) -> None:
    group = next(i for i, g in enumerate(GROUPS) if "train_hard_codes_cuda" in g)
    prop = next(
        p
        for p in reports[f"group-{group}"].function("train_one_epoch").properties
        if p.property == "moves_batches_to_device"
    )
    assert "the model received a tensor on cuda:0, but train_one_epoch was asked to use cpu:0" in prop.feedback
    assert "smallest failing input: spec = {" in prop.feedback
    assert "hint: " in prop.feedback and "Traceback" not in prop.feedback


def test_timing_shows_both_times_side_by_side(reports: dict[str, Report]) -> None:
    group = next(i for i, g in enumerate(GROUPS) if "train_loops_over_samples" in g)
    prop = next(
        p
        for p in reports[f"group-{group}"].function("train_one_epoch").properties
        if p.property == "as_fast_as_reference"
    )
    assert "train_one_epoch took" in prop.feedback and "the reference" in prop.feedback and "limit 3" in prop.feedback


def test_the_same_submission_graded_twice_scores_the_same(reports: dict[str, Report]) -> None:
    runs = [reports["group-0"]] + [reports[f"determinism-{run}"] for run in range(DETERMINISM_RUNS)]
    assert all(run.points_by_function() == runs[0].points_by_function() for run in runs)
    feedback = [
        [(p.function, p.property, p.feedback) for f in run.functions for p in f.properties if "took" not in p.feedback]
        for run in runs
    ]
    assert all(texts == feedback[0] for texts in feedback)


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
    for name in SIBLING_BUGS:
        source = submission_with(ALL_BUGS[name], source)
    path.write_text(source)
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
    all its points, and each sibling loses exactly what its own bug costs it (EXPECTED), nothing more."""
    report = sibling_reports["inspecting"]
    expected = {f: POINTS_PER_FUNCTION for f in ASSIGNMENT.functions}
    for name in SIBLING_BUGS:
        expected[ALL_BUGS[name].function] = EXPECTED[name][0]
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
        ALL_BUGS[name].function: EXPECTED[name][0] for name in SIBLING_BUGS
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
