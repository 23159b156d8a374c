"""The typed specs and reports of the PyTorch harnesses, and how ``tensor.to(...)`` is read without private API.

A report comes from the student's process: whatever it holds is checked once, where it arrives
(``from_data``), and one that is not what its type says is refused with the field named. A real grading with
a worker patched to send such reports gives ``forbidden``, never points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from autograder.exercises import load_assignment
from autograder.exercises.training_loop import OVERFIT
from autograder.grading.references import load_references
from autograder.grading.runner import GRADE, GRADING_SEED, Grader
from autograder.grading.submission import load_submission
from autograder.sandbox.harness_types import (
    MAX_ITEMS,
    MAX_KEYS,
    MAX_TEXT,
    DataSpec,
    FitReport,
    LoaderReport,
    LoaderSpec,
    MalformedData,
    ModelSpec,
    OptimizerSpec,
    TrainReport,
    TrainSpec,
)
from autograder.sandbox.protocol import NumpyScalar, decode, encode
from autograder.sandbox.torch_harness import HOST, DeviceAudit, harness, parse_to, requested_device

pytestmark = pytest.mark.training_loop

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = load_assignment("05_training_loop")
TRAINING = TrainSpec(
    model=ModelSpec(d_in=3, hidden=(4,), d_out=2, dropout=0.3, batchnorm=True, seed=1),
    data=DataSpec(n=10, batch_size=4, seed=2),
    optimizer=OptimizerSpec(name="sgd", lr=0.1, momentum=0.9),
    amp=False,
    seed=3,
)


@pytest.fixture(scope="module")
def reference() -> dict[str, Callable[..., Any]]:
    references = load_references(ASSIGNMENT)
    return {name: references.function(name) for name in ASSIGNMENT.functions}


def through_the_wire(data: Any) -> Any:
    """``data`` as the grader receives it from a worker."""
    blobs: list[bytes] = []
    return decode(encode(data, blobs), blobs)


@pytest.fixture(scope="module")
def train_data(reference: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    data: dict[str, Any] = through_the_wire(
        harness("train_one_epoch", TRAINING.to_data())(reference["train_one_epoch"])
    )
    return data


# -- specs and reports round trip ----------------------------------------------------------------------------
def test_a_spec_travels_as_plain_data_and_comes_back_equal() -> None:
    data = TRAINING.to_data()
    assert data["model"]["hidden"] == [4] and data["device"] is None  # lists, every field written
    assert TrainSpec.from_data(through_the_wire(data)) == TRAINING


def test_an_honest_report_reads_back_as_its_dataclass(train_data: dict[str, Any]) -> None:
    report = TrainReport.from_data(train_data)
    assert report.returned_float and isinstance(report.returned, float)
    assert report.audit.requested == "cpu:0" and report.audit.syncs == ("item",)
    assert len(report.losses.batch_sizes) == 3 and all(isinstance(a, np.ndarray) for a in report.state)
    assert TrainReport.from_data(through_the_wire(report.to_data())).audit == report.audit


def test_a_loss_that_is_nan_is_an_honest_value_but_an_accuracy_never_is(reference: dict[str, Any]) -> None:
    spec = replace(OVERFIT, epochs=1)
    data = through_the_wire(harness("fit", spec.to_data())(reference["fit"]))
    assert FitReport.from_data({**data, "final_val_loss": float("nan")}).final_val_loss != 0.0
    with pytest.raises(MalformedData, match=r"FitReport\.final_val_acc: expected a finite number, got nan"):
        FitReport.from_data({**data, "final_val_acc": float("nan")})
    with pytest.raises(MalformedData, match=r"FitReport\.final_val_acc: 1\.5 is outside \[0\.0, 1\.0\]"):
        FitReport.from_data({**data, "final_val_acc": 1.5})


# -- what a lying worker might send --------------------------------------------------------------------------
def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the field at ``path`` set to ``value`` (removed when ``value`` is ``_GONE``)."""
    copy = dict(data)
    if len(path) > 1:
        copy[path[0]] = _with(data[path[0]], path[1:], value)
    elif value is _GONE:
        del copy[path[0]]
    else:
        copy[path[0]] = value
    return copy


_GONE = object()


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        (("state",), _GONE, r"TrainReport\.state: missing"),
        (("audit", "kept_graphs"), _GONE, r"TrainReport\.audit\.kept_graphs: missing"),
        (("passed",), True, r"TrainReport: unexpected key 'passed'"),
        (("audit", "bytes_moved"), True, r"TrainReport\.audit\.bytes_moved: expected int, got bool"),
        (("audit", "kept_graphs"), 0.0, r"TrainReport\.audit\.kept_graphs: expected int, got float"),
        (("audit", "kept_graphs"), -1, r"TrainReport\.audit\.kept_graphs: -1 is outside"),
        (("audit", "bytes_moved"), 1 << 70, r"TrainReport\.audit\.bytes_moved: an integer out of range"),
        (("returned",), "1.0", r"TrainReport\.returned: expected float, got str"),
        (("returned",), NumpyScalar(np.array(1.0)), r"TrainReport\.returned: expected float, got NumpyScalar"),
        (("returned_float",), 1, r"TrainReport\.returned_float: expected bool, got int"),
        (("losses", "batch_sizes"), [4, 4, "2"], r"TrainReport\.losses\.batch_sizes\[2\]: expected int, got str"),
        (
            ("audit", "syncs"),
            ["item"] * (MAX_ITEMS + 1),
            rf"TrainReport\.audit\.syncs: a list of {MAX_ITEMS + 1} items",
        ),
        (("audit", "syncs"), ("item",), r"TrainReport\.audit\.syncs: expected a list, got tuple"),
        (("audit", "requested"), "x" * (MAX_TEXT + 1), r"TrainReport\.audit\.requested: a string of"),
        (("state",), [[[1.0]]], r"TrainReport\.state\[0\]: expected an array, got list"),
        (("state",), [np.array(["a"])], r"TrainReport\.state\[0\]: an array of dtype <U1"),
        (("audit",), None, r"TrainReport\.audit: expected a dict, got NoneType"),
    ],
)
def test_a_malformed_report_is_refused_with_the_field_named(
    train_data: dict[str, Any], path: tuple[str, ...], value: Any, said: str
) -> None:
    with pytest.raises(MalformedData, match=said):
        TrainReport.from_data(_with(train_data, path, value))


def test_a_report_that_is_not_a_dict_is_refused() -> None:
    with pytest.raises(MalformedData, match="TrainReport: expected a dict, got list"):
        TrainReport.from_data([])


def test_arrays_of_the_wrong_dimension_and_passes_of_the_wrong_number_are_refused(
    reference: dict[str, Callable[..., Any]],
) -> None:
    spec = LoaderSpec(n=12, d=2, batch_size=4, shuffle=True, seed=0)
    data = through_the_wire(harness("make_loader", spec.to_data())(reference["make_loader"]))
    assert len(LoaderReport.from_data(data).passes) == 2
    with pytest.raises(MalformedData, match=r"LoaderReport\.passes: a list of 3 items \(exactly 2\)"):
        LoaderReport.from_data({**data, "passes": data["passes"] + data["passes"][:1]})
    flat = {**data["again"], "x": np.zeros(3)}
    with pytest.raises(MalformedData, match=r"LoaderReport\.again\.x: an array of 1 dimensions \(expected 2\)"):
        LoaderReport.from_data({**data, "again": flat})


def test_a_history_with_too_many_keys_is_refused(reference: dict[str, Callable[..., Any]]) -> None:
    data = through_the_wire(harness("fit", replace(OVERFIT, epochs=1).to_data())(reference["fit"]))
    many = {str(k): [1.0] for k in range(MAX_KEYS + 1)}
    with pytest.raises(MalformedData, match=rf"FitReport\.history: a dict of {MAX_KEYS + 1} keys"):
        FitReport.from_data({**data, "history": many})
    with pytest.raises(MalformedData, match=r"FitReport\.history\['val_loss'\]: expected tuple or str, got dict"):
        FitReport.from_data({**data, "history": {"val_loss": {}}})


def test_a_malformed_spec_is_refused_where_it_arrives_in_the_worker() -> None:
    nan_rate = _with(TRAINING.to_data(), ("optimizer", "lr"), float("nan"))
    with pytest.raises(MalformedData, match=r"TrainSpec\.optimizer\.lr: expected a finite number"):
        harness("train_one_epoch", nan_rate)
    with pytest.raises(MalformedData, match=r"TrainSpec\.optimizer\.name: expected one of \['sgd', 'adam'\]"):
        harness("train_one_epoch", _with(TRAINING.to_data(), ("optimizer", "name"), "rmsprop"))
    with pytest.raises(MalformedData, match=r"TrainSpec\.model\.hidden\[0\]: expected int, got bool"):
        harness("train_one_epoch", _with(TRAINING.to_data(), ("model", "hidden"), [True]))


# -- a real grading, with the worker patched to lie in its reports ------------------------------------------
# The submission replaces the harness's entry point in its own worker (the module is preloaded there) by one
# that sends each report with one field malformed.
LYING = """

import sys


def _send_malformed_reports():
    module = sys.modules["autograder.sandbox.torch_harness"]
    honest = module.harness

    def lying(name, *args):
        run = honest(name, *args)

        def lie(function):
            report = run(function)
            if name == "get_device":
                report["passed"] = True
            elif name == "make_mlp":
                report["is_module"] = 1
            elif name == "train_one_epoch":
                report["audit"] = {**report["audit"], "kept_graphs": False}
            return report

        return lie

    module.harness = lying
    return True


PATCHED = _send_malformed_reports()  # an UPPER_CASE constant: the grader runs its call
"""
LIES = {
    "get_device": "the get_device report: unexpected key 'passed'",
    "make_mlp": "the make_mlp report.is_module: expected bool, got int",
    "train_one_epoch": "the train_one_epoch report.audit.kept_graphs: expected int, got bool",
}


def test_a_worker_that_sends_malformed_reports_gets_forbidden_not_points(tmp_path: Path) -> None:
    correct = (ROOT / "tests" / "submissions" / "05_training_loop" / "correct.py").read_text()
    path = tmp_path / "lying.py"
    path.write_text(correct + LYING)
    grader = Grader(ASSIGNMENT, load_references(ASSIGNMENT), GRADE, GRADING_SEED)
    report = grader.grade(load_submission(path), functions=list(LIES))
    assert report.points_by_function() == dict.fromkeys(LIES, 0)
    for function, lie in LIES.items():
        graded = report.function(function)
        assert graded.verdict == "forbidden", function
        for prop in graded.properties:
            if prop.property == "as_fast_as_reference":  # speed counts only for a correct function
                assert prop.verdict == "gated"
                continue
            assert prop.verdict == "forbidden", (function, prop.property, prop.feedback)
            assert f"the worker sent a malformed harness report ({lie})" in prop.feedback


# -- tensor.to(...) read without private API -----------------------------------------------------------------
OTHER = torch.zeros(2, dtype=torch.float16)


@pytest.mark.parametrize(
    ("args", "kwargs", "device", "dtype"),
    [
        ((torch.device("cpu"),), {}, "cpu", None),
        (("cuda",), {}, "cuda", None),
        (("cpu:0",), {}, "cpu:0", None),
        ((torch.float64,), {}, None, torch.float64),
        ((torch.float64, True, True), {}, None, torch.float64),  # non_blocking, copy given by position
        ((torch.device("cpu"), torch.int32), {}, "cpu", torch.int32),
        (("cpu", torch.int32, False), {}, "cpu", torch.int32),
        ((None, torch.float64), {}, None, torch.float64),
        ((), {"device": "cuda:1"}, "cuda:1", None),
        ((), {"dtype": torch.bfloat16}, None, torch.bfloat16),
        (
            (),
            {"device": "cpu", "dtype": torch.int64, "non_blocking": True, "copy": True},
            "cpu",
            torch.int64,
        ),
        ((torch.float32,), {"memory_format": torch.preserve_format}, None, torch.float32),
        (("cpu",), {"dtype": torch.float64, "copy": True}, "cpu", torch.float64),
        ((), {}, None, None),
    ],
)
def test_to_arguments_are_read_as_pytorch_reads_them(
    args: tuple[Any, ...], kwargs: dict[str, Any], device: str | None, dtype: torch.dtype | None
) -> None:
    asked = parse_to(args, kwargs)
    assert asked.like is None
    assert (None if asked.device is None else str(asked.device)) == device
    assert asked.dtype == dtype
    if device is None or device.startswith("cpu"):  # what PyTorch itself does with the same arguments
        moved = torch.zeros(2).to(*args, **kwargs)
        assert moved.dtype == (dtype or torch.float32)


@pytest.mark.parametrize(("args", "kwargs"), [((OTHER,), {}), ((OTHER, True), {}), ((), {"tensor": OTHER})])
def test_to_a_tensor_takes_that_tensor_s_place_and_dtype(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    asked = parse_to(args, kwargs)
    assert asked.like is OTHER and asked.device is None and asked.dtype is None
    assert torch.zeros(2).to(*args, **kwargs).dtype == torch.float16


def test_an_index_is_a_device_as_for_pytorch() -> None:
    """``tensor.to(0)`` means the accelerator's first device; without one PyTorch refuses it, and so does this."""
    try:
        expected = torch.device(0)
    except RuntimeError as error:
        with pytest.raises(RuntimeError, match=str(error)):
            parse_to((0,), {})
        return
    assert parse_to((0,), {}).device == expected


def test_the_audit_follows_every_form_of_to() -> None:
    device = requested_device()
    audit = DeviceAudit(device)
    batch = torch.randn(4, 3)
    audit.place(batch, HOST)
    with audit:
        moved = batch.to(device, torch.float64)
        keyword = batch.to(device=device, non_blocking=True)
        retyped = batch.to(torch.float64)  # a new dtype on the host: no move
        like = batch.to(moved)
        back = moved.to(dtype=torch.float32, device="cpu", copy=True)
    assert moved.dtype == torch.float64 and like.dtype == torch.float64
    assert audit.where(moved) == audit.where(keyword) == audit.where(like) == "cpu:0"
    assert audit.where(retyped) == audit.where(back) == HOST
    assert audit.bytes_moved == 3 * batch.nelement() * batch.element_size() + moved.nelement() * 8
    assert audit.syncs == ["to"]
