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

A sibling call that :mod:`autograder.sandbox.torch_harness` carries from a student's ``fit`` to the reference's
``train_one_epoch`` (its model, loaders, optimizers and losses as what rebuilds them) is a :class:`CarriedCall`,
and the reference's answer a :class:`CarriedAnswer`; the call is built in the student's process and read by the
reference's worker, where a malformed one fails the call before anything is built.

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
        made = cls(**values)
        made.check(where)
        return made

    def check(self, where: str) -> None:
        """What no single field's type says (how fields fit together); :class:`MalformedData` if they do not.

        Runs in :meth:`from_data` once every field has been read; a dataclass with such rules overrides it.
        """


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
                if choice is type(value):  # of this type, and out of its bounds: say so
                    raise
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


# -- carried sibling calls: train_one_epoch or evaluate called from a student's fit, run by the reference --------
# The call is built in the student's worker (hostile data: it reaches a reference worker through the grader) and
# the answer in the reference's worker; :mod:`autograder.sandbox.torch_harness` (``carry``, ``sibling_harness``)
# builds and reads them, and each is read with ``from_data`` once, where it arrives.
MAX_LAYERS = 64  # layers of a carried model
MAX_ELEMENTS = 1 << 24  # numbers a carried model's parameters, or a carried loader's tensors, may hold
MAX_RNG_BYTES = 1 << 14  # the CPU generator's state is 5056 bytes
MAX_DEPTH = 10  # nesting of a carried return value
Plain = bool | int | float | str | None
Setting = bool | int | float | str | None | tuple[int | float, ...]  # a hyperparameter (Adam's betas: a pair)
# The layers a carried model may hold, with the type of each constructor argument that rebuilds one (every
# number among them is a size, a probability or a constant that is never negative).
LAYER_SETTINGS: dict[str, dict[str, Any]] = {
    "Linear": {"in_features": int, "out_features": int, "bias": bool},
    "BatchNorm1d": {
        "num_features": int,
        "eps": float,
        "momentum": float | None,
        "affine": bool,
        "track_running_stats": bool,
    },
    "Dropout": {"p": float, "inplace": bool},
    "ReLU": {"inplace": bool},
    "Tanh": {},
    "Sigmoid": {},
}
LAYER_LIMITS = limits(at_least=0)
OPTIMIZER_TYPES = ("Adam", "AdamW", "SGD")


def _rng_state(rng: np.ndarray, where: str) -> None:
    """A generator's state: bytes (``uint8``), at most :data:`MAX_RNG_BYTES` of them."""
    if rng.dtype != np.uint8 or rng.size > MAX_RNG_BYTES:
        raise MalformedData(where, f"a generator state of {rng.size} {rng.dtype} (at most {MAX_RNG_BYTES} uint8)")


@dataclass(frozen=True, kw_only=True)
class CarriedLayer(Wire):
    """One layer of a carried model: its type (a key of :data:`LAYER_SETTINGS`) and exactly its settings."""

    type: str
    settings: dict[str, bool | int | float | None] = field(metadata=LAYER_LIMITS)

    def check(self, where: str) -> None:
        if self.type not in LAYER_SETTINGS:
            raise MalformedData(f"{where}.type", f"a {self.type[:60]!r} layer (only {', '.join(LAYER_SETTINGS)})")
        hints = LAYER_SETTINGS[self.type]
        if set(self.settings) != set(hints):
            raise MalformedData(f"{where}.settings", f"the settings of a {self.type} are {sorted(hints)}")
        for name, hint in hints.items():
            _checked(self.settings[name], hint, f"{where}.settings[{name!r}]", LAYER_LIMITS)

    def elements(self) -> int:
        """How many numbers the rebuilt layer's parameters and buffers hold."""
        if self.type == "Linear":
            return (int(self.settings["in_features"] or 0) + 1) * int(self.settings["out_features"] or 0)
        if self.type == "BatchNorm1d":
            return 4 * int(self.settings["num_features"] or 0)
        return 0


@dataclass(frozen=True, kw_only=True)
class ModelState(Wire):
    """What changes as a model trains: its ``state_dict`` (names, arrays), each parameter's gradient, each
    module's training mode (``model.modules()`` order)."""

    keys: tuple[str, ...]
    state: tuple[np.ndarray, ...] = field(metadata=limits(nonfinite=True))
    grads: tuple[np.ndarray | None, ...] = field(metadata=limits(nonfinite=True))
    modes: tuple[bool, ...]

    def check(self, where: str) -> None:
        if len(self.keys) != len(self.state):
            raise MalformedData(f"{where}.state", f"{len(self.state)} arrays for {len(self.keys)} keys")


@dataclass(frozen=True, kw_only=True)
class CarriedModel(Wire):
    """A flat ``nn.Sequential`` of known layers, the device of its parameters, which need gradients, its state."""

    layers: tuple[CarriedLayer, ...]
    device: str
    requires_grad: tuple[bool, ...]
    state: ModelState

    def check(self, where: str) -> None:
        if len(self.layers) > MAX_LAYERS:
            raise MalformedData(f"{where}.layers", f"{len(self.layers)} layers (at most {MAX_LAYERS})")
        if sum(layer.elements() for layer in self.layers) > MAX_ELEMENTS:
            raise MalformedData(f"{where}.layers", f"a model of more than {MAX_ELEMENTS} numbers")


@dataclass(frozen=True, kw_only=True)
class CarriedItem(Wire):
    """One argument of the call: a plain value, a device by name, or the index of a carried object of ``kind``
    (the model is object 0; loaders, optimizers and losses index the call's lists of them)."""

    kind: Literal["plain", "device", "model", "loader", "optimizer", "loss"]
    value: Plain = field(metadata=limits(nonfinite=True))

    def check(self, where: str) -> None:
        if self.kind == "device" and type(self.value) is not str:
            raise MalformedData(f"{where}.value", f"a device named by a {_kind(self.value)}")
        if self.kind not in ("plain", "device") and (type(self.value) is not int or self.value < 0):
            raise MalformedData(f"{where}.value", f"{str(self.value)[:60]} is not the index of a {self.kind}")


@dataclass(frozen=True, kw_only=True)
class CarriedLoader(Wire):
    """A harness's loader: its tensors ``x (n, ...)``, ``y (n, ...)`` and batch size."""

    x: np.ndarray = field(metadata=limits(nonfinite=True))
    y: np.ndarray = field(metadata=limits(nonfinite=True))
    batch: int = field(metadata=limits(at_least=1))

    def check(self, where: str) -> None:
        if self.x.ndim < 1 or self.y.ndim < 1:
            raise MalformedData(where, "a loader over a scalar")
        if self.x.size + self.y.size > MAX_ELEMENTS:
            raise MalformedData(where, f"a loader of {self.x.size + self.y.size} numbers (at most {MAX_ELEMENTS})")


@dataclass(frozen=True, kw_only=True)
class ParameterState(Wire):
    """An optimizer's state for one parameter (its index in the optimizer's ``state_dict``)."""

    index: int = field(metadata=limits(at_least=0))
    entries: dict[str, np.ndarray | Setting] = field(metadata=limits(nonfinite=True))


@dataclass(frozen=True, kw_only=True)
class OptimizerState(Wire):
    """An optimizer's ``state_dict``: each parameter's state, and each group's settings and ``params``."""

    state: tuple[ParameterState, ...]
    param_groups: tuple[dict[str, Setting], ...]


@dataclass(frozen=True, kw_only=True)
class CarriedOptimizer(Wire):
    """An optimizer of a type in :data:`OPTIMIZER_TYPES` over the call's model: each group's parameters as indices
    into ``model.parameters()``, and its state."""

    type: str
    groups: tuple[tuple[int, ...], ...] = field(metadata=limits(at_least=0))
    state: OptimizerState

    def check(self, where: str) -> None:
        if self.type not in OPTIMIZER_TYPES:
            raise MalformedData(f"{where}.type", f"an optimizer {self.type[:60]!r} (only {', '.join(OPTIMIZER_TYPES)})")
        if len(self.groups) != len(self.state.param_groups):
            raise MalformedData(f"{where}.groups", f"{len(self.groups)} groups for {len(self.state.param_groups)}")


@dataclass(frozen=True, kw_only=True)
class CarriedLoss(Wire):
    """The harness's audited loss, or a plain ``nn.CrossEntropyLoss`` with these settings (``audited``: defaults)."""

    type: Literal["audited", "cross_entropy"]
    ignore_index: int = -100
    reduction: Literal["mean", "sum", "none"] = "mean"
    label_smoothing: float = field(default=0.0, metadata=limits(at_least=0.0, at_most=1.0))


@dataclass(frozen=True, kw_only=True)
class CallAudit(Wire):
    """The audit watching the call: the device asked for, and the batch its loader last yielded."""

    requested: str
    batch: int = field(metadata=limits(at_least=-1))


@dataclass(frozen=True, kw_only=True)
class CarriedCall(Wire):
    """A call of a sibling with PyTorch objects, as what rebuilds them: the model, loaders, optimizers and losses
    its arguments refer to, the global generator's state, the grad mode, the audit watching it (if any)."""

    model: CarriedModel | None
    args: tuple[CarriedItem, ...]
    kwargs: dict[str, CarriedItem]
    loaders: tuple[CarriedLoader, ...]
    optimizers: tuple[CarriedOptimizer, ...]
    losses: tuple[CarriedLoss, ...]
    rng: np.ndarray = field(metadata=limits(ndim=1))
    grad_enabled: bool
    audit: CallAudit | None

    def check(self, where: str) -> None:
        _rng_state(self.rng, f"{where}.rng")
        counts = {
            "model": 0 if self.model is None else 1,
            "loader": len(self.loaders),
            "optimizer": len(self.optimizers),
            "loss": len(self.losses),
        }
        items = [(f"args[{i}]", item) for i, item in enumerate(self.args)]
        items += [(f"kwargs[{key[:60]!r}]", item) for key, item in self.kwargs.items()]
        for name, item in items:
            if item.kind in counts and int(item.value or 0) >= counts[item.kind]:
                raise MalformedData(f"{where}.{name}", f"{item.kind} {item.value} of {counts[item.kind]}")
        parameters = 0 if self.model is None else len(self.model.requires_grad)
        for index, optimizer in enumerate(self.optimizers):
            if any(i >= parameters for group in optimizer.groups for i in group):
                raise MalformedData(f"{where}.optimizers[{index}].groups", f"past the model's {parameters} parameters")


@dataclass(frozen=True, kw_only=True)
class CarriedValue(Wire):
    """A returned value, tagged: a plain ``value``, a ``tensor`` as an array, a device (its name in ``value``), a
    list or tuple of ``items``, or a dict of ``items`` under ``keys``; at most :data:`MAX_DEPTH` deep."""

    kind: Literal["plain", "tensor", "device", "list", "tuple", "dict"]
    value: Plain = field(default=None, metadata=limits(nonfinite=True))
    tensor: np.ndarray | None = field(default=None, metadata=limits(nonfinite=True))
    items: tuple[CarriedValue, ...] = ()
    keys: tuple[str, ...] = ()

    def check(self, where: str) -> None:
        if (self.kind == "tensor") != (self.tensor is not None):
            raise MalformedData(f"{where}.tensor", f"a {self.kind} {'without' if self.tensor is None else 'with'} one")
        if self.kind == "device" and type(self.value) is not str:
            raise MalformedData(f"{where}.value", f"a device named by a {_kind(self.value)}")
        if len(self.keys) != (len(self.items) if self.kind == "dict" else 0):
            raise MalformedData(f"{where}.keys", f"{len(self.keys)} keys for a {self.kind} of {len(self.items)}")
        if self.items and self.kind not in ("list", "tuple", "dict"):
            raise MalformedData(f"{where}.items", f"items in a {self.kind}")
        if self.depth() > MAX_DEPTH:
            raise MalformedData(where, f"nested more than {MAX_DEPTH} deep")

    def depth(self) -> int:
        return 1 + max((item.depth() for item in self.items), default=0)


@dataclass(frozen=True, kw_only=True)
class ReferenceAudit(Wire):
    """What the audit saw in the reference's call; its syncs counted, not named (how the reference is written
    stays in its worker), and the batch its loader last yielded."""

    seen: AuditReport
    syncs: int = field(metadata=limits(at_least=0))
    batch: int = field(metadata=limits(at_least=-1))


@dataclass(frozen=True, kw_only=True)
class CarriedAnswer(Wire):
    """What the reference's call left: its return value, the state of the model and of each optimizer, the passes
    over each loader, what each audited loss and the model's forwards recorded, the generator, the audit."""

    returned: CarriedValue
    model: ModelState | None
    forwards: ForwardLog | None
    optimizers: tuple[OptimizerState, ...]
    passes: tuple[int, ...] = field(metadata=limits(at_least=0))
    losses: tuple[LossRecord | None, ...]
    rng: np.ndarray = field(metadata=limits(ndim=1))
    audit: ReferenceAudit | None

    def check(self, where: str) -> None:
        _rng_state(self.rng, f"{where}.rng")
