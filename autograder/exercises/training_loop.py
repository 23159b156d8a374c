"""The property catalogue of ``05_training_loop`` (contract: docs/CURRICULUM.md, section 05).

Student code gets models, loaders and optimizers it cannot receive over the wire, so every property
calls it through a trusted harness (:mod:`autograder.sandbox.torch_harness`) that builds them from a drawn
spec inside the worker and sends back a report: parameters, losses, and what the device audit saw. Specs
and reports are the typed dataclasses of :mod:`autograder.sandbox.harness_types`, read by attribute; a
report is checked where it arrives (:func:`student_report`). Everything is compared here. Public
properties check invariants the harness can observe (the mode during each forward pass, where each batch
lived, how often the host waited for the device); hidden ones run the same harness on the instructor's
reference in this process and compare, and time an epoch.

The audit asks student code to use the device ``cpu:0`` and puts the loader's batches on ``cpu`` (the
host), so a machine with no GPU still proves that batches are moved, and moved once (see the harness).
Each function is worth 10 points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
from hypothesis import strategies as st

from autograder.exercises.common import Example, drawn_property
from autograder.grading.calls import Calls, GraderError
from autograder.grading.catalogue import Assignment, Property, Timing
from autograder.grading.checks import PropertyFailure, Tolerance, assert_close
from autograder.sandbox.callables import resolve_arguments
from autograder.sandbox.harness_types import (
    EVALUATE,
    FIT,
    GET_DEVICE,
    MAKE_LOADER,
    MAKE_MLP,
    TIMED_EPOCH,
    TIMED_LOADER,
    TRAIN_ONE_EPOCH,
    AuditReport,
    DataSpec,
    DeviceSpec,
    EvaluateReport,
    EvaluateSpec,
    FitReport,
    FitSpec,
    HarnessKind,
    LoaderPass,
    LoaderReport,
    LoaderSpec,
    MalformedData,
    MlpReport,
    MlpSpec,
    ModelSpec,
    NoisyTask,
    OptimizerSpec,
    TrainReport,
    TrainSpec,
    Wire,
)
from autograder.sandbox.launcher import Failure, WorkerFailure
from autograder.sandbox.protocol import NamedCallable

S = TypeVar("S", bound=Wire)
R = TypeVar("R", bound=Wire)

FLOAT32 = Tolerance(rtol=1e-4, atol=1e-5)  # the same float32 arithmetic, perhaps in another order
EXACT = Tolerance(rtol=0.0, atol=0.0)


# -- running a harness on the student's function and on the reference ------------------------------------
def harnessed(kind: HarnessKind[S, Any], spec: S) -> NamedCallable:
    """The harness ``kind`` with ``spec``, as it travels to a worker: by name, with the spec as plain data."""
    return NamedCallable("torch", kind.name, spec.to_data())


def spec_of(example: Example, kind: HarnessKind[S, Any]) -> S:
    """The typed spec of a drawn example (examples are plain data: they are kept in the example bank)."""
    return kind.spec.from_data(example["spec"], "the example's spec")


def _report_type(kind: HarnessKind[Any, R]) -> type[R]:
    if kind.report is None:
        raise GraderError(f"the {kind.name} harness sends no report")
    return kind.report


def student_report(calls: Calls, kind: HarnessKind[S, R], spec: S) -> R:
    """What the harness saw when it ran the student's function in the worker, checked where it arrives.

    The report comes from the student's process. One that is not what its type says (a field missing or
    extra, a flag where a count belongs, a NaN accuracy, a list over the limits) was not written by the
    harness: the process was patched to lie, and the verdict is ``forbidden``, as for any malformed answer.
    """
    data = calls.student(harness=harnessed(kind, spec))
    try:
        return _report_type(kind).from_data(data, f"the {kind.name} report")
    except MalformedData as error:
        calls.slot.kill()  # an honest worker never sends one
        raise WorkerFailure(Failure.FORBIDDEN, f"the worker sent a malformed harness report ({error})") from None


def reference_report(calls: Calls, kind: HarnessKind[S, R], spec: S) -> R:
    """The same harness run here, on the instructor's reference."""
    if calls.references is None:
        raise GraderError("this property needs the reference solutions, which are not available")
    run = resolve_arguments(harnessed(kind, spec))
    try:
        return _report_type(kind).from_data(run(calls.references.function(calls.function)), f"the {kind.name} report")
    except MalformedData as error:
        raise GraderError(f"the harness's report on the reference is malformed ({error})") from None


def same_arrays(
    got: Sequence[np.ndarray | None], want: Sequence[np.ndarray | None], tolerance: Tolerance, what: str
) -> None:
    """Two lists of parameters (or gradients) agree entry by entry; the message names the first that differs."""
    if len(got) != len(want):
        raise PropertyFailure(f"{what}: {len(got)} tensors, expected {len(want)}")
    for index, (g, w) in enumerate(zip(got, want, strict=True)):
        if g is None or w is None:
            if (g is None) != (w is None):
                state = "None" if g is None else "set"
                raise PropertyFailure(f"{what}: tensor {index} is {state}, expected {'set' if g is None else 'None'}")
            continue
        assert_close(g, w, tolerance, f"{what} (tensor {index}, shape {w.shape})")


def check_on_device(audit: AuditReport, function: str) -> None:
    """Everything that reached the model and the loss lived on the requested device."""
    for places, what in ((audit.model_inputs, "the model"), (audit.loss_inputs, "the loss")):
        wrong = [place for place in places if place != audit.requested]
        if wrong:
            raise PropertyFailure(
                f"{what} received a tensor on {wrong[0]!s}, but {function} was asked to use {audit.requested} "
                f"({len(wrong)} of {len(places)} tensors were elsewhere)"
            )
    if not audit.model_inputs:
        raise PropertyFailure(f"{function} never called the model")


def _numbers(values: Sequence[float | int]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


# -- drawn specs --------------------------------------------------------------------------------------------
def as_example(kind: Callable[..., Wire]) -> Callable[[dict[str, Any]], Example]:
    """The last step of a strategy: the drawn fields as the spec ``kind`` of an example, in plain data.

    Examples are plain data (the example bank keeps them); a test reads its spec back with :func:`spec_of`.
    """
    return lambda drawn: {"spec": kind(**drawn).to_data()}


def _with_model(drawn: dict[str, Any]) -> dict[str, Any]:
    """Drawn fields with the model's drawn fields (:func:`model_specs`) as a :class:`ModelSpec`."""
    return {**drawn, "model": ModelSpec(**{**drawn["model"], "hidden": tuple(drawn["model"]["hidden"])})}


def model_specs() -> st.SearchStrategy[dict[str, Any]]:
    """Small MLPs, often with Dropout and BatchNorm: then training and evaluation modes differ (the fields
    of a :class:`ModelSpec`)."""
    return st.fixed_dictionaries(
        {
            "d_in": st.integers(2, 6),
            "hidden": st.lists(st.integers(2, 8), min_size=1, max_size=2),
            "d_out": st.integers(2, 4),
            "dropout": st.sampled_from([0.3, 0.0]),
            "batchnorm": st.booleans(),
            "seed": st.integers(0, 999),
        }
    )


def data_specs() -> st.SearchStrategy[DataSpec]:
    """Two to four full batches and a shorter last one (of two or more: BatchNorm needs two).

    A shorter last batch is what tells the mean over samples from the mean of the batch means.
    """

    def build(batch_size: int) -> st.SearchStrategy[DataSpec]:
        return st.fixed_dictionaries(
            {"full": st.integers(2, 4), "rest": st.integers(2, batch_size - 1), "seed": st.integers(0, 999)}
        ).map(lambda d: DataSpec(n=d["full"] * batch_size + d["rest"], batch_size=batch_size, seed=d["seed"]))

    return st.integers(4, 8).flatmap(build)


OPTIMIZERS = st.sampled_from(
    [
        OptimizerSpec(name="sgd", lr=0.1, momentum=0.0),
        OptimizerSpec(name="sgd", lr=0.05, momentum=0.9),
        OptimizerSpec(name="adam", lr=0.01),
    ]
)


def training_examples(amp: bool | None = False) -> st.SearchStrategy[Example]:
    """Training specs; ``amp`` fixed, or drawn when ``None``."""
    amps = st.booleans() if amp is None else st.just(amp)
    spec = st.fixed_dictionaries(
        {
            "model": model_specs(),
            "data": data_specs(),
            "optimizer": OPTIMIZERS,
            "amp": amps,
            "seed": st.integers(0, 999),
        }
    )
    return spec.map(lambda drawn: as_example(TrainSpec)(_with_model(drawn)))


def evaluation_examples() -> st.SearchStrategy[Example]:
    spec = st.fixed_dictionaries(
        {
            "model": model_specs(),
            "data": data_specs(),
            "mode": st.sampled_from(["train", "eval"]),
            "seed": st.integers(0, 999),
        }
    )
    return spec.map(lambda drawn: as_example(EvaluateSpec)(_with_model(drawn)))


# -- get_device ---------------------------------------------------------------------------------------------
MACHINES = st.fixed_dictionaries({"cuda": st.booleans(), "mps": st.booleans()})  # DeviceSpec's fields


def _available(machine: dict[str, bool], kind: str) -> bool:
    return kind == "cpu" or bool(machine.get(kind))


def _device_examples(available: bool) -> st.SearchStrategy[Example]:
    """``prefer`` (as a string or a ``torch.device``) that the simulated machine has, or lacks."""

    def build(machine: dict[str, bool]) -> st.SearchStrategy[Example]:
        kinds = [k for k in ("cpu", "cuda", "cuda:0", "mps") if _available(machine, k.split(":")[0]) == available]
        if not kinds:
            return st.nothing()
        return st.fixed_dictionaries(
            {"prefer": st.sampled_from(kinds), "as_device": st.booleans(), "expect_error": st.just(not available)}
        ).map(lambda drawn: as_example(DeviceSpec)({**machine, **drawn, "passes_prefer": True}))

    return MACHINES.flatmap(build)


def _device_returned(calls: Calls, spec: DeviceSpec) -> str:
    report = student_report(calls, GET_DEVICE, spec)
    if report.returned_type != "device" or report.device is None:
        raise PropertyFailure(f"get_device returned a {report.returned_type}, not a torch.device")
    return report.device


@drawn_property(
    function="get_device",
    says="get_device(prefer) returns that device (given as a string or a torch.device) when it is available",
    hint="torch.device(prefer) accepts both forms; check availability before returning it.",
    points=4,
    examples=_device_examples(available=True),
    establishes_correctness=True,
)
def honours_prefer(calls: Calls, example: Example) -> None:
    spec = spec_of(example, GET_DEVICE)
    got = _device_returned(calls, spec)
    want = str(spec.prefer)
    if got != want and not (want.startswith("cuda") and got in ("cuda", "cuda:0")):
        raise PropertyFailure(f"get_device(prefer={want!r}) returned {got!r}", want, got)


# Machines asked with prefer left out, or None.
PREFER_LEFT_OUT = MACHINES.flatmap(
    lambda m: st.sampled_from([as_example(DeviceSpec)(m), as_example(DeviceSpec)({**m, "passes_prefer": True})])
)


@drawn_property(
    function="get_device",
    says="get_device() picks CUDA when there is one, else MPS (Apple GPUs), else the CPU",
    hint="Ask torch.cuda.is_available() first, then torch.backends.mps.is_available().",
    points=3,
    examples=PREFER_LEFT_OUT,
    establishes_correctness=True,
)
def prefers_cuda_then_mps_then_cpu(calls: Calls, example: Example) -> None:
    machine = spec_of(example, GET_DEVICE)
    want = "cuda" if machine.cuda else "mps" if machine.mps else "cpu"
    got = _device_returned(calls, machine)
    if got.split(":")[0] != want:
        having = [k for k, has in (("cuda", machine.cuda), ("mps", machine.mps)) if has] or ["no accelerator"]
        raise PropertyFailure(f"on a machine with {' and '.join(having)}, get_device() returned {got!r}", want, got)


@drawn_property(
    function="get_device",
    says="get_device(prefer) raises an error naming the device when that device is not available",
    hint="raise an exception (ValueError or RuntimeError) whose message says which device is missing.",
    points=3,
    examples=_device_examples(available=False),
    gated=True,  # always raising an error that repeats the arguments keeps it
)
def fails_clearly_when_unavailable(calls: Calls, example: Example) -> None:
    spec = spec_of(example, GET_DEVICE)
    report = student_report(calls, GET_DEVICE, spec)
    error = report.error
    if error is None:
        raise PropertyFailure(
            f"get_device(prefer={spec.prefer!r}) returned {report.device!r} on a machine without it; "
            "code would only fail later, far from the cause"
        )
    if str(spec.prefer).split(":")[0] not in error:
        raise PropertyFailure(f"the error does not name the device that was asked for: {error}")


# -- make_loader --------------------------------------------------------------------------------------------
def loader_examples(shuffle: bool | None = None) -> st.SearchStrategy[Example]:
    """Three to six batches (twelve or more rows), a last batch that may be shorter, 2-4 columns.

    ``shuffle`` fixed, or drawn when ``None``.
    """

    def build(batch_size: int) -> st.SearchStrategy[Example]:
        spec = st.fixed_dictionaries(
            {
                "n": st.integers(3 * batch_size, 6 * batch_size + batch_size - 1),
                "d": st.integers(2, 4),
                "batch_size": st.just(batch_size),
                "shuffle": st.booleans() if shuffle is None else st.just(shuffle),
                "seed": st.integers(0, 999),
            }
        )
        return spec.map(as_example(LoaderSpec))

    return st.integers(4, 10).flatmap(build)


def _ids(one_pass: LoaderPass) -> np.ndarray:
    x = one_pass.x
    return np.asarray(x[:, 0] if x.shape[1] else np.zeros(0), dtype=np.int64)


def _check_pass(report: LoaderReport, one_pass: LoaderPass, spec: LoaderSpec, which: str) -> None:
    n, batch_size = spec.n, spec.batch_size
    x, y = report.x, report.y
    sizes = list(one_pass.sizes)
    want_sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    if sizes != want_sizes:
        raise PropertyFailure(f"{which}, the batch sizes were {sizes}", want_sizes, sizes)
    got_x, got_y, ids = one_pass.x, one_pass.y, _ids(one_pass)
    if got_x.shape != x.shape or sorted(ids.tolist()) != list(range(n)):
        raise PropertyFailure(f"{which}, the batches did not hold each of the {n} examples exactly once")
    if not np.array_equal(got_x, x[ids]) or not np.array_equal(got_y, y[ids]):
        raise PropertyFailure(f"{which}, some inputs were paired with another example's label")
    if not spec.shuffle and not np.array_equal(ids, np.arange(n)):
        raise PropertyFailure(f"{which}, shuffle=False but the examples came in another order", np.arange(n), ids)
    dtypes = one_pass.dtypes
    if any(d != "float32" for d in dtypes[0::2]) or any(d != "int64" for d in dtypes[1::2]):
        raise PropertyFailure(f"{which}, batches had dtypes {sorted(set(dtypes))}; keep float32 inputs, int64 labels")


@drawn_property(
    function="make_loader",
    says="each pass over the loader yields every (x, y) pair once, in batches of batch_size, in order without shuffle",
    hint="Index x and y with the same indices; the last batch holds what is left. The object must be iterable "
    "more than once (a generator is used up after one pass: return an object with __iter__).",
    points=3,
    examples=loader_examples(),
    establishes_correctness=True,
)
def covers_each_example_once(calls: Calls, example: Example) -> None:
    spec = spec_of(example, MAKE_LOADER)
    report = student_report(calls, MAKE_LOADER, spec)
    for number, one_pass in enumerate(report.passes, start=1):
        _check_pass(report, one_pass, spec, f"in pass {number} over the loader")


@drawn_property(
    function="make_loader",
    says="the order of the batches depends on the seed alone (not on global random state)",
    hint="Give the loader its own torch.Generator().manual_seed(seed) and pass it to torch.randperm.",
    points=2,
    examples=loader_examples(shuffle=True),
    gated=True,
)
def deterministic_for_seed(calls: Calls, example: Example) -> None:
    report = student_report(calls, MAKE_LOADER, spec_of(example, MAKE_LOADER))
    first = _ids(report.passes[0])
    again = _ids(report.again)
    if not np.array_equal(first, again):
        raise PropertyFailure(
            "two loaders made with the same seed gave different orders (the global random generators had "
            "moved on in between)",
            first,
            again,
        )
    if np.array_equal(first, _ids(report.other_seed)):
        raise PropertyFailure("loaders made with different seeds gave the same order: the seed is not used")


@drawn_property(
    function="make_loader",
    says="with shuffle=True, every pass over the loader (every epoch) has a new order",
    hint="Draw a new permutation each time iteration starts (in __iter__), not once when the loader is made.",
    points=1,
    examples=loader_examples(shuffle=True),
    gated=True,
)
def reshuffles_each_epoch(calls: Calls, example: Example) -> None:
    report = student_report(calls, MAKE_LOADER, spec_of(example, MAKE_LOADER))
    first, second = (_ids(p) for p in report.passes)
    if np.array_equal(first, second):
        raise PropertyFailure("with shuffle=True, the second pass came in the same order as the first")


@drawn_property(
    function="make_loader",
    says="the loader yields batches on the requested device, and moves each example there at most once per pass",
    hint="Move x and y to the device once, when the loader is made, and slice the batches from there.",
    points=2,
    examples=loader_examples(),
    gated=True,
    self_reported=True,  # what the device audit saw, as the worker reports it
)
def batches_on_device(calls: Calls, example: Example) -> None:
    report = student_report(calls, MAKE_LOADER, spec_of(example, MAKE_LOADER))
    for one_pass in report.passes:
        wrong = [d for d in one_pass.devices if d != report.requested]
        if wrong:
            raise PropertyFailure(f"the loader yielded a batch on {wrong[0]}, but it was asked for {report.requested}")
    moved, data = report.bytes_moved, report.data_bytes
    if moved > 3 * data:
        raise PropertyFailure(
            f"building the loader and taking two passes moved {moved} bytes for a data set of {data} bytes "
            f"({moved / data:.0f} times the data set: it was moved again for every batch)"
        )


# -- make_mlp -----------------------------------------------------------------------------------------------
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
}


def mlp_examples(activation: st.SearchStrategy[str] | None) -> st.SearchStrategy[Example]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "d_in": st.integers(1, 6),
        "hidden": st.lists(st.integers(1, 8), min_size=0, max_size=3),
        "d_out": st.integers(1, 4),
        "seed": st.integers(0, 999),
    }
    if activation is not None:
        fields["activation"] = activation
    return st.fixed_dictionaries(fields).map(
        lambda drawn: as_example(MlpSpec)({**drawn, "hidden": tuple(drawn["hidden"])})
    )


def _mlp_report(calls: Calls, spec: MlpSpec) -> MlpReport:
    report = student_report(calls, MAKE_MLP, spec)
    if report.error:
        raise PropertyFailure(f"make_mlp raised {report.error}")
    if not report.is_module:
        raise PropertyFailure(f"make_mlp returned a {report.returned_type}, not a torch.nn.Module")
    return report


@drawn_property(
    function="make_mlp",
    says="make_mlp(d_in, hidden, d_out) has linear layers d_in -> hidden[0] -> ... -> d_out",
    hint="One nn.Linear per step between consecutive widths; an empty hidden list is a single linear layer.",
    points=3,
    examples=mlp_examples(st.sampled_from(list(ACTIVATIONS))),
    establishes_correctness=True,  # the contract's layer widths
)
def has_the_requested_layers(calls: Calls, example: Example) -> None:
    spec = spec_of(example, MAKE_MLP)
    report = _mlp_report(calls, spec)
    widths = [spec.d_in, *spec.hidden, spec.d_out]
    want = [(d_out, d_in) for d_in, d_out in zip(widths, widths[1:], strict=False)]
    got = [w.shape for w in report.weights]
    if got != want:
        raise PropertyFailure("the linear layers (weight shapes, out x in, first layer first) are wrong", want, got)
    if any(b is None for b in report.biases):
        raise PropertyFailure("a linear layer has no bias")
    output = report.output
    if output is None or output.shape != (5, spec.d_out):
        shape = None if output is None else output.shape
        raise PropertyFailure(f"a batch of 5 inputs gave an output of shape {shape}", (5, spec.d_out), shape)


def _composes(report: MlpReport, activation: str) -> np.ndarray:
    """The network's output computed here from its linear layers, with ``activation`` between them."""
    weights = list(report.weights)
    biases = [b for b in report.biases if b is not None]
    h = report.probe
    if h is None:
        raise PropertyFailure("the harness's report has no probe")
    for index, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ w.T + b
        if index < len(weights) - 1:
            h = ACTIVATIONS[activation](h)
    return np.asarray(h)


def composes_with_activation(*, name: str, says: str, hint: str, points: float, default: bool) -> Property:
    """``make_mlp``'s output is its own linear layers composed with the activation between them (computed
    here from the weights the harness reports), drawn with the activation named, or left to its ``default``.
    """

    @drawn_property(
        function="make_mlp",
        name=name,
        says=says,
        hint=hint,
        points=points,
        examples=mlp_examples(None if default else st.sampled_from(list(ACTIVATIONS))),
        gated=True,  # checked against the network's own layers: a network with none keeps it
    )
    def test(calls: Calls, example: Example) -> None:
        spec = spec_of(example, MAKE_MLP)
        report = _mlp_report(calls, spec)
        activation = spec.activation or "relu"
        output = report.output
        if output is None:
            raise PropertyFailure("the network's output is not a tensor")
        want = _composes(report, activation)
        if output.shape != want.shape:
            raise PropertyFailure(f"output of shape {output.shape}, expected {want.shape}")
        assert_close(output, want, FLOAT32, f"the output is not the linear layers with {activation} between them")

    return test


@drawn_property(
    function="make_mlp",
    says="make_mlp raises ValueError for an activation other than 'relu', 'sigmoid' or 'tanh'",
    hint="A typo such as 'rleu' should stop the program at once, with a message listing the choices.",
    points=1,
    examples=mlp_examples(st.sampled_from(["swish", "rleu", "ReLU", "gelu"])),
    gated=True,  # a function that always raises ValueError keeps it
)
def rejects_unknown_activation(calls: Calls, example: Example) -> None:
    spec = replace(spec_of(example, MAKE_MLP), expect_error=True)
    report = student_report(calls, MAKE_MLP, spec)
    error = report.error
    if not isinstance(error, str) or not error.startswith("ValueError"):
        raise PropertyFailure(
            f"make_mlp(..., activation={spec.activation!r}) gave "
            f"{error if isinstance(error, str) else 'a network'}, not a ValueError"
        )


@drawn_property(
    function="make_mlp",
    name="agrees_with_reference",
    says="with the global seed fixed, make_mlp initialises exactly as the reference (PyTorch's defaults, in order)",
    hint="Build the layers first to last with nn.Linear's own initialisation: then a seed reproduces a network.",
    points=2,
    public=False,
    examples=mlp_examples(st.sampled_from(list(ACTIVATIONS))),
    needs_reference=True,
    establishes_correctness=True,
)
def mlp_agrees_with_reference(calls: Calls, example: Example) -> None:
    spec = spec_of(example, MAKE_MLP)
    got = _mlp_report(calls, spec)
    want = reference_report(calls, MAKE_MLP, spec)
    same_arrays(got.weights, want.weights, EXACT, "with the same seed, the weights differ")


# -- train_one_epoch ----------------------------------------------------------------------------------------
@drawn_property(
    function="train_one_epoch",
    name="agrees_with_reference",
    says="one epoch from identical weights and batches leaves the reference's parameters (one step, exactly)",
    hint="Per batch, in this order: zero the gradients, forward, loss, backward, step. Call model.train() first.",
    points=3,
    public=False,
    examples=training_examples(),
    needs_reference=True,
    establishes_correctness=True,
)
def epoch_agrees_with_reference(calls: Calls, example: Example) -> None:
    spec = spec_of(example, TRAIN_ONE_EPOCH)
    got = student_report(calls, TRAIN_ONE_EPOCH, spec)
    want = reference_report(calls, TRAIN_ONE_EPOCH, spec)
    same_arrays(
        got.state,
        want.state,
        FLOAT32,
        "after one epoch from the same weights and batches, the parameters differ from the reference's",
    )
    if want.returned is None:
        raise GraderError("the reference's train_one_epoch returned no number")
    returned = got.returned
    if returned is None or not np.isclose(returned, want.returned, rtol=1e-4, atol=1e-6):
        raise PropertyFailure("the returned mean loss differs from the reference's", want.returned, returned)


@drawn_property(
    function="train_one_epoch",
    says="train_one_epoch returns the epoch's mean loss over samples, as a Python float",
    hint="Weight each batch's mean loss by its size: the last batch may be smaller.",
    points=1,
    examples=training_examples(),
    establishes_correctness=True,  # the value returned against the losses of its batches
)
def returns_mean_loss_over_samples(calls: Calls, example: Example) -> None:
    report = student_report(calls, TRAIN_ONE_EPOCH, spec_of(example, TRAIN_ONE_EPOCH))
    losses, sizes = _numbers(report.losses.batch_losses), _numbers(report.losses.batch_sizes)
    if not report.returned_float:
        raise PropertyFailure(f"train_one_epoch returned a {report.returned_type}, not a Python float")
    want = float(np.sum(losses * sizes) / np.sum(sizes))
    got = report.returned
    if got is None or not np.isclose(got, want, rtol=1e-5, atol=1e-7):
        plain = float(np.mean(losses))
        extra = " (that is the mean of the batch means)" if got is not None and np.isclose(got, plain) else ""
        raise PropertyFailure(f"the returned loss is not the mean over samples{extra}", want, got)


@drawn_property(
    function="train_one_epoch",
    says="train_one_epoch puts the model in training mode (dropout and batch norm behave as in training)",
    hint="Call model.train() at the start: evaluate() may have left the model in evaluation mode.",
    points=1,
    examples=training_examples(),
    gated=True,
    self_reported=True,  # what the device audit saw, as the worker reports it
)
def trains_in_train_mode(calls: Calls, example: Example) -> None:
    report = student_report(calls, TRAIN_ONE_EPOCH, spec_of(example, TRAIN_ONE_EPOCH))
    modes = report.forwards.forward_training
    if not modes or not all(modes):
        raise PropertyFailure(
            f"{modes.count(False)} of {len(modes)} forward passes ran in evaluation mode "
            "(the model was handed over in evaluation mode)"
        )


def moves_batches_to_device(
    *, function: str, examples: st.SearchStrategy[Example], harness: HarnessKind[Any, Any], points: float
) -> Property:
    """Every tensor ``function`` hands the model and the loss lay on the device it was asked to use, as the
    harness's device audit saw it (:func:`check_on_device`)."""

    @drawn_property(
        function=function,
        name="moves_batches_to_device",
        says=f"every tensor {function} gives the model and the loss is on the requested device",
        hint="Move each batch with xb.to(device) and yb.to(device): the labels too. Never hard-code .cuda() or 'cpu'.",
        points=points,
        examples=examples,
        gated=True,
        self_reported=True,  # what the device audit saw, as the worker reports it
    )
    def test(calls: Calls, example: Example) -> None:
        report: TrainReport | EvaluateReport | FitReport = student_report(calls, harness, spec_of(example, harness))
        check_on_device(report.audit, function)

    return test


@drawn_property(
    function="train_one_epoch",
    says="train_one_epoch makes the host wait for the device at most once per epoch",
    hint="loss.item() (or float(loss)) waits for the GPU to finish; add up loss.detach() * len(xb) on the device "
    "and call .item() once, at the end.",
    points=1,
    examples=training_examples(),
    gated=True,  # doing nothing keeps it
    self_reported=True,  # what the device audit saw, as the worker reports it
)
def synchronises_once_per_epoch(calls: Calls, example: Example) -> None:
    report = student_report(calls, TRAIN_ONE_EPOCH, spec_of(example, TRAIN_ONE_EPOCH))
    syncs = report.audit.syncs
    batches = len(report.losses.batch_sizes)
    if len(syncs) > 1:
        raise PropertyFailure(
            f"the host waited for the device {len(syncs)} times in an epoch of {batches} batches "
            f"({', '.join(str(s) for s in syncs[:4])}{', ...' if len(syncs) > 4 else ''})"
        )


@drawn_property(
    function="train_one_epoch",
    says="the running loss holds values, not the graphs of earlier batches",
    hint="Accumulate loss.detach() (or its value), not loss itself.",
    points=1,
    examples=training_examples(),
    gated=True,  # doing nothing keeps it
)
def keeps_no_graph_across_batches(calls: Calls, example: Example) -> None:
    report = student_report(calls, TRAIN_ONE_EPOCH, spec_of(example, TRAIN_ONE_EPOCH))
    if report.audit.kept_graphs:
        raise PropertyFailure(
            "a loss that still carries its graph was used in a later batch: every batch's graph stays in "
            "memory until the epoch ends"
        )


@drawn_property(
    function="train_one_epoch",
    says="with amp=True the forward pass runs under autocast to bfloat16, and with amp=False in float32",
    hint="torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp) around forward and loss.",
    points=1,
    examples=training_examples(amp=None),
    gated=True,
)
def amp_autocasts_to_bfloat16(calls: Calls, example: Example) -> None:
    spec = spec_of(example, TRAIN_ONE_EPOCH)
    dtypes = student_report(calls, TRAIN_ONE_EPOCH, spec).forwards.forward_dtypes
    want = "bfloat16" if spec.amp else "float32"
    if not dtypes or any(d != want for d in dtypes):
        raise PropertyFailure(f"with amp={spec.amp}, the model's outputs were {sorted(set(dtypes))}", want)


# Small layers and large batches: the time goes into per-batch work, where a Python loop over samples shows.
EPOCH_TIMED = TrainSpec(
    model=ModelSpec(d_in=16, hidden=(32,), d_out=4, seed=0),
    data=DataSpec(n=8192, batch_size=256, seed=0),
    optimizer=OptimizerSpec(name="sgd", lr=0.05, momentum=0.9),
    seed=0,
)
LOADER_TIMED = LoaderSpec(n=100_000, d=16, batch_size=256, shuffle=True, seed=0)


def as_fast_as_reference(*, function: str, harness: HarnessKind[S, Any], spec: S, hint: str, points: float) -> Property:
    """``function`` run through ``harness`` on one fixed ``spec`` (an epoch, or passes over a loader) takes at
    most three times the reference's time, measured side by side in the worker (autograder.grading.timing)."""
    return Property(
        function=function,
        name="as_fast_as_reference",
        says=f"{function} takes at most 3x the reference's time for an epoch",
        hint=hint,
        points=points,
        public=False,
        timing=Timing(lambda rng: [], max_ratio=3.0, harness=harnessed(harness, spec)),
        needs_reference=True,
    )


# -- evaluate -----------------------------------------------------------------------------------------------
def _returned_pair(report: EvaluateReport) -> tuple[float, float]:
    pair = report.returned
    if pair is None or pair[0] is None or pair[1] is None:
        raise PropertyFailure(f"evaluate returned a {report.returned_type}, not (mean_loss, accuracy)")
    return pair[0], pair[1]


@drawn_property(
    function="evaluate",
    name="agrees_with_reference",
    says="evaluate's (mean_loss, accuracy) agrees with the reference on drawn models",
    hint="Evaluation mode, no graph, the loss averaged over samples, accuracy = correct / samples.",
    points=2,
    public=False,
    examples=evaluation_examples(),
    needs_reference=True,
    establishes_correctness=True,
)
def evaluate_agrees_with_reference(calls: Calls, example: Example) -> None:
    spec = spec_of(example, EVALUATE)
    got = _returned_pair(student_report(calls, EVALUATE, spec))
    want = _returned_pair(reference_report(calls, EVALUATE, spec))
    assert_close(np.array(got), np.array(want), FLOAT32, "(mean_loss, accuracy) differs from the reference's")


@drawn_property(
    function="evaluate",
    says="evaluate returns the mean loss over samples and the fraction of samples classified correctly",
    hint="Weight each batch's loss by its size; count hits with (logits.argmax(dim=1) == yb).sum().",
    points=2,
    examples=evaluation_examples(),
    establishes_correctness=True,  # the values returned against the losses and hits of its batches
)
def mean_loss_and_accuracy(calls: Calls, example: Example) -> None:
    report = student_report(calls, EVALUATE, spec_of(example, EVALUATE))
    loss, accuracy = _returned_pair(report)
    losses, sizes = _numbers(report.losses.batch_losses), _numbers(report.losses.batch_sizes)
    correct = _numbers(report.losses.batch_correct)
    if not len(sizes):
        raise PropertyFailure("evaluate never called the loss")
    want = np.array([np.sum(losses * sizes) / np.sum(sizes), np.sum(correct) / np.sum(sizes)])
    assert_close(
        np.array([loss, accuracy]),
        want,
        FLOAT32,
        "(mean_loss, accuracy) is not the mean loss over samples and the fraction of correct predictions",
    )


@drawn_property(
    function="evaluate",
    says="evaluate leaves every parameter, buffer and .grad as it found them",
    hint="Evaluation only reads the model: no optimizer, no zero_grad, and evaluation mode for batch norm.",
    points=2,
    examples=evaluation_examples(),
    gated=True,  # doing nothing keeps it
    self_reported=True,  # the parameters after the call, as the worker reports them
)
def leaves_model_unchanged(calls: Calls, example: Example) -> None:
    report = student_report(calls, EVALUATE, spec_of(example, EVALUATE))
    same_arrays(
        report.state_after,
        report.state_before,
        EXACT,
        "evaluate changed the model's parameters or buffers (batch norm's running statistics)",
    )
    same_arrays(report.grads_after, report.grads_before, EXACT, "evaluate changed the gradients")


@drawn_property(
    function="evaluate",
    says="evaluate runs without recording a graph (no gradients are tracked)",
    hint="Wrap the loop in torch.no_grad() (or torch.inference_mode()): a graph costs memory and time.",
    points=2,
    examples=evaluation_examples(),
    gated=True,  # doing nothing keeps it
)
def builds_no_graph(calls: Calls, example: Example) -> None:
    report = student_report(calls, EVALUATE, spec_of(example, EVALUATE))
    grad_modes = report.forwards.forward_grad + report.losses.loss_requires_grad
    if any(grad_modes):
        raise PropertyFailure(
            f"{sum(bool(g) for g in grad_modes)} forward passes or losses were recorded for backpropagation"
        )


@drawn_property(
    function="evaluate",
    says="evaluate runs in evaluation mode and gives the model back in the mode it was in",
    hint="Remember model.training, call model.eval(), and afterwards model.train(was_training).",
    points=1,
    examples=evaluation_examples(),
    gated=True,  # doing nothing keeps it
)
def restores_mode(calls: Calls, example: Example) -> None:
    spec = spec_of(example, EVALUATE)
    report = student_report(calls, EVALUATE, spec)
    if report.modes_after != report.modes_before:
        raise PropertyFailure(f"the model was in {spec.mode} mode before evaluate and not after it")
    if any(report.forwards.forward_training):
        raise PropertyFailure("evaluate ran forward passes in training mode (dropout was active)")


# -- fit ----------------------------------------------------------------------------------------------------
DIGITS_EPOCHS = 12  # the reference passes 95% on the validation digits within this budget
DIGITS = FitSpec(data_seed=1, hidden=(128,), lr=3e-3, batch_size=32, epochs=DIGITS_EPOCHS, seed=0)
HISTORY_KEYS = ("train_loss", "val_loss", "val_acc")


OVERFIT = FitSpec(
    noisy=NoisyTask(n=64, d_in=8, classes=3, noise=0.3),
    data_seed=0,
    hidden=(64,),
    lr=1e-2,
    batch_size=16,
    epochs=3,
    patience=None,
    seed=0,
)


def overfit_examples(patience: list[int | None]) -> st.SearchStrategy[Example]:
    """Few examples, a third of them mislabelled: the validation loss falls for a few epochs, then rises.

    Each run trains a network for several epochs, so the examples come from a small set (three seeds, each
    ``patience``), which Hypothesis exhausts quickly.
    """
    drawn = st.fixed_dictionaries(
        {"data_seed": st.sampled_from([0, 1, 2]), "patience": st.sampled_from(patience), "epochs": st.just(10)}
    )
    return drawn.map(lambda d: {"spec": _overfit(d).to_data()})


def _overfit(drawn: dict[str, Any]) -> FitSpec:
    return replace(OVERFIT, **drawn, seed=drawn["data_seed"])


def _history(report: FitReport) -> dict[str, list[float]]:
    history = report.history
    if history is None:
        raise PropertyFailure(f"fit returned a {report.history_type}, not a dict")
    missing = [key for key in HISTORY_KEYS if key not in history]
    if missing:
        raise PropertyFailure(f"the history has no {', '.join(missing)} (keys: {sorted(history)})")
    numbers: dict[str, list[float]] = {}
    for key in HISTORY_KEYS:
        values = history[key]
        if isinstance(values, str) or not all(isinstance(v, (int, float)) for v in values):
            shown = values if isinstance(values, str) else list(values)  # a str is the name of what was returned
            raise PropertyFailure(f"history[{key!r}] is not a list of numbers: {shown!r}"[:300])
        numbers[key] = [float(v) for v in values]
    return numbers


def stopping_length(val_losses: list[float], patience: int | None, epochs: int) -> int:
    """How many epochs fit runs: up to the first epoch ``patience`` epochs after the best so far (strict)."""
    best = 0
    for epoch, loss in enumerate(val_losses):
        if loss < val_losses[best]:
            best = epoch
        elif patience is not None and epoch - best >= patience:
            return epoch + 1
    return epochs


@drawn_property(
    function="fit",
    says=f"fit trains an MLP to at least 95% validation accuracy on digits within {DIGITS_EPOCHS} epochs",
    hint="Each epoch: train_one_epoch on the training loader, then evaluate on the validation loader.",
    points=3,
    examples=st.just({"spec": DIGITS.to_data()}),
    establishes_correctness=True,  # the accuracy the reference reaches
)
def reaches_95_percent_on_digits(calls: Calls, example: Example) -> None:
    accuracy = student_report(calls, FIT, spec_of(example, FIT)).final_val_acc
    if accuracy < 0.95:
        raise PropertyFailure(
            f"after fit's {DIGITS_EPOCHS} epochs the model classifies {accuracy:.1%} of the validation digits "
            "correctly; the reference reaches 95% within that budget",
            0.95,
            accuracy,
        )


@drawn_property(
    function="fit",
    says="fit returns {'train_loss': [...], 'val_loss': [...], 'val_acc': [...]} with one float per epoch",
    hint="Append each epoch's three numbers as Python floats, the same number of times.",
    points=1,
    examples=overfit_examples([None, 2]),
    gated=True,
)
def history_has_every_epoch(calls: Calls, example: Example) -> None:
    report = student_report(calls, FIT, spec_of(example, FIT))
    history = _history(report)
    passes = report.train_passes
    lengths = {key: len(values) for key, values in history.items()}
    if set(lengths.values()) != {passes}:
        raise PropertyFailure(f"fit trained {passes} epochs, but the history's lists have lengths {lengths}")
    if not all(0.0 <= a <= 1.0 for a in history["val_acc"]):
        raise PropertyFailure("val_acc holds values outside [0, 1]: accuracy is a fraction")


@drawn_property(
    function="fit",
    says="with patience, fit stops once the validation loss has not improved for patience epochs, and restores "
    "the best weights",
    hint="Keep a copy of the best state_dict (copy.deepcopy: the live one keeps changing); load it at the end.",
    points=2,
    examples=overfit_examples([1, 2, 3]),
    # Neither establishing nor gated: no trivial function passes it, and stopping right is part of the job.
)
def early_stopping_restores_best(calls: Calls, example: Example) -> None:
    spec = spec_of(example, FIT)
    report = student_report(calls, FIT, spec)
    val_losses = _history(report)["val_loss"]
    if not val_losses:
        raise PropertyFailure("fit ran no epochs")
    want = stopping_length(val_losses, spec.patience, spec.epochs)
    if len(val_losses) != want:
        raise PropertyFailure(
            f"with patience={spec.patience} and these validation losses fit should have run {want} "
            f"epochs, and it ran {len(val_losses)}: {np.round(val_losses, 4).tolist()}",
            want,
            len(val_losses),
        )
    best = min(val_losses)
    final = report.final_val_loss
    if not np.isclose(final, best, rtol=1e-4, atol=1e-6):
        raise PropertyFailure(
            f"the model fit returned has validation loss {final:.6f}, not the best epoch's {best:.6f}: "
            "the best weights were not restored",
            best,
            final,
        )


@drawn_property(
    function="fit",
    name="agrees_with_reference",
    says="fit's history and final weights agree with the reference's from the same start",
    hint="One train_one_epoch and one evaluate per epoch, in that order; nothing else draws random numbers.",
    points=2,
    public=False,
    examples=overfit_examples([None, 2]),
    needs_reference=True,
    establishes_correctness=True,
)
def fit_agrees_with_reference(calls: Calls, example: Example) -> None:
    spec = spec_of(example, FIT)
    got_report = student_report(calls, FIT, spec)
    want_report = reference_report(calls, FIT, spec)
    got, want = _history(got_report), _history(want_report)
    for key in HISTORY_KEYS:
        if len(got[key]) != len(want[key]):
            raise PropertyFailure(f"history[{key!r}] has {len(got[key])} epochs", len(want[key]), len(got[key]))
        assert_close(np.array(got[key]), np.array(want[key]), FLOAT32, f"history[{key!r}] differs")
    same_arrays(got_report.state, want_report.state, FLOAT32, "the final parameters differ")


@drawn_property(
    function="fit",
    says="fit shows a progress bar over epochs with progress=True, and none with progress=False",
    hint="course_lib.training.epoch_bar(epochs, enabled=progress) is a range with a bar you can switch off.",
    points=1,
    examples=st.just({"spec": OVERFIT.to_data()}),
    gated=True,
)
def shows_progress_bar(calls: Calls, example: Example) -> None:
    spec = spec_of(example, FIT)
    if not student_report(calls, FIT, replace(spec, progress=True)).stderr.strip():
        raise PropertyFailure("with progress=True nothing was shown (a progress bar writes to stderr)")
    hidden = student_report(calls, FIT, replace(spec, progress=False))
    if hidden.stderr.strip():
        raise PropertyFailure(f"with progress=False fit still wrote to stderr: {hidden.stderr[:200]!r}")


PROPERTIES: tuple[Property, ...] = (
    # get_device
    honours_prefer,
    prefers_cuda_then_mps_then_cpu,
    fails_clearly_when_unavailable,
    # make_loader
    covers_each_example_once,
    deterministic_for_seed,
    reshuffles_each_epoch,
    batches_on_device,
    as_fast_as_reference(
        function="make_loader",
        harness=TIMED_LOADER,
        spec=LOADER_TIMED,
        hint="Index whole tensors on the device with a permutation; a Python loop over single examples (a "
        "DataLoader over a TensorDataset does one) is far slower.",
        points=2,
    ),
    # make_mlp
    has_the_requested_layers,
    composes_with_activation(
        name="activation_between_layers",
        says="make_mlp puts the chosen activation between linear layers, and none after the last",
        hint="The last layer gives logits: CrossEntropyLoss applies the softmax itself.",
        points=3,
        default=False,
    ),
    composes_with_activation(
        name="relu_by_default",
        says="make_mlp uses ReLU when no activation is given",
        hint="Give the activation parameter the default 'relu'.",
        points=1,
        default=True,
    ),
    rejects_unknown_activation,
    mlp_agrees_with_reference,
    # train_one_epoch
    epoch_agrees_with_reference,
    returns_mean_loss_over_samples,
    trains_in_train_mode,
    moves_batches_to_device(
        function="train_one_epoch", examples=training_examples(), harness=TRAIN_ONE_EPOCH, points=1
    ),
    synchronises_once_per_epoch,
    keeps_no_graph_across_batches,
    amp_autocasts_to_bfloat16,
    as_fast_as_reference(
        function="train_one_epoch",
        harness=TIMED_EPOCH,
        spec=EPOCH_TIMED,
        hint="One forward and one backward per mini-batch: "
        "a Python loop over the examples of a batch is many times slower.",
        points=1,
    ),
    # evaluate
    evaluate_agrees_with_reference,
    mean_loss_and_accuracy,
    leaves_model_unchanged,
    builds_no_graph,
    restores_mode,
    moves_batches_to_device(function="evaluate", examples=evaluation_examples(), harness=EVALUATE, points=1),
    # fit
    reaches_95_percent_on_digits,
    history_has_every_epoch,
    early_stopping_restores_best,
    fit_agrees_with_reference,
    moves_batches_to_device(function="fit", examples=st.just({"spec": OVERFIT.to_data()}), harness=FIT, points=1),
    shows_progress_bar,
)

ASSIGNMENT = Assignment(
    id="05_training_loop",
    notebook="training_loop.ipynb",
    properties=PROPERTIES,
    preload=(
        "numpy",
        "torch",
        "torch._dynamo",  # the optimizers import it on their first step: seconds, paid once here
        "sklearn.datasets",
        "matplotlib",
        "matplotlib.pyplot",
        "tqdm.auto",
        "course_lib.training",
        "autograder.sandbox.torch_harness",
    ),
    function_seconds=300.0,
    call_seconds=60.0,
    max_examples=8,
    dtypes=dict.fromkeys((p.function for p in PROPERTIES), "torch"),
)
