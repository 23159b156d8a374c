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

Each notebook is checked twice over, side by side: with the warm service (``autograder/service.py``: the
first check starts it, the later ones are answered by it) and with it switched off
(``AUTOGRADER_SERVICE=off``: every check is a process of its own, as before the service). Each way starts
from an empty example bank of its own.
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

from autograder import service
from autograder.exercises import known_assignments, load_assignment

WARM_TARGET_SECONDS = 1.0  # a whole NumPy notebook, service warm (BENCHMARKS.md)
WARM_TARGETS = {"05_training_loop": 3.0}  # PyTorch models trained in the checks


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run of each notebook of the first assignment")
    parser.add_argument("--runs", type=int, default=5, help="runs of each notebook after the first (default 5)")
    options = parser.parse_args()
    runs = 1 if options.quick else options.runs
    assignments = ["02_activations"] if options.quick else known_assignments()

    print(machine_summary())
    print(
        f"`autograder check` wall time of a fresh process: the first run (examples drawn; with the service on, "
        f"it is also started) and the median of {runs} more, with the warm service and without it\n"
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
    header = ["assignment", "notebook", "off: first s", "off: median s", "on: first s", "on: median s"]
    print_table([*header, "speed-up", "warm median"], rows)


if __name__ == "__main__":
    main()
