"""The device audit and the harnesses of 05_training_loop, in process: what they see, and what they miss."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from autograder.exercises.training_loop import OVERFIT, stopping_length
from autograder.sandbox.harness_types import DataSpec, EvaluateSpec, FitReport, ModelSpec
from autograder.sandbox.torch_harness import (
    HOST,
    DeviceAudit,
    harness,
    requested_device,
    simulated_machine,
)

pytestmark = pytest.mark.training_loop

DEVICE = requested_device()


def audit_with_host_batch() -> tuple[DeviceAudit, torch.Tensor]:
    audit = DeviceAudit(DEVICE)
    batch = torch.randn(4, 3)
    audit.place(batch, HOST)
    return audit, batch


def test_the_audit_asks_for_a_device_that_is_not_the_host() -> None:
    assert DEVICE == torch.device("cpu", 0) and DEVICE != torch.device(HOST)


def test_a_move_to_the_device_is_counted_and_what_is_computed_there_stays_there() -> None:
    audit, batch = audit_with_host_batch()
    with audit:
        moved = batch.to(DEVICE, non_blocking=True)
        doubled = moved * 2
        on_host = batch + 1
    assert audit.where(moved) == audit.where(doubled) == "cpu:0"
    assert audit.where(on_host) == HOST and audit.where(batch) == HOST
    assert audit.bytes_moved == batch.nelement() * batch.element_size()
    assert audit.syncs == []


def test_tensor_device_reports_where_the_audit_placed_the_tensor() -> None:
    audit, batch = audit_with_host_batch()
    with audit:
        moved = batch.to(DEVICE)
        assert moved.device == DEVICE and batch.device == torch.device("cpu")
        again = batch.to(moved.device)
    assert audit.where(again) == "cpu:0"


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine .cuda() really moves the tensor")
def test_hard_coded_cuda_runs_on_and_is_recorded_as_the_wrong_device() -> None:
    audit, batch = audit_with_host_batch()
    with audit:
        moved = batch.cuda()
        result = (moved * 2).sum()
    assert audit.where(moved) == audit.where(result) == "cuda:0"
    assert torch.equal(moved, batch)


def test_cpu_and_to_cpu_are_moves_to_the_host_that_make_it_wait() -> None:
    audit, batch = audit_with_host_batch()
    with audit:
        moved = batch.to(DEVICE)
        back = moved.cpu()
        named = moved.to("cpu")
    assert audit.where(back) == audit.where(named) == HOST
    assert audit.syncs == ["cpu", "to"]


def test_item_on_the_device_is_a_sync_and_on_the_host_is_not() -> None:
    audit, batch = audit_with_host_batch()
    with audit:
        batch[0, 0].item()
        moved = batch.to(DEVICE)
        moved[0, 0].item()
        float(moved[0, 0])
        f"{moved[0, 0]:.3f}"
    assert audit.syncs == ["item", "__float__", "__format__"]


def test_moving_a_whole_data_set_per_batch_shows_in_the_bytes_moved() -> None:
    audit = DeviceAudit(DEVICE)
    data = torch.randn(100, 8)
    audit.place(data, HOST)
    with audit:
        for start in range(0, 100, 10):
            data.to(DEVICE)[start : start + 10]
    assert audit.bytes_moved == 10 * data.nelement() * data.element_size()


def test_a_loss_kept_with_its_graph_across_batches_is_counted() -> None:
    layer = torch.nn.Linear(3, 1)
    for detach, kept in ((False, 2), (True, 0)):
        audit = DeviceAudit(DEVICE)
        with audit:
            total = 0
            for batch in range(3):
                audit.batch = batch
                loss = layer(torch.randn(4, 3)).pow(2).mean()
                audit.loss_batches[loss] = batch
                total = total + (loss.detach() if detach else loss)
        assert audit.kept_graphs == kept


def test_simulated_machines_report_what_they_are_told_and_are_undone() -> None:
    real = (torch.cuda.is_available(), torch.backends.mps.is_available())
    with simulated_machine(cuda=True, mps=True):
        assert torch.cuda.is_available() and torch.backends.mps.is_available() and torch.cuda.device_count() == 1
    with simulated_machine(cuda=False, mps=False):
        assert not torch.cuda.is_available() and not torch.backends.mps.is_available()
    assert (torch.cuda.is_available(), torch.backends.mps.is_available()) == real


def test_harnesses_restore_the_global_state_they_change() -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    spec = EvaluateSpec(
        model=ModelSpec(d_in=3, hidden=(4,), d_out=2, seed=0),
        data=DataSpec(n=10, batch_size=4, seed=0),
        mode="train",
        seed=1,
    )
    harness("evaluate", spec.to_data())(lambda model, loader, loss_fn, device: (0.0, 0.0))
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.rand(3), expected)


def test_an_unknown_harness_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown torch harness"):
        harness("nope", {})


@pytest.mark.parametrize(
    ("losses", "patience", "epochs", "expected"),
    [
        ([3.0, 2.0, 2.5, 2.6], 2, 10, 4),  # best at 1; epoch 3 is two epochs later
        ([3.0, 2.0, 2.0, 1.0], 2, 10, 10),  # ties are not improvements, but 1.0 came in time
        ([3.0, 2.0, 1.0], None, 3, 3),
        ([1.0, 2.0], 1, 5, 2),
    ],
)
def test_the_stopping_rule_is_notebook_04s(
    losses: list[float], patience: int | None, epochs: int, expected: int
) -> None:
    assert stopping_length(losses, patience, epochs) == expected


def test_the_overfit_task_really_overfits() -> None:
    """The early-stopping property means something only if the validation loss turns back up."""
    from course_lib.training import epoch_bar  # noqa: F401 - the harness imports it too

    def plain_fit(model, train, val, loss_fn, optimizer, device, epochs, patience=None, progress=False):  # type: ignore[no-untyped-def]
        history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_acc": []}
        for _ in range(epochs):
            for xb, yb in train:
                optimizer.zero_grad()
                loss_fn(model(xb.to(device)), yb.to(device)).backward()
                optimizer.step()
            with torch.no_grad():
                losses = [float(loss_fn(model(xb.to(device)), yb.to(device))) for xb, yb in val]
            history["val_loss"].append(sum(losses) / len(losses))
        return history

    for seed in (0, 1, 2):
        spec = replace(OVERFIT, data_seed=seed, seed=seed, epochs=10)
        history = FitReport.from_data(harness("fit", spec.to_data())(plain_fit)).history
        assert history is not None and not isinstance(history["val_loss"], str)
        val = [float(v) for v in history["val_loss"]]
        best = val.index(min(val))
        assert 0 < best < 7 and val[-1] > min(val) * 1.05, val
