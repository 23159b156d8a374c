"""How long each solution notebook takes to run top to bottom in a fresh kernel, quiet and loaded.

    python bench/notebook_runtime.py            # every assignment
    python bench/notebook_runtime.py --quick    # 02_activations only (CI)

A lesson a student reruns must run in under a minute on 2 cores (05_training_loop's capstone is allowed
a few minutes). Each notebook runs with nbclient in a new ``python3`` kernel from the repository root, as
a student's Jupyter runs it; a cell that raises is an error, not a figure.

Each notebook is run twice: on the machine as it is ("quiet"), then "loaded", with one busy process per core
this process may use running beside it for the whole run, as on a shared machine or a laptop with a build
running. All quiet runs come first: the load average (which ``course_lib.threads`` reads) remembers a
loaded run for a minute or more. The notebooks that choose PyTorch's threads print the choice, and the
table shows it. A second table times one training step of the capstone's large network with 1 thread and
with one per core, quiet and loaded: why notebook 05 chooses its threads.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from benchlib import ROOT, machine_summary, print_table

from autograder.exercises import known_assignments, load_assignment
from course_lib.threads import usable_cores

TARGET_SECONDS = {"05_training_loop": 300.0}  # the capstone; every other notebook: 60 s
DEFAULT_TARGET = 60.0
THREADS_LINE = re.compile(r"computing with (\d+) thread")

# One training step of the capstone's large MLP [256, 256, 256], batch 128, Adam; prints the mean in ms.
STEP_SCRIPT = """
import sys, time, torch
from torch import nn
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                      nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 4))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(128, 10), torch.randint(0, 4, (128,))
loss_fn = nn.CrossEntropyLoss()
def step():
    optimizer.zero_grad()
    loss_fn(model(x), y).backward()
    optimizer.step()
for _ in range(20):
    step()
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < float(sys.argv[2]):
    step()
    steps += 1
print(1000 * (time.perf_counter() - start) / steps)
"""


@dataclass
class Run:
    seconds: float
    threads: str  # what the notebook chose ("" when it chooses nothing)
    load: float  # the one-minute load average when the run started


@contextlib.contextmanager
def busy_machine(processes: int) -> Iterator[None]:
    """``processes`` processes that keep a core busy each, for as long as the block runs."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL) for _ in range(processes)
    ]
    try:
        time.sleep(1.0)  # let them start before what is measured does
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


def run_notebook(assignment_id: str) -> Run:
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "solutions" / assignment_id / load_assignment(assignment_id).notebook
    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    NotebookClient(notebook, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    seconds = time.perf_counter() - started
    printed = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []) if "text" in output
    )
    threads = THREADS_LINE.search(printed)
    return Run(seconds, threads.group(1) if threads else "", load)


def step_milliseconds(threads: int, seconds: float) -> float:
    done = subprocess.run(
        [sys.executable, "-c", STEP_SCRIPT, str(threads), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="02_activations only")
    options = parser.parse_args()
    assignments = ["02_activations"] if options.quick else known_assignments()
    cores = usable_cores()
    print(machine_summary())
    print(f"solution notebooks run top to bottom in a fresh kernel; loaded: {cores} busy processes beside each run\n")

    quiet = {assignment_id: run_notebook(assignment_id) for assignment_id in assignments}
    with busy_machine(cores):
        loaded = {assignment_id: run_notebook(assignment_id) for assignment_id in assignments}
    rows = []
    for assignment_id in assignments:
        q, busy = quiet[assignment_id], loaded[assignment_id]
        target = TARGET_SECONDS.get(assignment_id, DEFAULT_TARGET)
        threads = f"{q.threads} / {busy.threads}" if q.threads or busy.threads else "-"
        rows.append(
            [
                assignment_id,
                f"{q.seconds:.1f}",
                f"{busy.seconds:.1f}",
                f"{busy.seconds / q.seconds:.1f}",
                f"{q.load:.1f} / {busy.load:.1f}",
                threads,
                f"{target:g}",
                "ok" if q.seconds < target else "over target",
            ]
        )
    header = ["assignment", "quiet s", "loaded s", "loaded/quiet", "load at start", "threads", "target s", "verdict"]
    print_table(header, rows)

    print(f"\none training step of the capstone's large MLP (batch 128), mean ms; loaded: {cores} busy processes\n")
    seconds = 2.0 if options.quick else 10.0
    step_rows = []
    for count in sorted({1, cores}):
        quiet_ms = step_milliseconds(count, seconds)
        with busy_machine(cores):
            loaded_ms = step_milliseconds(count, seconds)
        step_rows.append([str(count), f"{quiet_ms:.2f}", f"{loaded_ms:.2f}"])
    print_table(["threads", "quiet ms", "loaded ms"], step_rows)


if __name__ == "__main__":
    main()
