"""How long each solution notebook takes to run top to bottom in a fresh kernel.

    python bench/notebook_runtime.py            # every assignment
    python bench/notebook_runtime.py --quick    # 02_activations only (CI)

A lesson a student reruns must run in under a minute on 2 cores (05_training_loop's capstone is allowed
a few minutes). Each notebook runs with nbclient in a new ``python3`` kernel from the repository root, as
a student's Jupyter runs it; a cell that raises is an error, not a figure.
"""

from __future__ import annotations

import argparse
import time

from benchlib import ROOT, machine_summary, print_table

from autograder.catalogue import known_assignments, load_assignment

TARGET_SECONDS = {"05_training_loop": 300.0}  # the capstone; every other notebook: 60 s
DEFAULT_TARGET = 60.0


def run_seconds(assignment_id: str) -> float:
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "solutions" / assignment_id / load_assignment(assignment_id).notebook
    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    started = time.perf_counter()
    NotebookClient(notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="02_activations only")
    options = parser.parse_args()
    assignments = ["02_activations"] if options.quick else known_assignments()
    print(machine_summary())
    print("solution notebooks run top to bottom in a fresh kernel\n")
    rows = []
    for assignment_id in assignments:
        seconds = run_seconds(assignment_id)
        target = TARGET_SECONDS.get(assignment_id, DEFAULT_TARGET)
        rows.append([assignment_id, f"{seconds:.1f}", f"{target:g}", "ok" if seconds < target else "over target"])
    print_table(["assignment", "seconds", "target s", "verdict"], rows)


if __name__ == "__main__":
    main()
