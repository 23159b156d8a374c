"""What crosses the trust boundary for the PyTorch harnesses: typed specs out, typed reports back.

A property of ``05_training_loop`` sends a worker a *spec* (what to build: a model, data, an optimizer)
and the worker's harness (:mod:`autograder.sandbox.torch_harness`) sends back a *report* (what it saw the
student's function do). Both travel as plain dicts of numbers, strings, lists and arrays over the wire
format of :mod:`autograder.sandbox.protocol`; on each side they are the frozen, keyword-only dataclasses
of this module, read by attribute and never by string key.

``to_data()`` writes a dataclass as that plain dict (every field, always: tuples as lists, nested
dataclasses as dicts). ``from_data(data)`` reads one back and is the only place a dict becomes a
dataclass, so it validates once, where the data arrives: the exact key set (none missing, none extra),
the exact type of each value (``True`` is not an ``int``, ``1`` is not a ``float``, a ``str`` is not a
number), finite floats unless a field says a student's code may honestly make them NaN, numbers within a
field's bounds, strings of at most :data:`MAX_TEXT` characters, lists of at most :data:`MAX_ITEMS` items,
dicts of at most :data:`MAX_KEYS` keys, and arrays that are plain numeric ``ndarray`` objects of the
dimension a field names. Anything else raises :class:`MalformedData`, whose ``where`` names the field
(``TrainReport.audit.syncs[3]``). A report comes from the student's process, so on the grader's side a
malformed one means that process was patched to lie: the grader gives the verdict ``forbidden``, as for
any other malformed answer (:mod:`autograder.sandbox.launcher`).

The harness itself keeps to these limits (it caps what student code can make long: the syncs it counts,
the names of the types it returns), so an honest worker never sends a report that is refused.

This module imports only the standard library and NumPy: the grader reads reports without PyTorch.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Generic, Literal, TypeVar

import numpy as np

MAX_TEXT = 4000  # characters in any string: an error message, a type's name, a device
MAX_ITEMS = 1 << 16  # items in any list: batches, forward passes, host syncs
MAX_KEYS = 64  # keys in a dict a student's code returned (fit's history)
MAX_INT = (1 << 63) - 1
MAX_DIMENSIONS = 8
_ARRAY_KINDS = "biufc"  # booleans, integers, floats, complex numbers: what a tensor's numpy() can be


class MalformedData(ValueError):
    """A spec or report that is not what its dataclass says; ``where`` names the field."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def limits(
    *, nonfinite: bool = False, at_least: float | None = None, at_most: float | None = None, ndim: int | None = None
) -> dict[str, Any]:
    """A field's checks beyond its type, for ``dataclasses.field(metadata=...)``.

    ``nonfinite``: NaN and infinities are honest values here (a loss of a diverging network). ``at_least``,
    ``at_most``: bounds of a number. ``ndim``: the dimension of an array. They apply to every number or
    array inside the field (each item of a list).
    """
    return {"nonfinite": nonfinite, "at_least": at_least, "at_most": at_most, "ndim": ndim}


W = TypeVar("W", bound="Wire")


@dataclass(frozen=True, kw_only=True)
class Wire:
    """A dataclass that travels as a plain dict (see the module's docstring)."""

    def to_data(self) -> dict[str, Any]:
        """Every field as plain data: nested dataclasses as dicts, tuples as lists."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_data(cls: type[W], data: Any, where: str | None = None) -> W:
        """The dataclass ``data`` describes, after checking all of it; :class:`MalformedData` if it is not one."""
        where = where or cls.__name__
        if type(data) is not dict:
            raise MalformedData(where, f"expected a dict, got {_kind(data)}")
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in data]
        if missing:
            raise MalformedData(f"{where}.{missing[0]}", "missing")
        extra = sorted(repr(key)[:60] for key in data if key not in names)
        if extra:
            raise MalformedData(where, f"unexpected key {extra[0]}")
        hints = _hints(cls)
        values = {f.name: _checked(data[f.name], hints[f.name], f"{where}.{f.name}", f.metadata) for f in fields(cls)}
        return cls(**values)


_HINTS: dict[type[Wire], dict[str, Any]] = {}


def _hints(cls: type[Wire]) -> dict[str, Any]:
    """The fields' types, resolved once per class."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _plain(value: Any) -> Any:
    if isinstance(value, Wire):
        return value.to_data()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _kind(value: Any) -> str:
    return type(value).__name__


def _checked(value: Any, hint: Any, where: str, checks: typing.Mapping[str, Any]) -> Any:
    """``value`` if it is of type ``hint`` within ``checks`` (lists become tuples); else :class:`MalformedData`."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        choices = [a for a in arguments if a is not type(None)]
        if len(choices) == 1:
            return _checked(value, choices[0], where, checks)
        for choice in choices:
            try:
                return _checked(value, choice, where, checks)
            except MalformedData:
                continue
        raise MalformedData(where, f"expected {_describe(hint)}, got {_kind(value)}")
    if origin is Literal:
        if not any(type(value) is type(a) and value == a for a in arguments):
            raise MalformedData(where, f"expected one of {list(arguments)}, got {str(value)[:60]!r}")
        return value
    if origin is tuple:
        return _items(value, arguments, where, checks)
    if origin is dict:
        return _mapping(value, arguments[1], where, checks)
    if isinstance(hint, type) and issubclass(hint, Wire):
        return hint.from_data(value, where)
    if hint is np.ndarray:
        return _array(value, where, checks)
    if hint in (bool, int, float, str):
        return _scalar(value, hint, where, checks)
    raise TypeError(f"{where}: no check for {hint!r}")  # a dataclass of this module uses a type it cannot check


def _scalar(data: Any, hint: type, where: str, checks: typing.Mapping[str, Any]) -> Any:
    if type(data) is not hint:  # exactly: a bool is not an int, an int is not a float
        raise MalformedData(where, f"expected {hint.__name__}, got {_kind(data)}")
    value: Any = data
    if hint is str:
        if len(value) > MAX_TEXT:
            raise MalformedData(where, f"a string of {len(value)} characters (at most {MAX_TEXT})")
        return value
    if hint is int and abs(value) > MAX_INT:
        raise MalformedData(where, "an integer out of range")
    if hint is float and not checks.get("nonfinite") and not math.isfinite(value):
        raise MalformedData(where, f"expected a finite number, got {value}")
    low, high = checks.get("at_least"), checks.get("at_most")
    if hint is not bool and ((low is not None and value < low) or (high is not None and value > high)):
        raise MalformedData(where, f"{value} is outside [{low}, {high}]")
    return value


def _items(value: Any, arguments: tuple[Any, ...], where: str, checks: typing.Mapping[str, Any]) -> tuple[Any, ...]:
    """A list as a tuple: ``tuple[X, ...]`` of at most :data:`MAX_ITEMS` items, or ``tuple[X, Y]`` exactly."""
    if type(value) is not list:
        raise MalformedData(where, f"expected a list, got {_kind(value)}")
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        if len(value) > MAX_ITEMS:
            raise MalformedData(where, f"a list of {len(value)} items (at most {MAX_ITEMS})")
        hints = [arguments[0]] * len(value)
    else:
        if len(value) != len(arguments):
            raise MalformedData(where, f"a list of {len(value)} items (exactly {len(arguments)})")
        hints = list(arguments)
    return tuple(
        _checked(item, hint, f"{where}[{index}]", checks)
        for index, (item, hint) in enumerate(zip(value, hints, strict=True))
    )


def _mapping(value: Any, hint: Any, where: str, checks: typing.Mapping[str, Any]) -> dict[str, Any]:
    if type(value) is not dict:
        raise MalformedData(where, f"expected a dict, got {_kind(value)}")
    if len(value) > MAX_KEYS:
        raise MalformedData(where, f"a dict of {len(value)} keys (at most {MAX_KEYS})")
    checked: dict[str, Any] = {}
    for key, item in value.items():
        _scalar(key, str, f"{where} (a key)", {})
        checked[key] = _checked(item, hint, f"{where}[{key[:60]!r}]", checks)
    return checked


def _array(value: Any, where: str, checks: typing.Mapping[str, Any]) -> np.ndarray:
    if type(value) is not np.ndarray:
        raise MalformedData(where, f"expected an array, got {_kind(value)}")
    if value.dtype.kind not in _ARRAY_KINDS or value.dtype.fields is not None:
        raise MalformedData(where, f"an array of dtype {value.dtype} (only numbers)")
    ndim = checks.get("ndim")
    if value.ndim > MAX_DIMENSIONS or (ndim is not None and value.ndim != ndim):
        raise MalformedData(where, f"an array of {value.ndim} dimensions (expected {ndim or f'<= {MAX_DIMENSIONS}'})")
    return value


def _describe(hint: Any) -> str:
    names = [getattr(a, "__name__", str(a)) for a in typing.get_args(hint) if a is not type(None)]
    return " or ".join(names)


# -- specs: what a property asks a harness to build ----------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ModelSpec(Wire):
    """An MLP ``d_in -> hidden... -> d_out`` with ReLU, optional BatchNorm and Dropout, seeded."""

    d_in: int = field(metadata=limits(at_least=1, at_most=1 << 12))
    hidden: tuple[int, ...] = field(metadata=limits(at_least=1, at_most=1 << 12))
    d_out: int = field(metadata=limits(at_least=1, at_most=1 << 12))
    dropout: float = field(default=0.0, metadata=limits(at_least=0.0, at_most=1.0))
    batchnorm: bool = False
    seed: int


@dataclass(frozen=True, kw_only=True)
class DataSpec(Wire):
    """``n`` standard normal inputs with uniform labels, in batches of ``batch_size``, seeded."""

    n: int = field(metadata=limits(at_least=1, at_most=1 << 20))
    batch_size: int = field(metadata=limits(at_least=1))
    seed: int


@dataclass(frozen=True, kw_only=True)
class OptimizerSpec(Wire):
    name: Literal["sgd", "adam"]
    lr: float = field(metadata=limits(at_least=0.0))
    momentum: float = field(default=0.0, metadata=limits(at_least=0.0, at_most=1.0))


@dataclass(frozen=True, kw_only=True)
class TrainSpec(Wire):
    """One epoch of ``train_one_epoch`` (and the timed epoch, which ignores ``amp`` and ``device``).

    ``device``: the device student code is asked to use; ``None`` is the audit's ``cpu:0``.
    """

    model: ModelSpec
    data: DataSpec
    optimizer: OptimizerSpec
    amp: bool = False
    seed: int
    device: str | None = None


@dataclass(frozen=True, kw_only=True)
class EvaluateSpec(Wire):
    """``evaluate`` on a seeded model handed over in ``mode``."""

    model: ModelSpec
    data: DataSpec
    mode: Literal["train", "eval"]
    seed: int
    device: str | None = None


@dataclass(frozen=True, kw_only=True)
class LoaderSpec(Wire):
    """``make_loader`` over ``n`` rows of ``d`` columns that name themselves (and the timed loader)."""

    n: int = field(metadata=limits(at_least=1, at_most=1 << 20))
    d: int = field(metadata=limits(at_least=1, at_most=1 << 10))
    batch_size: int = field(metadata=limits(at_least=1))
    shuffle: bool
    seed: int
    device: str | None = None


@dataclass(frozen=True, kw_only=True)
class MlpSpec(Wire):
    """``make_mlp(d_in, hidden, d_out[, activation])`` with the global seed fixed.

    ``activation``: ``None`` leaves the argument out. ``expect_error``: an exception is then an answer.
    """

    d_in: int = field(metadata=limits(at_least=1, at_most=1 << 12))
    hidden: tuple[int, ...] = field(metadata=limits(at_least=1, at_most=1 << 12))
    d_out: int = field(metadata=limits(at_least=1, at_most=1 << 12))
    seed: int
    activation: str | None = None
    expect_error: bool = False


@dataclass(frozen=True, kw_only=True)
class DeviceSpec(Wire):
    """``get_device(prefer)`` on a machine with (or without) CUDA and MPS.

    ``passes_prefer``: ``get_device(prefer)`` rather than ``get_device()``; ``as_device``: ``prefer`` given as a
    ``torch.device`` rather than a string; ``expect_error``: the device is missing, and an exception an answer.
    """

    cuda: bool
    mps: bool
    prefer: str | None = None
    passes_prefer: bool = False
    as_device: bool = False
    expect_error: bool = False


@dataclass(frozen=True, kw_only=True)
class NoisyTask(Wire):
    """``n`` examples labelled by a random linear rule, a fraction ``noise`` of them relabelled at random."""

    n: int = field(metadata=limits(at_least=1, at_most=1 << 16))
    d_in: int = field(metadata=limits(at_least=1, at_most=1 << 10))
    classes: int = field(metadata=limits(at_least=2, at_most=1 << 10))
    noise: float = field(metadata=limits(at_least=0.0, at_most=1.0))


@dataclass(frozen=True, kw_only=True)
class FitSpec(Wire):
    """``fit`` on scikit-learn's digits (``noisy`` is ``None``) or on a noisy task that overfits.

    ``patience``: ``None`` leaves the argument out. ``progress``: the value of ``fit``'s ``progress``.
    """

    noisy: NoisyTask | None = None
    data_seed: int
    hidden: tuple[int, ...] = field(metadata=limits(at_least=1, at_most=1 << 12))
    lr: float = field(metadata=limits(at_least=0.0))
    batch_size: int = field(metadata=limits(at_least=1))
    epochs: int = field(metadata=limits(at_least=0, at_most=1000))
    patience: int | None = None
    progress: bool = False
    seed: int
    device: str | None = None


# -- reports: what a harness saw, sent back from the student's process ---------------------------------------
@dataclass(frozen=True, kw_only=True)
class AuditReport(Wire):
    """What the device audit saw: where the model's and the loss's inputs lived, bytes moved, host syncs.

    ``requested`` is the device student code was asked to use; ``syncs`` names each call that made the host
    wait; ``kept_graphs`` counts uses of an earlier batch's loss, graph and all, in a later batch's graph.
    """

    requested: str
    model_inputs: tuple[str, ...]
    loss_inputs: tuple[str, ...]
    bytes_moved: int = field(metadata=limits(at_least=0))
    syncs: tuple[str, ...]
    kept_graphs: int = field(metadata=limits(at_least=0))


@dataclass(frozen=True, kw_only=True)
class LossRecord(Wire):
    """Each call of the harness's loss: the batch's mean loss, its size, its correct predictions, its grad mode."""

    batch_losses: tuple[float, ...] = field(metadata=limits(nonfinite=True))  # a diverging network's are NaN
    batch_sizes: tuple[int, ...] = field(metadata=limits(at_least=0))
    batch_correct: tuple[int, ...] = field(metadata=limits(at_least=0))
    loss_requires_grad: tuple[bool, ...]


@dataclass(frozen=True, kw_only=True)
class ForwardLog(Wire):
    """Each forward pass of the model: its training mode, whether grad was enabled, its outputs' dtypes."""

    forward_training: tuple[bool, ...]
    forward_grad: tuple[bool, ...]
    forward_dtypes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class TrainReport(Wire):
    """One audited epoch: the returned loss (``None`` if not a number), the parameters after, what was seen."""

    returned: float | None = field(metadata=limits(nonfinite=True))
    returned_type: str
    returned_float: bool
    state: tuple[np.ndarray, ...]
    losses: LossRecord
    forwards: ForwardLog
    audit: AuditReport


@dataclass(frozen=True, kw_only=True)
class EvaluateReport(Wire):
    """An audited ``evaluate``: the returned pair (``None`` unless a pair), the model before and after."""

    returned: tuple[float | None, float | None] | None = field(metadata=limits(nonfinite=True))
    returned_type: str
    state_before: tuple[np.ndarray, ...]
    grads_before: tuple[np.ndarray | None, ...]
    modes_before: tuple[bool, ...]
    state_after: tuple[np.ndarray, ...]
    grads_after: tuple[np.ndarray | None, ...]
    modes_after: tuple[bool, ...]
    losses: LossRecord
    forwards: ForwardLog
    audit: AuditReport


@dataclass(frozen=True, kw_only=True)
class LoaderPass(Wire):
    """One pass over a loader: the rows ``(rows, d)`` and labels ``(rows,)`` in order, batch sizes, places, dtypes."""

    x: np.ndarray = field(metadata=limits(ndim=2, nonfinite=True))
    y: np.ndarray = field(metadata=limits(ndim=1, nonfinite=True))
    sizes: tuple[int, ...] = field(metadata=limits(at_least=0))
    devices: tuple[str, ...]
    dtypes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class LoaderReport(Wire):
    """The data ``x (n, d)``, ``y (n,)``, two passes, a loader with the same seed, one with another seed."""

    x: np.ndarray = field(metadata=limits(ndim=2))
    y: np.ndarray = field(metadata=limits(ndim=1))
    passes: tuple[LoaderPass, LoaderPass]
    again: LoaderPass
    other_seed: LoaderPass
    bytes_moved: int = field(metadata=limits(at_least=0))
    data_bytes: int = field(metadata=limits(at_least=0))
    syncs: tuple[str, ...]
    requested: str


@dataclass(frozen=True, kw_only=True)
class MlpReport(Wire):
    """The network ``make_mlp`` built: its leaf modules, linear layers (out x in), output on ``probe (5, d_in)``.

    ``error``: what it raised, where an exception is an answer; ``is_module``: it returned an ``nn.Module``.
    """

    error: str | None = None
    returned_type: str = ""
    is_module: bool = False
    modules: tuple[str, ...] = ()
    weights: tuple[np.ndarray, ...] = field(default=(), metadata=limits(ndim=2, nonfinite=True))
    biases: tuple[np.ndarray | None, ...] = field(default=(), metadata=limits(nonfinite=True))
    probe: np.ndarray | None = field(default=None, metadata=limits(ndim=2))
    output: np.ndarray | None = field(default=None, metadata=limits(nonfinite=True))


@dataclass(frozen=True, kw_only=True)
class DeviceReport(Wire):
    """What ``get_device`` returned (its type's name, and the device as text) or, where that is an answer, raised."""

    error: str | None = None
    returned_type: str | None = None
    device: str | None = None


History = dict[str, tuple[float | int | str, ...] | str]


@dataclass(frozen=True, kw_only=True)
class FitReport(Wire):
    """An audited ``fit``: the history as returned, the final model's validation loss and accuracy measured by
    the harness, its parameters, the passes over the training loader, what ``fit`` printed, what was seen.

    ``history``: ``None`` unless a dict; each entry a list of numbers (type names for what is not one) or the
    name of its type.
    """

    history: History | None = field(metadata=limits(nonfinite=True))
    history_type: str
    final_val_loss: float = field(metadata=limits(nonfinite=True))
    final_val_acc: float = field(metadata=limits(at_least=0.0, at_most=1.0))
    state: tuple[np.ndarray, ...]
    train_passes: int = field(metadata=limits(at_least=0))
    stderr: str
    stdout: str
    audit: AuditReport


S = TypeVar("S", bound=Wire)
R = TypeVar("R", bound=Wire)


@dataclass(frozen=True)
class HarnessKind(Generic[S, R]):
    """A harness by name: the type of the spec it takes and of the report it sends back (``None``: nothing)."""

    name: str
    spec: type[S]
    report: type[R] | None


GET_DEVICE = HarnessKind("get_device", DeviceSpec, DeviceReport)
MAKE_LOADER = HarnessKind("make_loader", LoaderSpec, LoaderReport)
MAKE_MLP = HarnessKind("make_mlp", MlpSpec, MlpReport)
TRAIN_ONE_EPOCH = HarnessKind("train_one_epoch", TrainSpec, TrainReport)
EVALUATE = HarnessKind("evaluate", EvaluateSpec, EvaluateReport)
FIT = HarnessKind("fit", FitSpec, FitReport)
TIMED_EPOCH = HarnessKind[TrainSpec, Wire]("timed_epoch", TrainSpec, None)
TIMED_LOADER = HarnessKind[LoaderSpec, Wire]("timed_loader", LoaderSpec, None)
KINDS: dict[str, HarnessKind[Any, Any]] = {
    kind.name: kind
    for kind in (GET_DEVICE, MAKE_LOADER, MAKE_MLP, TRAIN_ONE_EPOCH, EVALUATE, FIT, TIMED_EPOCH, TIMED_LOADER)
}
