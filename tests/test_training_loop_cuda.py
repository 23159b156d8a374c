"""The device audit on a real GPU, and CPU/CUDA parity of the reference loop (skipped without CUDA).

On a CUDA machine the harnesses ask for ``cuda:0`` with the host still ``cpu``: the same checks as on the
CPU-only grader then see real transfers, and the reference gives the same results on both devices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import pytest
import torch

from autograder.exercises import load_assignment
from autograder.exercises.training_loop import OVERFIT
from autograder.grading.references import load_references
from autograder.sandbox.harness_types import (
    EVALUATE,
    FIT,
    MAKE_LOADER,
    TRAIN_ONE_EPOCH,
    DataSpec,
    EvaluateSpec,
    HarnessKind,
    LoaderSpec,
    ModelSpec,
    OptimizerSpec,
    TrainSpec,
    Wire,
)
from autograder.sandbox.torch_harness import harness

pytestmark = [
    pytest.mark.training_loop,
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU"),
]

# No dropout: CPU and CUDA draw different random masks from the same seed.
TRAINING = TrainSpec(
    model=ModelSpec(d_in=6, hidden=(16, 8), d_out=3, dropout=0.0, batchnorm=True, seed=3),
    data=DataSpec(n=70, batch_size=16, seed=4),
    optimizer=OptimizerSpec(name="adam", lr=0.01),
    amp=False,
    seed=5,
)
EVALUATION = EvaluateSpec(model=TRAINING.model, data=TRAINING.data, mode="train", seed=5)
S = TypeVar("S", bound=Wire)
R = TypeVar("R", bound=Wire)


@pytest.fixture(scope="module")
def reference() -> dict[str, Callable[..., Any]]:
    assignment = load_assignment("05_training_loop")
    references = load_references(assignment)
    assert references is not None
    return {name: references.function(name) for name in assignment.functions}


def run(kind: HarnessKind[S, R], spec: S, function: Callable[..., Any], device: str | None = None) -> R:
    """The harness ``kind`` on ``spec`` (asking for ``device``), its report read as the grader reads it."""
    assert kind.report is not None
    return kind.report.from_data(harness(kind.name, replace(spec, device=device).to_data())(function))


def test_batches_reach_the_model_on_the_gpu(reference: dict[str, Callable[..., Any]]) -> None:
    audit = run(TRAIN_ONE_EPOCH, TRAINING, reference["train_one_epoch"], "cuda").audit
    assert audit.requested == "cuda:0"
    assert set(audit.model_inputs) == set(audit.loss_inputs) == {"cuda:0"}
    assert audit.syncs == ("item",) and audit.kept_graphs == 0


def test_a_loop_that_forgets_to_move_is_caught_on_the_gpu_too() -> None:
    def forgetful(model, loader, loss_fn, optimizer, device, amp=False):  # type: ignore[no-untyped-def]
        for xb, yb in loader:
            optimizer.zero_grad()
            try:
                loss_fn(model(xb), yb).backward()  # a CPU batch and a CUDA model: PyTorch refuses
            except RuntimeError:
                return 0.0
            optimizer.step()
        return 0.0

    assert run(TRAIN_ONE_EPOCH, TRAINING, forgetful, "cuda").audit.model_inputs[0] == "cpu"


def test_the_loader_keeps_batches_on_the_gpu_and_moves_the_data_once(reference: dict[str, Callable[..., Any]]) -> None:
    spec = LoaderSpec(n=50, d=3, batch_size=8, shuffle=True, seed=1)
    report = run(MAKE_LOADER, spec, reference["make_loader"], "cuda")
    assert {d for p in report.passes for d in p.devices} == {"cuda:0"}
    assert report.bytes_moved <= report.data_bytes


def test_cpu_and_cuda_agree_on_an_epoch(reference: dict[str, Callable[..., Any]]) -> None:
    cpu = run(TRAIN_ONE_EPOCH, TRAINING, reference["train_one_epoch"])
    cuda = run(TRAIN_ONE_EPOCH, TRAINING, reference["train_one_epoch"], "cuda")
    assert cpu.returned is not None and cuda.returned is not None
    assert np.allclose(cpu.returned, cuda.returned, rtol=1e-4, atol=1e-5)
    for a, b in zip(cpu.state, cuda.state, strict=True):
        assert np.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_cpu_and_cuda_agree_on_an_evaluation(reference: dict[str, Callable[..., Any]]) -> None:
    cpu = run(EVALUATE, EVALUATION, reference["evaluate"])
    cuda = run(EVALUATE, EVALUATION, reference["evaluate"], "cuda")
    assert cpu.returned is not None and cuda.returned is not None
    assert np.allclose(np.array(cpu.returned, dtype=float), np.array(cuda.returned, dtype=float), rtol=1e-4, atol=1e-5)
    for a, b in zip(cpu.state_after, cuda.state_after, strict=True):
        assert np.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fit_agrees_on_cpu_and_cuda(reference: dict[str, Callable[..., Any]]) -> None:
    spec = replace(OVERFIT, epochs=5, patience=2)
    cpu, cuda = run(FIT, spec, reference["fit"]).history, run(FIT, spec, reference["fit"], "cuda").history
    assert cpu is not None and cuda is not None
    for key in ("train_loss", "val_loss", "val_acc"):
        assert np.allclose(np.array(cpu[key], dtype=float), np.array(cuda[key], dtype=float), rtol=1e-3, atol=1e-4)
