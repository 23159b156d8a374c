"""The device audit on a real GPU, and CPU/CUDA parity of the reference loop (skipped without CUDA).

On a CUDA machine the harnesses ask for ``cuda:0`` with the host still ``cpu``: the same checks as on the
CPU-only grader then see real transfers, and the reference gives the same results on both devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from autograder.exercises import load_assignment
from autograder.exercises.training_loop import OVERFIT
from autograder.grading.references import load_references
from autograder.sandbox.torch_harness import harness

pytestmark = [
    pytest.mark.training_loop,
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU"),
]

# No dropout: CPU and CUDA draw different random masks from the same seed.
TRAINING = {
    "model": {"d_in": 6, "hidden": [16, 8], "d_out": 3, "dropout": 0.0, "batchnorm": True, "seed": 3},
    "data": {"n": 70, "batch_size": 16, "seed": 4},
    "optimizer": {"name": "adam", "lr": 0.01},
    "amp": False,
    "seed": 5,
}


@pytest.fixture(scope="module")
def reference() -> dict[str, Callable[..., Any]]:
    assignment = load_assignment("05_training_loop")
    references = load_references(assignment)
    assert references is not None
    return {name: references.function(name) for name in assignment.functions}


def on(device: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "device": device}


def test_batches_reach_the_model_on_the_gpu(reference: dict[str, Callable[..., Any]]) -> None:
    report = harness("train_one_epoch", on("cuda", TRAINING))(reference["train_one_epoch"])
    assert report["requested"] == "cuda:0"
    assert set(report["model_inputs"]) == set(report["loss_inputs"]) == {"cuda:0"}
    assert report["syncs"] == ["item"] and report["kept_graphs"] == 0


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

    report = harness("train_one_epoch", on("cuda", TRAINING))(forgetful)
    assert report["model_inputs"][0] == "cpu"


def test_the_loader_keeps_batches_on_the_gpu_and_moves_the_data_once(reference: dict[str, Callable[..., Any]]) -> None:
    spec = {"n": 50, "d": 3, "batch_size": 8, "shuffle": True, "seed": 1, "device": "cuda"}
    report = harness("make_loader", spec)(reference["make_loader"])
    assert {d for p in report["passes"] for d in p["devices"]} == {"cuda:0"}
    assert report["bytes_moved"] <= report["data_bytes"]


@pytest.mark.parametrize("name", ["train_one_epoch", "evaluate"])
def test_cpu_and_cuda_agree(name: str, reference: dict[str, Callable[..., Any]]) -> None:
    spec = TRAINING if name == "train_one_epoch" else {**TRAINING, "mode": "train"}
    cpu = harness(name, spec)(reference[name])
    cuda = harness(name, on("cuda", spec))(reference[name])
    assert np.allclose(cpu["returned"], cuda["returned"], rtol=1e-4, atol=1e-5)
    for key in ("state", "state_after"):
        for a, b in zip(cpu.get(key, []), cuda.get(key, []), strict=True):
            assert np.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fit_agrees_on_cpu_and_cuda(reference: dict[str, Callable[..., Any]]) -> None:
    spec = {**OVERFIT, "epochs": 5, "patience": 2}
    cpu = harness("fit", spec)(reference["fit"])
    cuda = harness("fit", on("cuda", spec))(reference["fit"])
    for key in ("train_loss", "val_loss", "val_acc"):
        assert np.allclose(cpu["history"][key], cuda["history"][key], rtol=1e-3, atol=1e-4)
