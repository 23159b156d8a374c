"""Figure 1, student feedback latency: the wall time of `autograder check` on each assignment's notebook.

Each run is a fresh process (`python -m autograder check PATH`), so interpreter start-up, imports and the
worker's start are all counted: this is what a student waits for after pressing Enter. Three notebooks per
assignment: the instructor's solution (every public property runs and holds), the same notebook with one
classic mistake planted in a last cell (a failure is shrunk to its smallest input), and the student's
notebook as released (every function still the stub).

Each assignment starts with an empty example bank (``AUTOGRADER_CACHE``): the first run draws every public
property's examples with Hypothesis and stores them, as a student's first check does; the runs after it
replay them, as every later check does. The target is for the later runs.

    python bench/feedback_latency.py            # 5 runs of each notebook
    python bench/feedback_latency.py --quick    # 1 run of each, first assignment only (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine_summary, planted_bugs, print_table

from autograder.catalogue import known_assignments, load_assignment

TARGET_SECONDS = 2.0  # a student iterates in seconds (BENCHMARKS.md)


def notebook_with_bug(solution: Path, bug_source: str, folder: Path) -> Path:
    """A copy of the solution notebook whose last cell redefines one function with a classic mistake."""
    notebook = json.loads(solution.read_text(encoding="utf-8"))
    notebook["cells"].append(
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": bug_source}
    )
    path = folder / solution.name
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def check_seconds(path: Path, cache: Path) -> float:
    """Wall time of one cold `autograder check` run; a run that does not exit 0 is an error, not a figure."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "AUTOGRADER_CACHE": str(cache)},
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"autograder check {path} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run of each notebook of the first assignment")
    parser.add_argument("--runs", type=int, default=5, help="runs of each notebook after the first (default 5)")
    options = parser.parse_args()
    runs = 1 if options.quick else options.runs
    assignments = ["02_activations"] if options.quick else known_assignments()

    print(machine_summary())
    print(
        f"`autograder check` wall time, cold start included: the first run (examples drawn) and {runs} more "
        f"(examples replayed); target < {TARGET_SECONDS:g} s\n"
    )
    rows = []
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
            cache = folder / "bank"
            for variant, path in notebooks.items():
                first = check_seconds(path, cache)
                times = [check_seconds(path, cache) for _ in range(runs)]
                best, median = min(times), statistics.median(times)
                verdict = "ok" if median < TARGET_SECONDS else "over target"
                row = [assignment_id, variant, f"{first:.2f}", f"{best:.2f}", f"{median:.2f}", f"{max(times):.2f}"]
                rows.append([*row, verdict])
    header = ["assignment", "notebook", "first s", "best s", "median s", "worst s", f"median < {TARGET_SECONDS:g} s"]
    print_table(header, rows)


if __name__ == "__main__":
    main()
