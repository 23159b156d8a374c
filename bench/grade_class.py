"""How long a class takes: ``autograder grade-batch`` on one core against all of them, and a resumed run.

    python bench/grade_class.py [--students N] [--quick]

Builds a class of N notebooks of 02_activations in nbgrader's layout (the sample student notebook and
correct notebooks with real bugs planted, in turn), grades it twice side by side in this run, with
``--jobs 1`` and with ``--jobs`` one per core, each into its own gradebook, then runs the second command
again, which finds every result stored and grades nothing. Prints seconds per submission and the
ratios between the runs. ``--quick`` grades 2 students (for CI, through tests/test_bench.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from batch_helpers import ASSIGNMENT, PLANTED, notebook_with  # noqa: E402


def build(course: Path, students: int) -> None:
    import json

    variants = [json.dumps(notebook_with(bugs)) for bugs in PLANTED.values()]
    variants.append((ROOT / "examples" / ASSIGNMENT / "alex.ipynb").read_text())
    for number in range(students):
        folder = course / "submitted" / f"student{number:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "activations.ipynb").write_text(variants[number % len(variants)])


def grade(course: Path, gradebook: Path, jobs: int) -> float:
    command = [sys.executable, "-m", "autograder", "grade-batch", str(course), "--assignment", ASSIGNMENT]
    command += ["--gradebook", str(gradebook), "--jobs", str(jobs), "--no-progress"]
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(ROOT)}
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"grade-batch failed:\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="2 students")
    options = parser.parse_args()
    students = 2 if options.quick else options.students
    cores = os.cpu_count() or 1
    folder = Path(tempfile.mkdtemp(prefix="bench-class-"))
    try:
        build(folder / "course", students)
        one = grade(folder / "course", folder / "one.db", 1)
        parallel = grade(folder / "course", folder / "all.db", cores)
        resumed = grade(folder / "course", folder / "all.db", cores)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"class of {students} submissions of {ASSIGNMENT}, {cores} cores")
    print(f"--jobs 1:          {one:8.1f} s  ({one / students:.1f} s per submission)")
    print(f"--jobs {cores}:          {parallel:8.1f} s  ({parallel / students:.1f} s per submission)")
    print(f"speed-up, jobs {cores} over jobs 1: {one / parallel:.2f}x")
    print(f"run again, all stored: {resumed:6.1f} s  ({resumed / parallel:.3f} of a full run)")


if __name__ == "__main__":
    main()
