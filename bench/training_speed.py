"""How fast the reference training loop is: against scikit-learn, against a DataLoader, and in throughput.

Run ``python bench/training_speed.py`` (``--quick`` for CI). It prints, measured side by side in one run
on this machine:

1. time to a target test accuracy on scikit-learn's digits (97%) for the reference loop (notebook 05's
   ``make_loader``, ``make_mlp``, ``train_one_epoch``, ``evaluate``) and for scikit-learn's
   ``MLPClassifier`` with the same network, optimizer and batch size, one epoch at a time, and the ratio;
2. the reference loop's epoch time with its in-memory, on-device batches against the same loop fed by
   ``DataLoader(TensorDataset(...))``, which builds each batch one example at a time;
3. the training throughput of the capstone's large MLP at the notebook's default size, in samples per
   second and floating-point operations per second; on CUDA, also at a large size and as a fraction of
   the GPU's measured matrix-multiply peak.

The reference functions are read from ``solutions/05_training_loop/training_loop.ipynb``, the same way
the grader reads them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.exercises import load_assignment  # noqa: E402
from autograder.grading.references import load_references  # noqa: E402
from course_lib.training import digits_split, teacher_dataset  # noqa: E402

HIDDEN = [256]  # the digits network of notebook 05
LEARNING_RATE = 3e-3
BATCH = 32
CAPSTONE_HIDDEN = [256, 256, 256]  # the capstone's large MLP
CAPSTONE_SIZE = 30_000  # its largest default training set (a fifth is held out for validation)


def reference_functions() -> dict[str, Callable[..., Any]]:
    references = load_references(load_assignment("05_training_loop"), ROOT)
    if references is None:
        raise SystemExit("bench/training_speed.py needs solutions/05_training_loop/training_loop.ipynb")
    names = ("make_loader", "make_mlp", "train_one_epoch", "evaluate")
    return {name: references.function(name) for name in names}


def time_to_accuracy_torch(
    ref: dict[str, Callable[..., Any]], target: float, max_epochs: int, seed: int = 0
) -> tuple[float, int, float]:
    """Seconds, epochs and test accuracy of the reference loop when it first reaches ``target``."""
    x_train, y_train, _, _, x_test, y_test = digits_split(seed=0)
    device = torch.device("cpu")
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = ref["make_mlp"](64, HIDDEN, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    train = ref["make_loader"](x_train, y_train, BATCH, True, seed, device)
    test = ref["make_loader"](x_test, y_test, 4096, False, 0, device)
    accuracy = 0.0
    for epoch in range(1, max_epochs + 1):
        ref["train_one_epoch"](model, train, nn.CrossEntropyLoss(), optimizer, device)
        accuracy = ref["evaluate"](model, test, nn.CrossEntropyLoss(), device)[1]
        if accuracy >= target:
            return time.perf_counter() - start, epoch, accuracy
    return time.perf_counter() - start, max_epochs, accuracy


def time_to_accuracy_sklearn(target: float, max_epochs: int, seed: int = 0) -> tuple[float, int, float]:
    """The same for ``MLPClassifier`` (one ``partial_fit`` call per epoch)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, y_train, _, _, x_test, y_test = digits_split(seed=0)
    start = time.perf_counter()
    classifier = MLPClassifier(
        hidden_layer_sizes=tuple(HIDDEN),
        solver="adam",
        learning_rate_init=LEARNING_RATE,
        batch_size=BATCH,
        random_state=seed,
    )
    accuracy = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, max_epochs + 1):
            classifier.partial_fit(x_train, y_train, classes=np.arange(10))
            accuracy = float(classifier.score(x_test, y_test))
            if accuracy >= target:
                return time.perf_counter() - start, epoch, accuracy
    return time.perf_counter() - start, max_epochs, accuracy


def epoch_seconds(ref: dict[str, Callable[..., Any]], loader: Any, repeats: int) -> float:
    """The best time of one training epoch of the digits network over ``loader``."""
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = ref["make_mlp"](64, HIDDEN, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ref["train_one_epoch"](model, loader, nn.CrossEntropyLoss(), optimizer, device)
        times.append(time.perf_counter() - start)
    return min(times)


def mlp_flops_per_sample(d_in: int, hidden: list[int], d_out: int) -> int:
    """Floating-point operations to train on one example: 2 per weight forward, 4 backward."""
    widths = [d_in, *hidden, d_out]
    weights = sum(a * b for a, b in zip(widths, widths[1:], strict=False))
    return 6 * weights


def training_throughput(
    ref: dict[str, Callable[..., Any]], device: torch.device, n: int, batch: int, epochs: int
) -> tuple[float, float]:
    """Samples per second and FLOP/s of the capstone's large MLP on ``n`` teacher examples."""
    x, y = teacher_dataset(n, seed=0)
    torch.manual_seed(0)
    model = ref["make_mlp"](x.shape[1], CAPSTONE_HIDDEN, 4).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = ref["make_loader"](x, y, batch, True, 0, device)
    ref["train_one_epoch"](model, loader, nn.CrossEntropyLoss(), optimizer, device)  # warm-up
    start = time.perf_counter()
    for _ in range(epochs):
        ref["train_one_epoch"](model, loader, nn.CrossEntropyLoss(), optimizer, device)  # ends with a sync
    rate = epochs * n / (time.perf_counter() - start)
    return rate, rate * mlp_flops_per_sample(x.shape[1], CAPSTONE_HIDDEN, 4)


def matmul_peak(device: torch.device, n: int = 8192, repeats: int = 20) -> float:
    """FLOP/s of a large float32 matrix product: the practical peak the training could reach."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run for CI: lower target, fewer repeats")
    options = parser.parse_args(argv)
    quick = options.quick
    target, max_epochs = (0.95, 15) if quick else (0.97, 100)
    ref = reference_functions()
    threads = torch.get_num_threads()

    # One thread each, so that neither library's thread pool decides the race; both are warmed up first
    # (PyTorch's optimizers import a compiler stack on their first step: seconds that are not the loop's).
    print(f"digits: time to {target:.0%} test accuracy, MLP {HIDDEN}, Adam lr {LEARNING_RATE}, batch {BATCH}, 1 thread")
    # Which of two runs reaches the target first in a few epochs depends on its seed: the medians over
    # several seeds, each run alternating between the two libraries, say which is faster.
    seeds = range(3 if quick else 9)
    runs: dict[str, list[tuple[float, int, float]]] = {"torch": [], "sklearn": []}
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        time_to_accuracy_torch(ref, 1.0, 1)
        time_to_accuracy_sklearn(1.0, 1)
        for seed in seeds:
            runs["torch"].append(time_to_accuracy_torch(ref, target, max_epochs, seed))
            runs["sklearn"].append(time_to_accuracy_sklearn(target, max_epochs, seed))
    print(f"  medians over {len(seeds)} seeds: seconds, epochs, seconds per epoch, test accuracy reached")
    medians = {}
    for name, label in (("torch", "reference loop (in-memory batches)"), ("sklearn", "scikit-learn MLPClassifier")):
        seconds = statistics.median(run[0] for run in runs[name])
        epochs = statistics.median(run[1] for run in runs[name])
        per_epoch = statistics.median(run[0] / run[1] for run in runs[name])
        accuracy = statistics.median(run[2] for run in runs[name])
        medians[name] = seconds
        print(f"  {label:<36}{seconds:7.2f} s  {epochs:5.1f} epochs  {per_epoch * 1e3:6.1f} ms/epoch  {accuracy:.1%}")
    print(f"  MLPClassifier time / reference time {medians['sklearn'] / medians['torch']:7.2f}x")

    x_train, y_train, *_ = digits_split(seed=0)
    cpu = torch.device("cpu")
    in_memory = ref["make_loader"](x_train, y_train, BATCH, True, 0, cpu)
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(x_train), torch.as_tensor(y_train))
    per_sample = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
    repeats = 3 if quick else 10
    with threadpool_limits(limits=1):
        fast, slow = epoch_seconds(ref, in_memory, repeats), epoch_seconds(ref, per_sample, repeats)
    torch.set_num_threads(threads)
    print("digits: one training epoch of the reference loop, 1 thread")
    print(f"  in-memory batches (make_loader)      {fast * 1e3:7.1f} ms")
    print(f"  DataLoader(TensorDataset)            {slow * 1e3:7.1f} ms")
    print(f"  DataLoader time / make_loader time   {slow / fast:7.2f}x")

    n = 4_000 if quick else int(CAPSTONE_SIZE * 0.8)
    rate, flops = training_throughput(ref, cpu, n, 128, 1 if quick else 3)
    print(f"capstone: large MLP {CAPSTONE_HIDDEN}, {n} examples, batch 128, {torch.get_num_threads()} CPU threads")
    print(f"  cpu                                  {rate:10,.0f} samples/s  {flops / 1e9:8.1f} GFLOP/s")
    if torch.cuda.is_available():
        cuda = torch.device("cuda")
        name = torch.cuda.get_device_name()
        peak = matmul_peak(cuda)
        for size, batch in ((n, 128), (CAPSTONE_SIZE * 30, 1024), (CAPSTONE_SIZE * 30, 8192)):
            rate, flops = training_throughput(ref, cuda, size, batch, 1 if quick else 3)
            print(
                f"  {name}, {size} examples, batch {batch:5d}: {rate:12,.0f} samples/s  {flops / 1e12:7.2f} TFLOP/s "
                f"= {flops / peak:6.1%} of its float32 matmul peak ({peak / 1e12:.1f} TFLOP/s)"
            )
    else:
        print("  cuda                                 not available on this machine")


if __name__ == "__main__":
    main()
