"""Figure 1, student feedback latency: the wall time of `autograder check` on each assignment's notebook.

Each run is a fresh process (`python -m autograder check PATH`), so interpreter start-up, imports and the
worker's start are all counted: this is what a student waits for after pressing Enter. Three notebooks per
assignment: the instructor's solution (every public property runs and holds), the same notebook with one
classic mistake planted in a last cell (a failure is shrunk to its smallest input), and the student's
notebook as released (every function still the stub).

Each assignment starts with an empty example bank (``AUTOGRADER_CACHE``), as on a student's first day. The
public properties' examples ship with the package, drawn when it was installed (``autograder/shipped/``), so
no check draws them; the bench says first whether that layer serves every public property (it does not
after a catalogue was edited since the install: ``pip install -e .`` again), since without it every first
check would draw its examples.

    python bench/feedback_latency.py            # 5 runs of each notebook
    python bench/feedback_latency.py --quick    # 1 run of each, first assignment only (CI)

Each notebook is checked twice over, side by side: with the warm service (``autograder/service.py``: the
first check starts it, the later ones are answered by it) and with it switched off
(``AUTOGRADER_SERVICE=off``: every check is a process of its own, as before the service). Each way starts
from an empty example bank of its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine_summary, planted_bugs, print_table

from autograder import service
from autograder.exercises import known_assignments, load_assignment
from autograder.grade import grade_submission
from autograder.grading import example_bank
from autograder.grading.runner import CHECK, PUBLIC_SEED, examples_per_property, property_seed
from autograder.grading.submission import load_submission

WARM_TARGET_SECONDS = 1.0  # a whole NumPy notebook, service warm (BENCHMARKS.md)
WARM_TARGETS = {"05_training_loop": 3.0}  # PyTorch models trained in the checks


def shipped_share(assignment_id: str) -> tuple[int, int]:
    """How many of ``assignment_id``'s public drawn properties the shipped layer serves, of how many."""
    assignment = load_assignment(assignment_id)
    count = examples_per_property(assignment, CHECK)
    public = [p for p in assignment.properties if p.public and p.strategy is not None]
    served = [example_bank.shipped_examples(p, property_seed(PUBLIC_SEED, p), count) is not None for p in public]
    return sum(served), len(public)


def notebook_with_bug(solution: Path, bug_source: str, folder: Path) -> Path:
    """A copy of the solution notebook whose last cell redefines one function with a classic mistake."""
    notebook = json.loads(solution.read_text(encoding="utf-8"))
    notebook["cells"].append(
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": bug_source}
    )
    path = folder / solution.name
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def check_seconds(path: Path, cache: Path, warm: bool) -> float:
    """Wall time of one `autograder check` process; a run that does not exit 0 is an error, not a figure."""
    environment = {**os.environ, "AUTOGRADER_CACHE": str(cache), service.SERVICE_VARIABLE: "on" if warm else "off"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"autograder check {path} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def stop_service(cache: Path) -> None:
    previous = os.environ.get("AUTOGRADER_CACHE")
    os.environ["AUTOGRADER_CACHE"] = str(cache)
    try:
        service.stop()
    finally:
        if previous is None:
            del os.environ["AUTOGRADER_CACHE"]
        else:
            os.environ["AUTOGRADER_CACHE"] = previous


# -- the in-notebook check, in a real Jupyter kernel -------------------------------------------------------------
KERNEL_ASSIGNMENTS = ["01_neurons", "02_activations", "03_gradient_descent", "04_regularization"]  # NumPy
REPEAT_TARGET_SECONDS = 0.15  # in-notebook check, repeat call, NumPy assignments (BENCHMARKS.md)
FIRST_TARGET_SECONDS = 0.5  # in-notebook check, first call in a fresh kernel


class Kernel:
    """A real IPython kernel (jupyter_client) in ``folder``, which runs cells and times checks in itself."""

    def __init__(self, folder: Path, environment: dict[str, str]) -> None:
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        # The kernel's own log lines (a warning about TCP on the loopback) would mix with the tables.
        self.manager.start_kernel(cwd=str(folder), env=environment, stderr=subprocess.DEVNULL)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, source: str) -> str:
        """Run one cell as a notebook does (kept in the kernel's history); its printed output."""
        reply_to = self.client.execute(source)
        output = []
        while True:
            message = self.client.get_iopub_msg(timeout=600)
            if message["parent_header"].get("msg_id") != reply_to:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                raise SystemExit(f"a cell failed in the kernel: {content['ename']}: {content['evalue']}\n{source}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(output)

    def check_seconds(self, function: str) -> tuple[float, str]:
        """``autograde.check(function)`` alone in a cell, as a student writes it: the wall time from sending the
        cell to the kernel's going idle, messaging included (what the student waits for). No timing code goes
        into the cell, so a repeat is the same history a student's Shift-Enter leaves."""
        started = time.perf_counter()
        feedback = self.run(f"autograde.check({function})")
        return time.perf_counter() - started, feedback

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def notebook_setup_cells(notebook: Path) -> list[str]:
    """The solution's code cells that a student runs before checking: all but the check and points cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    code = [s for c, s in zip(cells, sources, strict=True) if c["cell_type"] == "code"]
    return [s for s in code if "autograde.check(" not in s and "autograde.points(" not in s]


def bug_of(assignment_id: str) -> tuple[str, str, str]:
    """``(bug name, function, source)`` of a planted mistake that a public check catches (shrunk when found)."""
    bugs = planted_bugs(assignment_id)
    preferred = {"02_activations": "softmax_without_max_shift"}  # the failing softmax issue 16 measured at 1.6 s
    name, source = next(((n, s) for n, s in bugs if n == preferred.get(assignment_id)), bugs[0])
    function = re.search(r"^def (\w+)", source, re.MULTILINE)
    assert function is not None, name
    return name, function.group(1), source


def in_notebook_rows(assignment_id: str, scratch: Path, cache: Path, service_on: bool, repeats: int) -> list[list[str]]:
    """One fresh kernel on the solution notebook: the first check, ``repeats`` more of the correct function,
    then the same function redefined with a planted bug (an edit) and checked ``repeats`` more times: the
    first check after the edit grades new code, the ones after it repeat unchanged code."""
    assignment = load_assignment(assignment_id)
    folder = scratch / f"kernel-{assignment_id}-{'on' if service_on else 'off'}"
    folder.mkdir()
    solution = ROOT / "solutions" / assignment_id / assignment.notebook
    shutil.copy(solution, folder / assignment.notebook)  # the saved notebook the kernel runs
    environment = {**os.environ, "AUTOGRADER_CACHE": str(cache), "JPY_SESSION_NAME": assignment.notebook}
    environment[service.SERVICE_VARIABLE] = "on" if service_on else "off"
    environment["MPLBACKEND"] = "agg"
    bug, function, source = bug_of(assignment_id)
    kernel = Kernel(folder, environment)
    try:
        for cell in notebook_setup_cells(solution):
            kernel.run(cell)
        first, text = kernel.check_seconds(function)
        if not all_hold(text):
            raise SystemExit(f"the solution's {function} did not pass its checks in the kernel:\n{text}")
        correct = [kernel.check_seconds(function)[0] for _ in range(repeats)]
        kernel.run(source)
        failing = [kernel.check_seconds(function) for _ in range(repeats + 1)]
        if not all(text == failing[0][1] for _, text in failing):
            raise SystemExit(f"checks of unchanged {bug} code gave different feedback:\n{failing[0][1]}")
        if all_hold(failing[0][1]):
            raise SystemExit(f"{bug} passed its checks in the kernel:\n{failing[0][1]}")
    finally:
        kernel.close()
    way = "on" if service_on else "off"
    return [
        [assignment_id, way, f"{function} (correct)", f"{first:.3f}", f"{statistics.median(correct):.3f}"],
        [
            assignment_id,
            way,
            f"{function} ({bug})",
            f"{failing[0][0]:.3f}",
            f"{statistics.median(s for s, _ in failing[1:]):.3f}",
        ],
    ]


def ahead_rows(assignment_id: str, runs: int) -> list[str]:
    """A check of the solution notebook graded in this process (as the warm service grades it), with each
    function's worker started while the one before it works and without, alternating; medians."""
    assignment = load_assignment(assignment_id)
    submission = load_submission(ROOT / "solutions" / assignment_id / assignment.notebook)
    grade_submission(submission, assignment, CHECK, PUBLIC_SEED)  # imports, zygote, examples: as the service has them
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(runs):
        for ahead in (True, False):
            mode = dataclasses.replace(CHECK, start_workers_ahead=ahead)
            started = time.perf_counter()
            grade_submission(submission, assignment, mode, PUBLIC_SEED)
            seconds[ahead].append(time.perf_counter() - started)
    on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
    return [assignment_id, str(len(assignment.functions)), f"{off:.3f}", f"{on:.3f}", f"{off / on:.2f}x"]


def all_hold(feedback: str) -> bool:
    """Whether a check's feedback says that every public property held (``7/7 public properties hold``)."""
    found = re.search(r"(\d+)/(\d+) public properties hold", feedback)
    return found is not None and found.group(1) == found.group(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run of each notebook of the first assignment")
    parser.add_argument("--runs", type=int, default=5, help="runs of each notebook after the first (default 5)")
    options = parser.parse_args()
    runs = 1 if options.quick else options.runs
    kernel_repeats = 2 if options.quick else max(options.runs, 5)
    assignments = ["02_activations"] if options.quick else known_assignments()

    print(machine_summary())
    shares = {assignment_id: shipped_share(assignment_id) for assignment_id in assignments}
    print(
        "shipped examples serve "
        + ", ".join(f"{served} of {public} public properties of {a}" for a, (served, public) in shares.items())
    )
    if any(served < public for served, public in shares.values()):
        print("warning: the shipped examples are stale or missing (pip install -e . draws them again)")
    print(
        f"`autograder check` wall time of a fresh process: the first run (an empty example bank; with the service "
        f"on, it is also started) and the median of {runs} more, with the warm service and without it\n"
    )
    rows, kernel_rows = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for assignment_id in assignments:
            assignment = load_assignment(assignment_id)
            solution = ROOT / "solutions" / assignment_id / assignment.notebook
            released = ROOT / "assignments" / assignment_id / assignment.notebook
            bugs = planted_bugs(assignment_id)
            folder = Path(scratch) / assignment_id
            folder.mkdir()
            notebooks = {"correct (solution)": solution, "student stub": released}
            if bugs:
                name, source = bugs[0]
                notebooks[f"buggy ({name})"] = notebook_with_bug(solution, source, folder)
            target = WARM_TARGETS.get(assignment_id, WARM_TARGET_SECONDS)
            figures: dict[bool, dict[str, tuple[float, float]]] = {}
            for warm in (False, True):
                cache = folder / ("bank-warm" if warm else "bank-cold")
                try:
                    for variant, path in notebooks.items():
                        first = check_seconds(path, cache, warm)
                        times = [check_seconds(path, cache, warm) for _ in range(runs)]
                        figures.setdefault(warm, {})[variant] = (first, statistics.median(times))
                finally:
                    if warm:
                        stop_service(cache)
            for variant in notebooks:
                (cold_first, cold_median), (warm_first, warm_median) = figures[False][variant], figures[True][variant]
                verdict = "ok" if warm_median < target else "over target"
                rows.append(
                    [
                        assignment_id,
                        variant,
                        f"{cold_first:.2f}",
                        f"{cold_median:.2f}",
                        f"{warm_first:.2f}",
                        f"{warm_median:.2f}",
                        f"{cold_median / warm_median:.1f}x",
                        f"{verdict} (< {target:g} s)",
                    ]
                )
            if assignment_id not in KERNEL_ASSIGNMENTS:
                continue
            warm_bank = folder / "bank-warm"
            try:  # the service started and warm, as after a student's first check of the day
                check_seconds(solution, warm_bank, warm=True)
                kernel_rows += in_notebook_rows(assignment_id, Path(scratch), warm_bank, True, kernel_repeats)
            finally:
                stop_service(warm_bank)
            if not options.quick:
                kernel_rows += in_notebook_rows(
                    assignment_id, Path(scratch), folder / "bank-cold", False, kernel_repeats
                )
    header = ["assignment", "notebook", "off: first s", "off: median s", "on: first s", "on: median s"]
    print_table([*header, "speed-up", "warm median"], rows)
    print(
        f"\n`autograde.check(fn)` alone in a cell of a real Jupyter kernel (jupyter_client) on the solution "
        f"notebook, from sending the cell to the kernel going idle: the correct function's first call in a fresh "
        f"kernel (the service already warm, or off) and the median of {kernel_repeats} repeats; then the function "
        f"redefined with a planted mistake: its first check after that edit (a failing check, shrunk) and the "
        f"median of {kernel_repeats} repeats. Targets: first call under {FIRST_TARGET_SECONDS:g} s, repeats under "
        f"{REPEAT_TARGET_SECONDS:g} s\n"
    )
    print_table(
        ["assignment", "service", "function", "first call (or after the edit) s", "repeat median s"], kernel_rows
    )
    print(
        f"\nA check's grading alone, in this process as the warm service does it: each function's worker started "
        f"while the one before it works (as checks do) or not, alternating, medians of {runs + 2}\n"
    )
    ahead = [ahead_rows(assignment_id, runs + 2) for assignment_id in assignments]
    print_table(["assignment", "functions", "not ahead s", "ahead s", "speed-up"], ahead)


if __name__ == "__main__":
    main()
