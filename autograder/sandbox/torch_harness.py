"""Trusted harnesses for the PyTorch exercises, and the device audit that watches student code run.

A model, an optimizer or a data loader cannot travel to a worker as plain data, so a property names a
harness instead (``NamedCallable("torch", "train_one_epoch", spec)``, see :mod:`autograder.sandbox.callables`).
In the worker :func:`harness` reads the spec (plain data) into its typed form and checks it
(:mod:`autograder.sandbox.harness_types`, ``TrainSpec.from_data``), the harness builds everything from it,
seeded, runs the student's function and sends back its typed report as plain data (``to_data()``):
parameters, losses, what the audit saw. The grader reads the report back with ``from_data`` (a malformed
one is a lie: ``forbidden``), runs the same harness on the reference in its own process and compares; it
decides everything. The specs are made by :mod:`autograder.exercises.training_loop`.

The device audit
----------------
On a machine without a GPU, "the batch reached the model on the right device" cannot be read off
``tensor.device``: everything is on the CPU. So the audit makes the requested device distinct from the
host. Student code is asked to use ``cpu:0``, which PyTorch treats as the CPU but which is not equal to
``torch.device("cpu")``, and the loader's batches are marked as living on the host, ``cpu``. A
:class:`DeviceAudit` (a ``TorchFunctionMode``) then follows every tensor as it flows through student code:

* a transfer (``.to(...)``, ``.cuda()``, ``.cpu()``, ``torch.as_tensor(..., device=...)``) places its result
  on the target device and is counted, with its size in bytes; a transfer to a device this machine does
  not have (``.cuda()`` here) is carried out on the CPU and the result is marked as living there, so the
  code runs on and the audit can say what reached the model;
* anything computed from a marked tensor inherits its place; ``tensor.device`` reports the audited place,
  so code that asks a tensor where it lives gets the answer it would get on a real accelerator;
* the model's forward pre-hook and the loss record where their inputs live;
* calls that make the host wait for the device (``.item()``, ``float()``, ``.tolist()``, ``.cpu()``, ...)
  on device tensors are counted; so are uses of a loss tensor from an earlier batch in a new graph.

What it catches: a forgotten ``.to(device)`` (the batch reaches the model on ``cpu``), hard-coded
``.cuda()``, ``.cpu()`` or ``.to("cpu")`` (the wrong device), moving the whole data set on each batch (the
bytes moved), per-batch ``.item()`` (the sync count) and a running loss that keeps every batch's graph.
What it cannot see: transfers done outside PyTorch's Python API (a C extension), a model moved by
``model.cuda()`` (parameters are the harness's, so the audit checks what reaches the model, not where its
weights are), and a submission that tampers with the harness itself (the audit is evidence from an
untrusted process; comparisons of results are computed in the grader).

Grading always audits on ``cpu:0``, so a submission gets the same verdicts on every machine. A spec with
``device="cuda"`` runs the same harness on ``cuda:0`` with the host still ``cpu``: the tests do that
on a GPU machine, and compare CPU and CUDA results. Timed harnesses run without the audit, on the CPU.

Imported only by the worker and the grader of PyTorch assignments: NumPy assignments never import torch.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import random
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

from autograder.sandbox.harness_types import (
    KINDS,
    LAYER_SETTINGS,
    MAX_DEPTH,
    MAX_INT,
    MAX_ITEMS,
    MAX_KEYS,
    MAX_TEXT,
    OPTIMIZER_TYPES,
    AuditReport,
    CallAudit,
    CarriedAnswer,
    CarriedCall,
    CarriedItem,
    CarriedLayer,
    CarriedLoader,
    CarriedLoss,
    CarriedModel,
    CarriedOptimizer,
    CarriedValue,
    DataSpec,
    DeviceReport,
    DeviceSpec,
    EvaluateReport,
    EvaluateSpec,
    FitReport,
    FitSpec,
    ForwardLog,
    History,
    LoaderPass,
    LoaderReport,
    LoaderSpec,
    LossRecord,
    MalformedData,
    MlpReport,
    MlpSpec,
    ModelSpec,
    ModelState,
    OptimizerSpec,
    OptimizerState,
    ParameterState,
    ReferenceAudit,
    TrainReport,
    TrainSpec,
    Wire,
)

Harness = Callable[..., Any]

HOST = "cpu"
# Calls that make the host wait for the device's result.
_SYNCS = frozenset(
    {"item", "tolist", "numpy", "__float__", "__int__", "__bool__", "__index__", "__format__", "__array__"}
)
# Calls that move data in place into an existing tensor, which keeps its place.
_COPIES = frozenset({"copy_", "__setitem__"})


def requested_device(name: str | None = None) -> torch.device:
    """The device student code is asked to use: ``cpu:0`` (the audit's stand-in for an accelerator)."""
    return _normal(name or "cpu:0")


def _normal(device: Any) -> torch.device:
    """``device`` as a ``torch.device``, with ``cuda`` meaning ``cuda:0`` (the current device)."""
    found = torch.device(device)
    if found.type == "cuda" and found.index is None:
        found = torch.device("cuda", torch.cuda.current_device() if torch.cuda.is_available() else 0)
    return found


def _exists(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return bool(torch.backends.mps.is_available())
    return False


@dataclass(frozen=True)
class ToArguments:
    """What a ``tensor.to(...)`` call asks for: a device, a dtype, or the device and dtype of ``like``."""

    device: torch.device | None
    dtype: torch.dtype | None
    like: torch.Tensor | None


def parse_to(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToArguments:
    """The arguments of ``tensor.to(*args, **kwargs)`` (``args`` without the tensor itself), read as PyTorch does.

    The three forms: ``to(device=None, dtype=None, non_blocking=False, copy=False, memory_format=...)``,
    ``to(dtype, non_blocking=False, copy=False, memory_format=...)`` and ``to(tensor, non_blocking=False,
    copy=False)``. A device is a ``torch.device``, a string (``"cuda"``, ``"cpu:0"``) or an index (a CUDA
    device); ``non_blocking``, ``copy`` and ``memory_format`` say how, not where, and are not read. An
    argument PyTorch would refuse is left for PyTorch to refuse when the call runs (``torch.device`` raises
    here first for a malformed device name, with PyTorch's own message).
    """
    rest = list(args)
    like = kwargs.get("tensor")
    if rest and isinstance(rest[0], torch.Tensor):
        like = rest.pop(0)
    if isinstance(like, torch.Tensor):
        return ToArguments(None, None, like)
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    if rest and isinstance(rest[0], torch.dtype):
        dtype = rest.pop(0)
    elif rest and (rest[0] is None or isinstance(rest[0], (torch.device, str, int))) and not isinstance(rest[0], bool):
        device = rest.pop(0)
        if rest and (rest[0] is None or isinstance(rest[0], torch.dtype)):
            dtype = rest.pop(0)
    return ToArguments(
        None if device is None else torch.device(device), dtype if isinstance(dtype, torch.dtype) else None, None
    )


def _tensors(value: Any, found: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Every tensor in ``value`` (nested tuples, lists and dicts), in order."""
    found = [] if found is None else found
    if isinstance(value, torch.Tensor):
        found.append(value)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _tensors(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _tensors(item, found)
    return found


class DeviceAudit(TorchFunctionMode):
    """Follows where every tensor of student code lives, and what crosses between devices.

    ``placement`` maps a tensor to the name of its device where that is not the requested device;
    unmarked tensors (the model's parameters, tensors created without a device) count as being on it.
    """

    def __init__(self, requested: torch.device) -> None:
        super().__init__()
        self.requested = requested
        self.requested_name = str(requested)
        self.placement: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.loss_batches: WeakIdKeyDictionary = WeakIdKeyDictionary()  # graph-carrying loss -> its batch
        self.bytes_moved = 0
        self.syncs: list[str] = []
        self.model_inputs: list[str] = []
        self.loss_inputs: list[str] = []
        self.kept_graphs = 0
        self.batch = -1  # index of the batch the loader last yielded
        self._trusted = 0  # > 0 while harness code runs (the model's layers, the loss, the optimizer)

    # -- bookkeeping --------------------------------------------------------------------------------------
    def where(self, tensor: torch.Tensor) -> str:
        return str(self.placement.get(tensor, self.requested_name))  # type: ignore[no-untyped-call]

    def place(self, tensor: torch.Tensor, device: str) -> None:
        if device == self.requested_name:
            self.placement.pop(tensor, None)  # type: ignore[no-untyped-call]
        else:
            self.placement[tensor] = device

    @contextlib.contextmanager
    def trusted(self) -> Iterator[None]:
        """Harness code runs inside this: its calls are neither audited nor counted."""
        self._trusted += 1
        try:
            yield
        finally:
            self._trusted -= 1

    def enter_trusted(self, *_: Any, **__: Any) -> None:
        self._trusted += 1

    def leave_trusted(self, *_: Any, **__: Any) -> None:
        self._trusted -= 1

    # -- the mode -----------------------------------------------------------------------------------------
    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if self._trusted:
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        inputs = _tensors((args, kwargs))
        if name == "__get__" and getattr(getattr(func, "__self__", None), "__name__", "") == "device" and inputs:
            return torch.device(self.where(inputs[0]))  # tensor.device: where the audit says it is
        if name in _SYNCS and inputs and self.where(inputs[0]) != HOST:
            self.syncs.append(name)
        target = self._target(name, args, kwargs)
        if target is not None:
            return self._transfer(func, name, args, kwargs, target, inputs)
        result = func(*args, **kwargs)
        self._follow(name, args, inputs, result)
        return result

    def _target(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """The device a call moves data to, or ``None`` if it is not a transfer."""
        if name == "to" and args and isinstance(args[0], torch.Tensor):
            asked = parse_to(args[1:], kwargs)
            if asked.like is not None:
                return self.where(asked.like)
            return None if asked.device is None else str(_normal(asked.device))
        if name == "cuda" and args and isinstance(args[0], torch.Tensor):
            index = args[1] if len(args) > 1 else kwargs.get("device")
            device = torch.device("cuda", index) if isinstance(index, int) else _normal(index or "cuda")
            return str(_normal(device))
        if name == "cpu" and args and isinstance(args[0], torch.Tensor):
            return HOST
        if kwargs.get("device") is not None and name not in _COPIES:
            return str(_normal(kwargs["device"]))
        return None

    def _transfer(
        self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], target: str, inputs: list[Any]
    ) -> Any:
        source = inputs[0] if inputs else None
        if _exists(torch.device(target)):
            result = func(*args, **kwargs)
        else:  # a device this machine lacks: carry the call out on the host and remember where it was meant to go
            result = self._on_host(func, name, args, kwargs)
        if source is not None:
            where = self.where(source)
            if where != target:
                self.bytes_moved += source.nelement() * source.element_size()
                if target == HOST:
                    self.syncs.append(name)
            if result is source and where != target:
                result = result.clone()  # a no-op move: give the moved tensor its own identity (and place)
        for tensor in _tensors(result):
            self.place(tensor, target)
        return result

    @staticmethod
    def _on_host(func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name in ("cuda", "cpu"):
            return args[0].clone()
        if name == "to":
            dtype = parse_to(args[1:], kwargs).dtype
            return args[0].to(dtype=dtype or args[0].dtype, copy=True)
        return func(*args, **{**kwargs, "device": HOST})

    def _follow(self, name: str, args: tuple[Any, ...], inputs: list[torch.Tensor], result: Any) -> None:
        """Give the outputs of a call the place of its inputs, and follow graphs that carry a loss."""
        outputs = _tensors(result)
        if not outputs:
            return
        if name in _COPIES and args and isinstance(args[0], torch.Tensor):
            destination = self.where(args[0])
            for source in inputs[1:]:
                if self.where(source) != destination:
                    self.bytes_moved += source.nelement() * source.element_size()
            return
        placed = next((self.where(t) for t in inputs if t in self.placement), None)
        if placed is not None:
            for tensor in outputs:
                self.placement[tensor] = placed
        births = [self.loss_batches[t] for t in inputs if t in self.loss_batches]
        if births and torch.is_grad_enabled():
            born = min(births)
            carrying = [t for t in outputs if t.requires_grad]
            if carrying and born < self.batch:
                self.kept_graphs += 1
            for tensor in carrying:
                self.loss_batches[tensor] = born

    def report(self) -> AuditReport:
        return AuditReport(
            requested=self.requested_name,
            model_inputs=capped(self.model_inputs),
            loss_inputs=capped(self.loss_inputs),
            bytes_moved=int(self.bytes_moved),
            syncs=capped(self.syncs),
            kept_graphs=int(self.kept_graphs),
        )


T = TypeVar("T")


def capped(values: Iterable[T]) -> tuple[T, ...]:
    """At most :data:`MAX_ITEMS` of ``values``: how many syncs or forward passes student code makes is its own
    choice, and a report over the limits of :mod:`autograder.sandbox.harness_types` would be refused."""
    return tuple(itertools.islice(values, MAX_ITEMS))


def type_name(value: Any) -> str:
    """The name of ``value``'s type, cut to a length a report carries (student code names its own classes)."""
    return type(value).__name__[:MAX_TEXT]


# -- what the harnesses build: data, models, loaders, losses ----------------------------------------------
@contextlib.contextmanager
def controlled(seed: int) -> Iterator[None]:
    """One thread, deterministic algorithms, seeded global generators; restored afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    state = torch.random.get_rng_state()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.random.set_rng_state(state)


def build_model(spec: ModelSpec) -> nn.Sequential:
    """An MLP ``d_in -> hidden… -> d_out`` with ReLU, optional BatchNorm and Dropout, seeded by ``spec``.

    BatchNorm and Dropout make train and evaluation modes differ; BatchNorm's running statistics start
    at seeded random values so that evaluation mode visibly uses them.
    """
    generator = torch.Generator().manual_seed(spec.seed)
    layers: list[nn.Module] = []
    width = spec.d_in
    for hidden in spec.hidden:
        layers.append(nn.Linear(width, hidden))
        if spec.batchnorm:
            norm = nn.BatchNorm1d(hidden)
            norm.running_mean = torch.randn(hidden, generator=generator) * 0.5
            norm.running_var = torch.rand(hidden, generator=generator) + 0.5
            layers.append(norm)
        layers.append(nn.ReLU())
        if spec.dropout:
            layers.append(nn.Dropout(spec.dropout))
        width = hidden
    layers.append(nn.Linear(width, spec.d_out))
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) / max(1, parameter.shape[-1]) ** 0.5)
    return model


def build_data(spec: DataSpec, d_in: int, d_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` standard normal inputs ``(n, d_in)`` float32 and uniform labels ``(n,)`` int64."""
    generator = torch.Generator().manual_seed(spec.seed)
    return torch.randn(spec.n, d_in, generator=generator), torch.randint(0, d_out, (spec.n,), generator=generator)


def build_optimizer(spec: OptimizerSpec, model: nn.Module) -> torch.optim.Optimizer:
    if spec.name == "adam":
        return torch.optim.Adam(model.parameters(), lr=spec.lr)
    return torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum)


class TensorDataset(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """What ``loader.dataset`` gives: the examples, so ``len(loader.dataset)`` works as with a DataLoader."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.tensors = (x, y)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tensors[0][index], self.tensors[1][index]


class HostLoader:
    """Fixed mini-batches in order, living on the host: what a training loop must move to its device.

    Each pass yields fresh copies (student code may modify a batch in place) and tells the audit.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, audit: DeviceAudit | None) -> None:
        self.x, self.y, self.batch_size, self.audit = x, y, batch_size, audit
        self.dataset = TensorDataset(x, y)
        self.passes = 0

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.passes += 1
        for start in range(0, len(self.x), self.batch_size):
            audit = self.audit
            if audit is None:
                yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]
                continue
            with audit.trusted():
                xb = self.x[start : start + self.batch_size].clone()
                yb = self.y[start : start + self.batch_size].clone()
                audit.place(xb, HOST)
                audit.place(yb, HOST)
                audit.batch += 1
            yield xb, yb


class AuditedLoss(nn.Module):
    """Mean cross-entropy that records each call: where its inputs live, the loss, the batch, the hits."""

    def __init__(self, audit: DeviceAudit) -> None:
        super().__init__()
        self.audit = audit
        self.losses: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self.correct: list[torch.Tensor] = []
        self.requires_grad: list[bool] = []

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        audit = self.audit
        with audit.trusted():
            audit.loss_inputs.extend(audit.where(t) for t in (logits, labels) if isinstance(t, torch.Tensor))
            loss = F.cross_entropy(logits, labels)
            self.losses.append(loss.detach().float())
            self.sizes.append(len(labels))
            self.correct.append((logits.detach().argmax(dim=1) == labels).sum())
            self.requires_grad.append(bool(loss.requires_grad))
        if loss.requires_grad:
            audit.loss_batches[loss] = audit.batch
        return loss

    def summary(self) -> LossRecord:
        return LossRecord(
            batch_losses=capped(float(v) for v in self.losses),
            batch_sizes=capped(self.sizes),
            batch_correct=capped(int(v) for v in self.correct),
            loss_requires_grad=capped(self.requires_grad),
        )


class ForwardRecord:
    """Hooks on the model: the place of its inputs, its mode, grad mode and output dtype at each forward."""

    def __init__(self, model: nn.Module, audit: DeviceAudit) -> None:
        self.audit = audit
        self.training: list[bool] = []
        self.grad_enabled: list[bool] = []
        self.dtypes: list[str] = []
        model.register_forward_pre_hook(self._before)
        model.register_forward_hook(self._after, always_call=True)

    def _before(self, module: nn.Module, inputs: tuple[Any, ...]) -> None:
        audit = self.audit
        audit.enter_trusted()
        audit.model_inputs.extend(audit.where(t) for t in _tensors(inputs))
        self.training.append(bool(module.training))
        self.grad_enabled.append(bool(torch.is_grad_enabled()))

    def _after(self, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        self.dtypes.extend(str(t.dtype).removeprefix("torch.") for t in _tensors(output))
        self.audit.leave_trusted()

    def summary(self) -> ForwardLog:
        return ForwardLog(
            forward_training=capped(self.training),
            forward_grad=capped(self.grad_enabled),
            forward_dtypes=capped(self.dtypes),
        )


def state_arrays(model: nn.Module) -> tuple[np.ndarray, ...]:
    """Every parameter and buffer, in ``state_dict`` order, as float64 arrays."""
    return capped(value.detach().cpu().double().numpy() for value in model.state_dict().values())


def grad_arrays(model: nn.Module) -> tuple[np.ndarray | None, ...]:
    return capped(None if p.grad is None else p.grad.detach().cpu().double().numpy() for p in model.parameters())


def _modes(model: nn.Module) -> tuple[bool, ...]:
    return capped(bool(m.training) for m in model.modules())


def _as_float(value: Any) -> float | None:
    """A returned number as a float (read by the harness, for comparison), or ``None`` if it is not one."""
    try:
        if isinstance(value, torch.Tensor):
            return float(value.detach().cpu().double().reshape(-1)[0]) if value.numel() == 1 else None
        if isinstance(value, (bool, str)) or value is None:
            return None
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def _audited_setup(
    spec: TrainSpec | EvaluateSpec,
) -> tuple[nn.Sequential, DeviceAudit, HostLoader, AuditedLoss, torch.device]:
    device = requested_device(spec.device)
    model = build_model(spec.model).to(device)
    audit = DeviceAudit(device)
    x, y = build_data(spec.data, spec.model.d_in, spec.model.d_out)
    return model, audit, HostLoader(x, y, spec.data.batch_size, audit), AuditedLoss(audit), device


# -- the harnesses: each takes a typed spec and returns a callable(student_function) -> typed report --------
def train_one_epoch_harness(spec: TrainSpec) -> Callable[[Callable[..., Any]], TrainReport]:
    """One epoch of ``train_one_epoch`` from a seeded model, optimizer and host loader, under the audit.

    The model starts in evaluation mode, so a loop that forgets ``model.train()`` trains without dropout
    (and with BatchNorm's running statistics) and ends with different parameters.
    """

    def run(train_one_epoch: Callable[..., Any]) -> TrainReport:
        with controlled(spec.seed):
            model, audit, loader, loss_fn, device = _audited_setup(spec)
            optimizer = build_optimizer(spec.optimizer, model)
            optimizer.register_step_pre_hook(audit.enter_trusted)
            optimizer.register_step_post_hook(audit.leave_trusted)
            forwards = ForwardRecord(model, audit)
            model.eval()
            torch.manual_seed(spec.seed)
            with audit:
                returned = train_one_epoch(model, loader, loss_fn, optimizer, device, spec.amp)
            return TrainReport(
                returned=_as_float(returned),
                returned_type=type_name(returned),
                returned_float=isinstance(returned, float),
                state=state_arrays(model),
                losses=loss_fn.summary(),
                forwards=forwards.summary(),
                audit=audit.report(),
            )

    return run


def evaluate_harness(spec: EvaluateSpec) -> Callable[[Callable[..., Any]], EvaluateReport]:
    """``evaluate`` on a seeded model in ``spec.mode``, with stale gradients in place, under the audit."""

    def run(evaluate: Callable[..., Any]) -> EvaluateReport:
        with controlled(spec.seed):
            model, audit, loader, loss_fn, device = _audited_setup(spec)
            model.train(spec.mode == "train")
            generator = torch.Generator().manual_seed(spec.seed + 1)
            for parameter in model.parameters():
                parameter.grad = torch.randn(parameter.shape, generator=generator).to(device)
            forwards = ForwardRecord(model, audit)
            state_before, grads_before, modes_before = state_arrays(model), grad_arrays(model), _modes(model)
            torch.manual_seed(spec.seed)
            with audit:
                returned = evaluate(model, loader, loss_fn, device)
            pair = list(returned) if isinstance(returned, (tuple, list)) else []
            return EvaluateReport(
                returned=(_as_float(pair[0]), _as_float(pair[1])) if len(pair) == 2 else None,
                returned_type=type_name(returned),
                state_before=state_before,
                grads_before=grads_before,
                modes_before=modes_before,
                state_after=state_arrays(model),
                grads_after=grad_arrays(model),
                modes_after=_modes(model),
                losses=loss_fn.summary(),
                forwards=forwards.summary(),
                audit=audit.report(),
            )

    return run


def loader_data(n: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows that name themselves: ``x[i, 0] == i``, and labels ``y[i] = (7 i + 3) mod 11``."""
    index = torch.arange(n)
    x = torch.cat([index[:, None].float(), torch.randn(n, d - 1, generator=torch.Generator().manual_seed(n))], 1)
    return x, (7 * index + 3) % 11


def _one_pass(loader: Any, audit: DeviceAudit, limit: int) -> LoaderPass:
    """Iterate ``loader`` once; the batches as arrays, where they live, and their dtypes."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    devices: list[str] = []
    dtypes: list[str] = []
    for count, batch in enumerate(loader):
        if count >= limit:
            raise RuntimeError(f"the loader yielded more than {limit} batches in one pass")
        with audit.trusted():
            xb, yb = batch
            for tensor in (xb, yb):
                devices.append(audit.where(tensor) if isinstance(tensor, torch.Tensor) else type_name(tensor))
                dtypes.append(str(tensor.dtype).removeprefix("torch.")[:MAX_TEXT] if hasattr(tensor, "dtype") else "")
            xs.append(np.asarray(torch.as_tensor(xb).detach().cpu().double().numpy()).reshape(len(xb), -1))
            ys.append(np.asarray(torch.as_tensor(yb).detach().cpu().numpy()).reshape(-1))
    return LoaderPass(
        x=np.concatenate(xs) if xs else np.zeros((0, 0)),
        y=np.concatenate(ys) if ys else np.zeros(0, dtype=np.int64),
        sizes=tuple(len(y) for y in ys),
        devices=tuple(devices),
        dtypes=tuple(dtypes),
    )


def _disturb_global_generators(seed: int) -> None:
    """Move every global generator on, so that only the loader's own seed can repeat an order."""
    torch.manual_seed(seed)
    np.random.seed(seed % (1 << 32))
    random.seed(seed)


def make_loader_harness(spec: LoaderSpec) -> Callable[[Callable[..., Any]], LoaderReport]:
    """Build loaders from host tensors and take their batches: two passes, the same seed again, another seed."""

    def run(make_loader: Callable[..., Any]) -> LoaderReport:
        n, batch_size, seed = spec.n, spec.batch_size, spec.seed
        limit = 2 * (-(-n // batch_size)) + 5  # a pass of more batches is refused, so every list stays short
        with controlled(seed + 1):
            device = requested_device(spec.device)
            x, y = loader_data(n, spec.d)
            audit = DeviceAudit(device)
            audit.place(x, HOST)
            audit.place(y, HOST)
            with audit:
                loader = make_loader(x, y, batch_size, spec.shuffle, seed, device)
                passes = (_one_pass(loader, audit, limit), _one_pass(loader, audit, limit))
            moved, syncs = audit.bytes_moved, capped(audit.syncs)
            _disturb_global_generators(seed + 12345)
            with audit:
                again = _one_pass(make_loader(x, y, batch_size, spec.shuffle, seed, device), audit, limit)
                other = _one_pass(make_loader(x, y, batch_size, spec.shuffle, seed + 1, device), audit, limit)
        return LoaderReport(
            x=x.double().numpy(),
            y=y.numpy(),
            passes=passes,
            again=again,
            other_seed=other,
            bytes_moved=int(moved),
            data_bytes=int(x.nelement() * x.element_size() + y.nelement() * y.element_size()),
            syncs=syncs,
            requested=str(device),
        )

    return run


def make_mlp_harness(spec: MlpSpec) -> Callable[[Callable[..., Any]], MlpReport]:
    """Build the student's MLP with the global generator seeded; its linear layers and its output on a probe."""

    def run(make_mlp: Callable[..., Any]) -> MlpReport:
        args: list[Any] = [spec.d_in, list(spec.hidden), spec.d_out]
        if spec.activation is not None:
            args.append(spec.activation)
        with controlled(spec.seed):
            try:
                model = make_mlp(*args)
            except NotImplementedError:
                raise
            except Exception as error:  # noqa: BLE001 - an error is an answer here (an unknown activation)
                if not spec.expect_error:
                    raise
                return MlpReport(error=f"{type(error).__name__}: {error}"[:MAX_TEXT])
            if not isinstance(model, nn.Module):
                return MlpReport(returned_type=type_name(model))
            probe = torch.randn(5, spec.d_in, generator=torch.Generator().manual_seed(spec.seed))
            with torch.no_grad():
                output = model(probe)
        linears = capped(m for m in model.modules() if isinstance(m, nn.Linear))
        return MlpReport(
            returned_type=type_name(model),
            is_module=True,
            modules=capped(type_name(m) for m in model.modules() if not list(m.children())),
            weights=tuple(m.weight.detach().double().numpy() for m in linears),
            biases=tuple(None if m.bias is None else m.bias.detach().double().numpy() for m in linears),
            probe=probe.double().numpy(),
            output=output.detach().double().numpy() if isinstance(output, torch.Tensor) else None,
        )

    return run


@contextlib.contextmanager
def simulated_machine(cuda: bool, mps: bool) -> Iterator[None]:
    """Make PyTorch report CUDA and MPS as available or not, whatever this machine has."""
    patches: list[tuple[Any, str, Any]] = [
        (torch.cuda, "is_available", lambda: cuda),
        (torch.cuda, "device_count", lambda: 1 if cuda else 0),
        (torch.backends.mps, "is_available", lambda: mps),
        (torch.backends.mps, "is_built", lambda: mps),
    ]
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        current = torch.device("cuda") if cuda else torch.device("mps") if mps else None
        patches += [
            (accelerator, "is_available", lambda: cuda or mps),
            (accelerator, "current_accelerator", lambda *a: current),
        ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def get_device_harness(spec: DeviceSpec) -> Callable[[Callable[..., Any]], DeviceReport]:
    """``get_device(prefer)`` on a simulated machine; an exception is an answer when ``prefer`` is missing."""

    def run(get_device: Callable[..., Any]) -> DeviceReport:
        prefer: str | torch.device | None = spec.prefer
        if spec.prefer is not None and spec.as_device:
            prefer = torch.device(spec.prefer)
        with simulated_machine(spec.cuda, spec.mps):
            try:
                found = get_device(prefer) if spec.passes_prefer else get_device()
            except NotImplementedError:
                raise
            except Exception as error:  # noqa: BLE001 - a clear error is the expected answer here
                if not spec.expect_error:
                    raise
                return DeviceReport(error=f"{type(error).__name__}: {error}"[:MAX_TEXT])
        return DeviceReport(
            returned_type=type_name(found),
            device=str(found)[:MAX_TEXT] if isinstance(found, (torch.device, str)) else None,
        )

    return run


def fit_harness(spec: FitSpec) -> Callable[[Callable[..., Any]], FitReport]:
    """``fit`` on digits or on noise (which overfits), under the audit, with its output captured.

    Reports the history as sent back, the final model's validation loss and accuracy measured here, the
    parameters, what the audit saw, and what ``fit`` wrote to stderr (a progress bar) and stdout.
    """

    def run(fit: Callable[..., Any]) -> FitReport:
        with controlled(spec.seed):
            device = requested_device(spec.device)
            (x_train, y_train, x_val, y_val), d_in, d_out = fit_data(spec)
            model = build_model(ModelSpec(d_in=d_in, hidden=spec.hidden, d_out=d_out, seed=spec.seed))
            model = model.to(device)
            audit = DeviceAudit(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
            optimizer.register_step_pre_hook(audit.enter_trusted)
            optimizer.register_step_post_hook(audit.leave_trusted)
            ForwardRecord(model, audit)
            train = HostLoader(x_train, y_train, spec.batch_size, audit)
            val = HostLoader(x_val, y_val, spec.batch_size, audit)
            args: list[Any] = [model, train, val, AuditedLoss(audit), optimizer, device, spec.epochs]
            kwargs: dict[str, Any] = {"progress": spec.progress}
            if spec.patience is not None:
                kwargs["patience"] = spec.patience
            err, out = io.StringIO(), io.StringIO()
            torch.manual_seed(spec.seed)
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), audit:
                history = fit(*args, **kwargs)
            seen = audit.report()
            with torch.no_grad():
                model.eval()
                logits = model(x_val.to(device))
                final_loss = float(F.cross_entropy(logits, y_val.to(device)))
                final_acc = float((logits.argmax(dim=1) == y_val.to(device)).float().mean())
        return FitReport(
            history=_plain_history(history),
            history_type=type_name(history),
            final_val_loss=final_loss,
            final_val_acc=final_acc,
            state=state_arrays(model),
            train_passes=train.passes,
            stderr=err.getvalue()[-MAX_TEXT:],
            stdout=out.getvalue()[-MAX_TEXT:],
            audit=seen,
        )

    return run


def fit_data(spec: FitSpec) -> tuple[tuple[torch.Tensor, ...], int, int]:
    """``(x_train, y_train, x_val, y_val), d_in, n_classes`` for a fit task.

    Digits (``spec.noisy`` is ``None``): scikit-learn's digits (:func:`course_lib.training.digits_split`).
    Noisy: ``n`` examples labelled by a random linear rule with a fraction ``noise`` of random labels, and
    256 validation examples; a network memorises the noise within a few epochs, so the validation loss
    falls and then rises, which is what early stopping is for.
    """
    noisy = spec.noisy
    if noisy is None:
        from course_lib.training import digits_split

        x_train, y_train, x_val, y_val, _, _ = digits_split(seed=spec.data_seed)
        return tuple(torch.as_tensor(a) for a in (x_train, y_train, x_val, y_val)), 64, 10
    generator = torch.Generator().manual_seed(spec.data_seed)
    n, d, k, total = noisy.n, noisy.d_in, noisy.classes, noisy.n + 256
    x = torch.randn(total, d, generator=generator)
    y = (x @ torch.randn(d, k, generator=generator)).argmax(dim=1)
    noise = torch.rand(total, generator=generator) < noisy.noise
    y = torch.where(noise, torch.randint(0, k, (total,), generator=generator), y)
    return (x[:n], y[:n], x[n:], y[n:]), d, k


def _plain_history(history: Any) -> History | None:
    """The history as plain data: a dict of lists of numbers where it is one (type names for what is not a
    number, and for an entry that is not a list); ``None`` if it is not a dict. Cut to what a report carries."""
    if not isinstance(history, dict):
        return None
    plain: History = {}
    for key, values in itertools.islice(history.items(), MAX_KEYS):
        if isinstance(values, (list, tuple)):
            plain[str(key)[:MAX_TEXT]] = capped(
                v if type(v) is float or (type(v) is int and abs(v) <= MAX_INT) else type_name(v) for v in values
            )
        else:
            plain[str(key)[:MAX_TEXT]] = type_name(values)
    return plain


# -- timed harnesses: the same setup each call, built once per process ---------------------------------------
_SETUPS: dict[str, Any] = {}


def _cached(key: str, build: Callable[[], Any]) -> Any:
    if key not in _SETUPS:
        _SETUPS[key] = build()
    return _SETUPS[key]


def timed_epoch_harness(spec: TrainSpec) -> Callable[[Callable[..., Any]], None]:
    """One epoch on a fixed model and data set (no audit: only the time counts)."""

    def build() -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        model = build_model(spec.model)
        x, y = build_data(spec.data, spec.model.d_in, spec.model.d_out)
        return {k: v.clone() for k, v in model.state_dict().items()}, x, y

    def run(train_one_epoch: Callable[..., Any]) -> None:
        initial, x, y = _cached(repr(("epoch", spec)), build)
        with controlled(spec.seed):
            model = build_model(spec.model)
            model.load_state_dict(initial)
            optimizer = build_optimizer(spec.optimizer, model)
            loader = HostLoader(x, y, spec.data.batch_size, None)
            train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, torch.device("cpu"), False)

    return run


def timed_loader_harness(spec: LoaderSpec) -> Callable[[Callable[..., Any]], None]:
    """Build a loader over a fixed data set and take one pass of its batches."""

    def run(make_loader: Callable[..., Any]) -> None:
        x, y = _cached(repr(("loader", spec)), lambda: loader_data(spec.n, spec.d))
        with controlled(spec.seed):
            for _ in make_loader(x, y, spec.batch_size, True, spec.seed, torch.device("cpu")):
                pass

    return run


# -- siblings: a call of train_one_epoch or evaluate carried to the reference as plain data -----------------
# When a student's ``fit`` is graded with the reference's ``train_one_epoch`` and ``evaluate`` in place of
# theirs (autograder.grading.siblings), its calls of them cannot send a model, a loader or an optimizer. The
# stand-in in the student's worker (autograder.sandbox.worker._Sibling) sends what rebuilds them instead: ``carry``
# describes each argument of a kind the harness itself builds (a flat nn.Sequential of known layers with
# its state, a HostLoader with its tensors, an optimizer of a known type over the model's parameters with
# its state, the loss, the device) and refuses anything else; in the reference worker ``sibling_harness``
# rebuilds identical objects, runs the reference on them and answers with their new state and the return
# value; the stand-in loads that state into the student's objects in place. Only values cross: tensors as
# arrays, numbers, names of layer and optimizer types. The call is a harness_types.CarriedCall and the answer
# a CarriedAnswer, each travelling as plain data (to_data) and read with from_data once, where it arrives: the
# call at the start of sibling_harness's run (it was built in the student's worker), the answer in restore.


class CannotCarry(TypeError):
    """An argument no reference worker can rebuild; the message names it, for the student."""


# The layer and optimizer types a carried call may hold (harness_types names them: the grader reads calls
# without PyTorch).
_LAYERS: dict[str, type[nn.Module]] = {name: getattr(nn, name) for name in LAYER_SETTINGS}
_OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    name: getattr(torch.optim, name) for name in OPTIMIZER_TYPES
}
_PLAIN = (bool, int, float, str, type(None), np.bool_, np.integer, np.floating)  # travel as the built-in types


def _plain_setting(value: Any, what: str, hint: Any = None) -> Any:
    """A hyperparameter that travels as it is: a number, a flag, a name, or a tuple of numbers (Adam's betas).

    It travels as the built-in type it is an instance of (a NumPy scalar or a subclass of ``int`` as that type),
    and an ``int`` as a ``float`` where ``hint`` (the type the call's record gives it) wants a float: what the
    student's code set honestly is never refused for its type by the reference's worker.
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, (int, np.integer)):
        wants_float = hint is not None and float in (typing.get_args(hint) or (hint,))
        return float(value) if wants_float else int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, tuple) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return tuple(_plain_setting(v, what) for v in value)
    raise CannotCarry(f"{what} set to a {type(value).__name__}")


def _own_hooks_only(hooks: Any, owner: type, what: str) -> None:
    """Refuse hooks other than the harness's own (``owner``'s methods): they would not run in the reference."""
    for hook in dict(hooks or {}).values():
        if not isinstance(getattr(hook, "__self__", None), owner):
            raise CannotCarry(f"{what} with a hook of your own")


def _model_state(model: nn.Module) -> ModelState:
    """What changes when a model trains: ``state_dict`` tensors, gradients and every module's mode."""
    return ModelState(
        keys=tuple(model.state_dict()),
        state=tuple(value.detach().cpu().clone().numpy() for value in model.state_dict().values()),
        grads=tuple(None if p.grad is None else p.grad.detach().cpu().clone().numpy() for p in model.parameters()),
        modes=tuple(bool(m.training) for m in model.modules()),
    )


def _load_model_state(model: nn.Module, state: ModelState) -> None:
    """Load :func:`_model_state`'s record into ``model``, in place (its parameters keep their identity)."""
    if list(state.keys) != list(model.state_dict()):
        raise ValueError("the state does not fit the model")
    with torch.no_grad():
        model.load_state_dict(dict(zip(state.keys, (torch.from_numpy(v) for v in state.state), strict=True)))
        parameters = list(model.parameters())
        if len(state.grads) != len(parameters):
            raise ValueError("the gradients do not fit the model")
        for parameter, grad in zip(parameters, state.grads, strict=True):
            parameter.grad = None if grad is None else torch.from_numpy(grad).to(parameter.device)
    for module, training in zip(model.modules(), state.modes, strict=False):
        module.training = training


def _describe_model(model: nn.Module) -> CarriedModel:
    """A flat ``nn.Sequential`` of known layers: their types and settings, and its state (or CannotCarry)."""
    if type(model) is not nn.Sequential:
        raise CannotCarry(f"a model of type {type(model).__name__} (only an nn.Sequential of standard layers)")
    layers: list[CarriedLayer] = []
    for module in model.modules():
        hooks = (module._forward_pre_hooks, module._forward_hooks, module._backward_hooks)
        for kind in hooks + (module._backward_pre_hooks,):
            _own_hooks_only(kind, ForwardRecord, "a model")
        if "forward" in vars(module):
            raise CannotCarry("a model whose forward was replaced")
        if module is model:
            continue
        name = type(module).__name__
        if name not in _LAYERS or type(module) is not _LAYERS[name]:
            raise CannotCarry(f"a model with a {name} layer")
        settings = {
            key: module.bias is not None
            if key == "bias"  # a Linear's bias is a parameter; it is rebuilt from whether there is one
            else _plain_setting(getattr(module, key), f"a {name}'s {key}", hint)
            for key, hint in LAYER_SETTINGS[name].items()
        }
        layers.append(CarriedLayer(type=name, settings=settings))
    if any(getattr(p, "_backward_hooks", None) for p in model.parameters()):
        raise CannotCarry("a model with a hook of your own on a parameter")
    parameters = list(model.parameters())
    return CarriedModel(
        layers=tuple(layers),
        device=str(parameters[0].device) if parameters else "cpu",
        requires_grad=tuple(bool(p.requires_grad) for p in parameters),
        state=_model_state(model),
    )


def _rebuild_model(description: CarriedModel) -> nn.Sequential:
    """The model :func:`_describe_model` described, with its state (in the reference worker; the record's
    ``from_data`` has checked its layers' types, settings, number and size)."""
    model = nn.Sequential(*(_LAYERS[layer.type](**layer.settings) for layer in description.layers))
    device = torch.device(description.device)
    if not _exists(device):
        raise ValueError(f"no device {device} here")
    model = model.to(device)
    _load_model_state(model, description.state)
    for parameter, flag in zip(model.parameters(), description.requires_grad, strict=True):
        parameter.requires_grad_(flag)
    return model


def _optimizer_state(optimizer: torch.optim.Optimizer) -> OptimizerState:
    """``state_dict`` as plain data: tensors as arrays, hyperparameters as they are (or CannotCarry)."""
    saved = optimizer.state_dict()
    state = tuple(
        ParameterState(
            index=int(index),
            entries={
                str(key): value.detach().cpu().clone().numpy()
                if isinstance(value, torch.Tensor)
                else _plain_setting(value, f"the optimizer's state {key}")
                for key, value in entries.items()
            },
        )
        for index, entries in saved["state"].items()
    )
    groups = tuple(
        {
            str(key): tuple(int(i) for i in value)
            if key == "params"
            else _plain_setting(value, f"the optimizer's {key}")
            for key, value in group.items()
        }
        for group in saved["param_groups"]
    )
    return OptimizerState(state=state, param_groups=groups)


def _load_optimizer_state(optimizer: torch.optim.Optimizer, saved: OptimizerState) -> None:
    state = {
        entry.index: {
            key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
            for key, value in entry.entries.items()
        }
        for entry in saved.state
    }
    groups = [
        {key: list(v) if key == "params" and isinstance(v, tuple) else v for key, v in group.items()}
        for group in saved.param_groups
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _describe_optimizer(optimizer: torch.optim.Optimizer, model: nn.Module | None) -> CarriedOptimizer:
    """A known optimizer over the call's model's parameters: its type, groups (as indices) and state."""
    name = type(optimizer).__name__
    if name not in _OPTIMIZERS or type(optimizer) is not _OPTIMIZERS[name]:
        raise CannotCarry(f"an optimizer of type {name} (only {', '.join(_OPTIMIZERS)})")
    for hooks in (optimizer._optimizer_step_pre_hooks, optimizer._optimizer_step_post_hooks):
        _own_hooks_only(hooks, DeviceAudit, "an optimizer")
    index = {id(p): i for i, p in enumerate(model.parameters())} if model is not None else {}
    groups = []
    for group in optimizer.param_groups:
        if not all(id(p) in index for p in group["params"]):
            raise CannotCarry("an optimizer over parameters that are not the model's it is passed with")
        groups.append(tuple(index[id(p)] for p in group["params"]))
    return CarriedOptimizer(type=name, groups=tuple(groups), state=_optimizer_state(optimizer))


def _rebuild_optimizer(
    description: CarriedOptimizer, model: nn.Module | None, audit: DeviceAudit | None
) -> torch.optim.Optimizer:
    parameters = list(model.parameters()) if model is not None else []
    groups = [{"params": [parameters[i] for i in group]} for group in description.groups]
    optimizer = _OPTIMIZERS[description.type](groups, lr=1e-3)  # load_state_dict sets every setting
    _load_optimizer_state(optimizer, description.state)
    if audit is not None:  # as the harness does: the optimizer's own work is not the student's
        optimizer.register_step_pre_hook(audit.enter_trusted)
        optimizer.register_step_post_hook(audit.leave_trusted)
    return optimizer


def _describe_loss(loss: nn.Module) -> CarriedLoss:
    if "forward" in vars(loss):
        raise CannotCarry("a loss whose forward was replaced")
    if type(loss) is AuditedLoss:
        return CarriedLoss(type="audited")
    if type(loss) is nn.CrossEntropyLoss and loss.weight is None:
        return CarriedLoss(
            type="cross_entropy",
            ignore_index=_plain_setting(loss.ignore_index, "ignore_index"),
            reduction=_plain_setting(loss.reduction, "reduction"),
            label_smoothing=_plain_setting(loss.label_smoothing, "label_smoothing", float),
        )
    raise CannotCarry(f"a loss of type {type(loss).__name__}")


def _rebuild_loss(description: CarriedLoss, audit: DeviceAudit | None) -> nn.Module:
    if description.type == "audited":
        if audit is None:
            raise ValueError("the harness's loss, with no audit watching the call")
        return AuditedLoss(audit)
    return nn.CrossEntropyLoss(
        ignore_index=description.ignore_index,
        reduction=description.reduction,
        label_smoothing=description.label_smoothing,
    )


def _plain_value(value: Any, depth: int = 1) -> CarriedValue:
    """A return value as a tagged record (tensors as arrays), or ValueError for anything else."""
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if isinstance(value, _PLAIN):
        return CarriedValue(kind="plain", value=_plain_setting(value, "a returned value"))
    if isinstance(value, torch.Tensor):
        return CarriedValue(kind="tensor", tensor=value.detach().cpu().clone().numpy())
    if isinstance(value, torch.device):
        return CarriedValue(kind="device", value=str(value))
    if isinstance(value, (list, tuple)):
        items = tuple(_plain_value(v, depth + 1) for v in value)
        return CarriedValue(kind="tuple" if isinstance(value, tuple) else "list", items=items)
    if isinstance(value, dict):
        items = tuple(_plain_value(v, depth + 1) for v in value.values())
        return CarriedValue(kind="dict", keys=tuple(str(k) for k in value), items=items)
    raise ValueError(f"a {type(value).__name__} cannot travel back")


def _live_value(node: CarriedValue) -> Any:
    """The value :func:`_plain_value` described."""
    items = [_live_value(item) for item in node.items]
    if node.kind == "tensor" and node.tensor is not None:
        return torch.from_numpy(node.tensor)
    if node.kind == "device":
        return torch.device(str(node.value))
    if node.kind == "list":
        return items
    if node.kind == "tuple":
        return tuple(items)
    if node.kind == "dict":
        return dict(zip(node.keys, items, strict=True))
    return node.value


class _Carrier:
    """Describes one call's arguments (student side); finds the model, loaders, optimizers, losses it holds."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        values = list(args) + list(kwargs.values())
        models = [v for v in values if isinstance(v, nn.Module) and not _is_loss(v)]
        if len(models) > 1:
            raise CannotCarry("two models")
        self.model: nn.Module | None = models[0] if models else None
        self.loaders: list[HostLoader] = []
        self.optimizers: list[torch.optim.Optimizer] = []
        self.losses: list[nn.Module] = []
        # The harness's audit, if it watches this call: the carrying itself is not the student's work.
        audits = [v.audit for v in values if type(v) in (HostLoader, AuditedLoss) and v.audit is not None]
        self.audit: DeviceAudit | None = audits[0] if audits and isinstance(audits[0], DeviceAudit) else None
        with self._trusted():
            model = None if self.model is None else _describe_model(self.model)
            items = tuple(self._item(v) for v in args)  # each object found here joins its list
            named = {str(k): self._item(v) for k, v in kwargs.items()}
            self.call = CarriedCall(
                model=model,
                args=items,
                kwargs=named,
                loaders=tuple(self._loader(loader) for loader in self.loaders),
                optimizers=tuple(_describe_optimizer(o, self.model) for o in self.optimizers),
                losses=tuple(_describe_loss(loss) for loss in self.losses),
                rng=torch.get_rng_state().numpy().copy(),
                grad_enabled=bool(torch.is_grad_enabled()),
                audit=None
                if self.audit is None
                else CallAudit(requested=self.audit.requested_name, batch=self.audit.batch),
            )

    def _trusted(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if self.audit is None else self.audit.trusted()

    def _item(self, value: Any) -> CarriedItem:
        if isinstance(value, _PLAIN):
            return CarriedItem(kind="plain", value=_plain_setting(value, "an argument"))
        if isinstance(value, torch.device):
            return CarriedItem(kind="device", value=str(value))
        if value is self.model:
            return CarriedItem(kind="model", value=0)
        if isinstance(value, torch.optim.Optimizer):
            return CarriedItem(kind="optimizer", value=self._index(self.optimizers, value))
        if isinstance(value, nn.Module):  # not the model: a loss
            return CarriedItem(kind="loss", value=self._index(self.losses, value))
        if type(value) is HostLoader:
            return CarriedItem(kind="loader", value=self._index(self.loaders, value))
        raise CannotCarry(f"a {type(value).__name__}")

    @staticmethod
    def _index(found: list[Any], value: Any) -> int:
        for index, seen in enumerate(found):
            if seen is value:
                return index
        found.append(value)
        return len(found) - 1

    @staticmethod
    def _loader(loader: HostLoader) -> CarriedLoader:
        x, y = loader.x, loader.y
        if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
            raise CannotCarry("a loader whose data was replaced")
        return CarriedLoader(
            x=x.detach().cpu().clone().numpy(), y=y.detach().cpu().clone().numpy(), batch=loader.batch_size
        )

    def restore(self, data: Any) -> Any:
        """Load the reference's answer into the student's objects, in place; the return value.

        The answer is read here, where it arrives (``CarriedAnswer.from_data``); one that is malformed or does
        not fit these objects raises, and the stand-in reports a reference that answered what cannot be loaded.
        """
        answer = CarriedAnswer.from_data(data, "the reference's answer")
        with self._trusted():
            if self.model is not None:
                if answer.model is None:
                    raise ValueError("no state for the model")
                _load_model_state(self.model, answer.model)
                _merge_forwards(self.model, answer.forwards)
            for optimizer, state in zip(self.optimizers, answer.optimizers, strict=True):
                _load_optimizer_state(optimizer, state)
            for loader, passes in zip(self.loaders, answer.passes, strict=True):
                loader.passes += passes
            for loss, summary in zip(self.losses, answer.losses, strict=True):
                if isinstance(loss, AuditedLoss) and summary is not None:
                    _merge_losses(loss, summary)
            torch.set_rng_state(torch.from_numpy(answer.rng))
            if self.audit is not None and answer.audit is not None:
                _merge_audit(self.audit, answer.audit)
            return _live_value(answer.returned)


def _is_loss(value: Any) -> bool:
    return type(value) in (AuditedLoss, nn.CrossEntropyLoss)


def _merge_forwards(model: nn.Module, log: ForwardLog | None) -> None:
    """What the reference's forward passes recorded, added to the harness's records on the student's model."""
    records = {id(h.__self__): h.__self__ for h in model._forward_pre_hooks.values() if hasattr(h, "__self__")}
    for record in records.values():
        if isinstance(record, ForwardRecord) and log is not None:
            record.training.extend(log.forward_training)
            record.grad_enabled.extend(log.forward_grad)
            record.dtypes.extend(log.forward_dtypes)


def _merge_losses(loss: AuditedLoss, record: LossRecord) -> None:
    loss.losses.extend(torch.tensor(v) for v in record.batch_losses)
    loss.sizes.extend(record.batch_sizes)
    loss.correct.extend(torch.tensor(v) for v in record.batch_correct)
    loss.requires_grad.extend(record.loss_requires_grad)


def _merge_audit(audit: DeviceAudit, reference: ReferenceAudit) -> None:
    """What the audit saw in the reference's call, as if the student's process had made it."""
    audit.model_inputs.extend(reference.seen.model_inputs)
    audit.loss_inputs.extend(reference.seen.loss_inputs)
    audit.syncs.extend(["the reference's"] * min(reference.syncs, MAX_ITEMS))  # a report holds no more
    audit.bytes_moved += reference.seen.bytes_moved
    audit.kept_graphs += reference.seen.kept_graphs
    audit.batch = reference.batch


def carry(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[dict[str, Any], Callable[[Any], Any]]:
    """A sibling call as plain data (a :class:`CarriedCall`), and the function that loads the reference's answer
    (student side).

    The call is checked here as the reference's worker will check it, so that what the student's code set
    honestly but no reference could rebuild (a string where a layer wants a number) is refused here, with a
    message for the student, and not in the reference's worker; that worker does not rely on it.
    """
    carrier = _Carrier(args, kwargs)
    data = carrier.call.to_data()
    try:
        CarriedCall.from_data(data, "the call")
    except MalformedData as refused:
        raise CannotCarry(f"what the reference cannot rebuild ({refused})"[:MAX_TEXT]) from None
    return data, carrier.restore


def sibling_harness() -> Harness:
    """Run the reference's function on the objects a carried call describes; their new state, as plain data.

    The call is read where it arrives (``CarriedCall.from_data``): a malformed one raises
    :class:`~autograder.sandbox.harness_types.MalformedData` naming the field, before anything is built, and the
    grader answers the student's call as a reference call that failed.
    """

    def run(function: Callable[..., Any], data: Any) -> dict[str, Any]:
        call = CarriedCall.from_data(data, "the carried call")
        with controlled(0):
            torch.set_rng_state(torch.from_numpy(call.rng))
            audit = None if call.audit is None else DeviceAudit(torch.device(call.audit.requested))
            if audit is not None and call.audit is not None:
                audit.batch = call.audit.batch
            model = None if call.model is None else _rebuild_model(call.model)
            forwards = None if model is None or audit is None else ForwardRecord(model, audit)
            loaders = [HostLoader(torch.from_numpy(d.x), torch.from_numpy(d.y), d.batch, audit) for d in call.loaders]
            optimizers = [_rebuild_optimizer(d, model, audit) for d in call.optimizers]
            losses = [_rebuild_loss(d, audit) for d in call.losses]
            built: dict[str, list[Any]] = {"model": [model], "loader": loaders, "optimizer": optimizers, "loss": losses}

            def live(item: CarriedItem) -> Any:
                if item.kind == "plain":
                    return item.value
                if item.kind == "device":
                    return torch.device(str(item.value))
                return built[item.kind][int(item.value or 0)]  # an index the call's from_data checked

            args = [live(item) for item in call.args]
            kwargs = {key: live(item) for key, item in call.kwargs.items()}
            with torch.set_grad_enabled(call.grad_enabled), audit or contextlib.nullcontext():
                returned = function(*args, **kwargs)
            answer = CarriedAnswer(
                returned=_plain_value(returned),
                model=None if model is None else _model_state(model),
                forwards=None if forwards is None else forwards.summary(),
                optimizers=tuple(_optimizer_state(o) for o in optimizers),
                passes=tuple(loader.passes for loader in loaders),
                losses=tuple(loss.summary() if isinstance(loss, AuditedLoss) else None for loss in losses),
                rng=torch.get_rng_state().numpy().copy(),
                # How often it synchronised, not with what call: values, not how the reference is written.
                audit=None
                if audit is None
                else ReferenceAudit(seen=replace(audit.report(), syncs=()), syncs=len(audit.syncs), batch=audit.batch),
            )
        return answer.to_data()

    return run


# Each harness by name (its spec and report types are harness_types.KINDS[name]); the sibling harness takes
# a carried call instead of a spec.
HARNESSES: dict[str, Callable[[Any], Callable[[Callable[..., Any]], Wire | None]]] = {
    "get_device": get_device_harness,
    "make_loader": make_loader_harness,
    "make_mlp": make_mlp_harness,
    "train_one_epoch": train_one_epoch_harness,
    "evaluate": evaluate_harness,
    "fit": fit_harness,
    "timed_epoch": timed_epoch_harness,
    "timed_loader": timed_loader_harness,
}


def harness(name: str, *args: Any) -> Harness:
    """The harness ``name`` for the spec ``args[0]`` (plain data, checked by its type's ``from_data``); it
    returns its report as plain data. An unknown name or a malformed spec is a protocol error."""
    if name == "sibling" and not args:
        return sibling_harness()
    if name not in HARNESSES or len(args) != 1:
        raise ValueError(f"unknown torch harness {name!r} (or not one spec)")
    run = HARNESSES[name](KINDS[name].spec.from_data(args[0]))

    def plain(function: Callable[..., Any]) -> dict[str, Any] | None:
        report = run(function)
        return None if report is None else report.to_data()

    return plain
