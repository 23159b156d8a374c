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
from torch import nn

from autograder.exercises import load_assignment
from autograder.exercises.training_loop import OVERFIT
from autograder.grading.references import load_references
from autograder.grading.runner import GRADE, GRADING_SEED, Grader
from autograder.grading.submission import load_submission
from autograder.sandbox.harness_types import (
    MAX_ELEMENTS,
    MAX_ITEMS,
    MAX_KEYS,
    MAX_LAYERS,
    MAX_RNG_BYTES,
    MAX_TEXT,
    CallAudit,
    CarriedAnswer,
    CarriedCall,
    CarriedLoss,
    CarriedValue,
    DataSpec,
    FitReport,
    LoaderReport,
    LoaderSpec,
    LossRecord,
    MalformedData,
    ModelSpec,
    OptimizerSpec,
    TrainReport,
    TrainSpec,
)
from autograder.sandbox.protocol import NamedCallable, NumpyScalar, decode, encode
from autograder.sandbox.torch_harness import (
    HOST,
    AuditedLoss,
    CannotCarry,
    DeviceAudit,
    HostLoader,
    carry,
    harness,
    parse_to,
    requested_device,
    sibling_harness,
)

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
def _with(data: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``data`` (dicts and lists) with the item at ``path`` set to ``value`` (removed when ``value`` is
    ``_GONE``)."""
    copy: Any = list(data) if isinstance(data, list) else dict(data)
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


# -- carried sibling calls: built in the student's worker, read where they arrive --------------------------------
def _honest_call() -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A train_one_epoch call, as a student's fit makes it, on objects of the kinds the harness builds."""
    audit = DeviceAudit(requested_device())
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.25), nn.Linear(4, 2))
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 3, generator=generator), torch.randint(0, 2, (10,), generator=generator)
    loader = HostLoader(x, y, 4, audit)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    return (model, loader, AuditedLoss(audit), optimizer, requested_device(), False), {}


@pytest.fixture(scope="module")
def carried() -> dict[str, Any]:
    """An honest carried call, as the reference's worker receives it."""
    data, _ = carry(*_honest_call())
    return dict(through_the_wire(data))


def _never_called(*_: Any) -> None:
    raise AssertionError("the reference ran on a call that should have been refused")


def _nested(depth: int) -> dict[str, Any]:
    """A carried return value: a plain number inside ``depth - 1`` lists."""
    node: dict[str, Any] = {"kind": "plain", "value": 1, "tensor": None, "items": [], "keys": []}
    for _ in range(depth - 1):
        node = {"kind": "list", "value": None, "tensor": None, "items": [node], "keys": []}
    return node


def test_a_carried_call_travels_as_plain_data_and_reads_back_as_its_record(carried: dict[str, Any]) -> None:
    call = CarriedCall.from_data(carried, "the carried call")
    assert call.model is not None
    assert [layer.type for layer in call.model.layers] == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert call.model.layers[0].settings == {"in_features": 3, "out_features": 4, "bias": True}
    assert call.model.layers[3].settings == {"p": 0.25, "inplace": False}
    assert [item.kind for item in call.args] == ["model", "loader", "loss", "optimizer", "device", "plain"]
    assert call.losses == (CarriedLoss(type="audited"),) and call.optimizers[0].type == "Adam"
    assert call.optimizers[0].groups == (tuple(range(len(call.model.requires_grad))),)
    assert call.rng.dtype == np.uint8 and call.audit == CallAudit(requested="cpu:0", batch=-1)
    assert CarriedCall.from_data(through_the_wire(call.to_data())).model.layers == call.model.layers  # type: ignore[union-attr]


def test_the_reference_s_answer_reads_back_and_loads_into_the_student_s_objects(
    reference: dict[str, Callable[..., Any]], carried: dict[str, Any]
) -> None:
    args, kwargs = _honest_call()
    data, restore = carry(args, kwargs)
    answer = through_the_wire(sibling_harness()(reference["train_one_epoch"], through_the_wire(data)))
    read = CarriedAnswer.from_data(answer)
    assert read.passes == (1,) and read.model is not None and read.audit is not None
    assert isinstance(read.losses[0], LossRecord) and read.losses[0].batch_sizes == (4, 4, 2)
    assert read.optimizers[0].state and read.returned.kind in ("plain", "tensor")
    returned = restore(answer)
    model, loader = args[0], args[1]
    assert loader.passes == 1 and isinstance(returned, float | torch.Tensor)
    assert all(np.array_equal(v.numpy(), w) for v, w in zip(model.state_dict().values(), read.model.state, strict=True))
    assert args[3].state_dict()["state"][0]["exp_avg"].abs().sum() > 0  # Adam's state came back too


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        (("extra",), 1, r"the carried call: unexpected key 'extra'"),
        (("grad_enabled",), 1, r"\.grad_enabled: expected bool, got int"),
        (("rng",), np.zeros(MAX_RNG_BYTES + 1, np.uint8), rf"\.rng: a generator state of {MAX_RNG_BYTES + 1} uint8"),
        (("rng",), np.zeros(5056, np.int64), r"\.rng: a generator state of 5056 int64"),
        (("rng",), np.zeros((2, 8), np.uint8), r"\.rng: an array of 2 dimensions \(expected 1\)"),
        (("model", "layers", 2, "type"), "GELU", r"\.model\.layers\[2\]\.type: a 'GELU' layer \(only Linear, "),
        (("model", "layers", 0, "settings", "bias"), _GONE, r"layers\[0\]\.settings: the settings of a Linear are"),
        (("model", "layers", 0, "settings", "in_features"), "3", r"\['in_features'\]: expected bool or int or"),
        (("model", "layers", 0, "settings", "in_features"), 3.0, r"\['in_features'\]: expected int, got float"),
        (("model", "layers", 0, "settings", "in_features"), -3, r"\['in_features'\]: -3 is outside"),
        (("model", "layers", 0, "settings", "out_features"), 1 << 24, r"\.model\.layers: a model of more than"),
        (("model", "state", "keys"), ["0.weight"], r"\.model\.state\.state: \d+ arrays for 1 keys"),
        (
            ("loaders", 0, "x"),
            np.broadcast_to(np.float32(0), (MAX_ELEMENTS, 1)),  # 64 MiB said, none allocated
            rf"\.loaders\[0\]: a loader of {MAX_ELEMENTS + 10} numbers",
        ),
        (("loaders", 0, "batch"), 0, r"\.loaders\[0\]\.batch: 0 is outside"),
        (("optimizers", 0, "type"), "RMSprop", r"\.optimizers\[0\]\.type: an optimizer 'RMSprop' \(only Adam, "),
        (("optimizers", 0, "groups"), [[0, 1, 99]], r"\.optimizers\[0\]\.groups: past the model's \d+ parameters"),
        (("optimizers", 0, "groups"), [[-1]], r"\.optimizers\[0\]\.groups\[0\]\[0\]: -1 is outside"),
        (("args", 1, "value"), -1, r"\.args\[1\]\.value: -1 is not the index of a loader"),
        (("args", 1, "value"), 1, r"\.args\[1\]: loader 1 of 1"),
        (("args", 1, "value"), True, r"\.args\[1\]\.value: True is not the index of a loader"),
        (("args", 0, "value"), 1, r"\.args\[0\]: model 1 of 1"),
        (("args", 3, "value"), 1 << 40, r"\.args\[3\]: optimizer 1099511627776 of 1"),
        (("args", 4, "value"), 0, r"\.args\[4\]\.value: a device named by a int"),
        (("args", 5, "kind"), "function", r"\.args\[5\]\.kind: expected one of"),
        (("losses", 0, "reduction"), "batchmean", r"\.losses\[0\]\.reduction: expected one of \['mean', 'sum'"),
        (("audit", "batch"), -2, r"\.audit\.batch: -2 is outside"),
    ],
)
def test_a_malformed_carried_call_is_refused_where_it_arrives_before_anything_runs(
    carried: dict[str, Any], path: tuple[str | int, ...], value: Any, said: str
) -> None:
    with pytest.raises(MalformedData, match=said):
        sibling_harness()(_never_called, _with(carried, path, value))


def test_a_model_of_too_many_layers_is_refused(carried: dict[str, Any]) -> None:
    layers = carried["model"]["layers"] * (MAX_LAYERS // len(carried["model"]["layers"]) + 1)
    with pytest.raises(MalformedData, match=rf"\.model\.layers: {len(layers)} layers \(at most {MAX_LAYERS}\)"):
        sibling_harness()(_never_called, _with(carried, ("model", "layers"), layers))


def test_what_the_student_set_but_no_reference_could_rebuild_is_refused_in_the_student_s_worker() -> None:
    (model, loader, _, optimizer, device, amp), _ = _honest_call()
    odd = nn.CrossEntropyLoss(reduction="batchmean")  # PyTorch would refuse it only when called
    with pytest.raises(CannotCarry, match=r"cannot rebuild \(the call\.losses\[0\]\.reduction: expected one of"):
        carry((model, loader, odd, optimizer, device, amp), {})
    integers = nn.CrossEntropyLoss(label_smoothing=0)  # an int where the record wants a float: carried as 0.0
    description, _ = carry((model, loader, integers, optimizer, device, np.bool_(False)), {})
    assert description["losses"][0]["label_smoothing"] == 0.0 and description["args"][5]["value"] is False


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        (("passed",), True, r"the reference's answer: unexpected key 'passed'"),
        (("rng",), np.zeros(5056), r"answer\.rng: a generator state of 5056 float64"),
        (("passes",), [-1], r"answer\.passes\[0\]: -1 is outside"),
        (("returned",), _nested(11), r"answer\.returned: nested more than 10 deep"),
        (("returned",), {**_nested(1), "kind": "tensor"}, r"answer\.returned\.tensor: a tensor without one"),
        (("optimizers", 0, "param_groups", 0, "lr"), [[1.0]], r"param_groups\[0\]\['lr'\]: expected bool or int"),
        (("audit", "seen", "bytes_moved"), -1, r"answer\.audit\.seen\.bytes_moved: -1 is outside"),
    ],
)
def test_a_malformed_answer_is_refused_before_the_student_s_objects_are_touched(
    reference: dict[str, Callable[..., Any]], path: tuple[str | int, ...], value: Any, said: str
) -> None:
    args, kwargs = _honest_call()
    data, restore = carry(args, kwargs)
    answer = through_the_wire(sibling_harness()(reference["train_one_epoch"], through_the_wire(data)))
    before = [v.clone() for v in args[0].state_dict().values()]
    assert CarriedAnswer.from_data(answer).passes == (1,)  # the honest answer is read
    assert CarriedValue.from_data(_nested(10)).depth() == 10  # and a value ten deep may come back
    with pytest.raises(MalformedData, match=said):
        restore(_with(answer, path, value))
    assert all(torch.equal(b, a) for b, a in zip(before, args[0].state_dict().values(), strict=True))
    assert args[1].passes == 0


def test_a_reference_worker_answers_a_malformed_call_as_a_failed_call(carried: dict[str, Any]) -> None:
    """Through a real reference worker, as the grader's relay sends it: the call is refused with the field named,
    which the relay answers as a failed reference call (a RuntimeError in the student's code); the worker lives
    on and answers the honest call."""
    grader = Grader(ASSIGNMENT, load_references(ASSIGNMENT), GRADE, GRADING_SEED)
    worker = grader._references_launcher().spawn()
    try:
        responses = []
        for call in (_with(carried, ("loaders", 0, "batch"), 0), carried):
            blobs: list[bytes] = []
            header = {
                "op": "call",
                "function": "train_one_epoch",
                "args": encode([call], blobs),
                "kwargs": encode({}, blobs),
                "errstate": False,
                "harness": encode(NamedCallable("torch", "sibling"), []),
            }
            responses.append(worker.request(header, blobs, 60.0)[0])
    finally:
        worker.kill()
    refused, answered = responses
    assert refused["kind"] == "error"
    assert str(refused["message"]).startswith("MalformedData: the carried call.loaders[0].batch: 0 is outside")
    assert answered["ok"] is True
