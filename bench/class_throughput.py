"""Figure 2, class throughput: ``autograder grade-batch`` against ``nbgrader autograde`` on the same class.

    python bench/class_throughput.py             # 20 submissions of 02_activations
    python bench/class_throughput.py --quick     # 3 submissions (CI)

Builds one nbgrader course: the instructor's source, ``nbgrader generate_assignment``, and a class in
``submitted/`` where students take turns being correct, carrying one or two of the classic bugs kept in the
tests, or handing in the released notebook untouched (every function a stub). Then, in the same run and on
the same notebooks, it times

* ``nbgrader autograde`` with the course's ``nbgrader_config.py``: no notebook runs in a kernel; nbgrader's
  autograde step hands each submitted file, one after another, to the sandboxed grader
  (``autograder/class_grading/nbgrader_route.py``) and records its points in nbgrader's gradebook;
* ``autograder grade-batch --jobs N`` (N = the cores): every property, the sandbox on, into a fresh gradebook.

It prints submissions per minute for each, their ratio (target: grade-batch at least 5 times nbgrader's
throughput), and whether both gave every student the same total.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine_summary, print_table

sys.path.insert(0, str(ROOT / "tests"))
from batch_helpers import ASSIGNMENT, STUDENT_NOTEBOOK, notebook_with  # noqa: E402
from bug_files import load_bugs  # noqa: E402

BUGS = load_bugs(ASSIGNMENT).BUGS

TARGET_RATIO = 5.0  # issue 16


def class_notebooks(students: int) -> dict[str, str]:
    """``{student: notebook text}``: correct, one bug, two bugs and untouched stubs, in turn."""
    bugs = sorted(BUGS)
    notebooks: dict[str, str] = {}
    for number in range(students):
        kind = number % 4
        if kind == 0:
            planted: tuple[str, ...] = ()
        elif kind == 1:
            planted = (bugs[number % len(bugs)],)
        elif kind == 2:
            planted = (bugs[number % len(bugs)], bugs[(number + 7) % len(bugs)])
            if BUGS[planted[0]].function == BUGS[planted[1]].function:
                planted = planted[:1]
        else:
            notebooks[f"student{number:03d}"] = STUDENT_NOTEBOOK.read_text(encoding="utf-8")
            continue
        notebooks[f"student{number:03d}"] = json.dumps(notebook_with(planted), indent=1)
    return notebooks


def run(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def build_course(folder: Path, students: int) -> Path:
    course = folder / "course"
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], course)
    for student, text in class_notebooks(students).items():
        target = course / "submitted" / student / ASSIGNMENT
        target.mkdir(parents=True)
        (target / STUDENT_NOTEBOOK.name).write_text(text, encoding="utf-8")
    return course


def nbgrader_totals(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {
            submission.student_id: float(submission.score)
            for submission in gradebook.assignment_submissions(ASSIGNMENT)
        }


def autograder_totals(gradebook: Path) -> dict[str, float]:
    from autograder.class_grading.gradebook import Gradebook

    with Gradebook(gradebook, read_only=True) as book:
        return {entry.student: entry.score for entry in book.entries(ASSIGNMENT)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 submissions (CI)")
    options = parser.parse_args()
    students = 3 if options.quick else options.students
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    folder = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    try:
        course = build_course(folder, students)
        nbgrader_seconds = run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], course)
        gradebook = folder / "autograder.db"
        command = [sys.executable, "-m", "autograder", "grade-batch", str(course), "--assignment", ASSIGNMENT]
        command += ["--gradebook", str(gradebook), "--jobs", str(cores), "--no-progress"]
        batch_seconds = run(command, course)
        by_nbgrader, by_autograder = nbgrader_totals(course), autograder_totals(gradebook)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(machine_summary())
    print(f"class throughput: {students} submissions of {ASSIGNMENT} (correct, buggy, stubs), same run\n")
    rows = [
        ["nbgrader autograde", f"{nbgrader_seconds:.1f}", f"{students / nbgrader_seconds * 60:.1f}"],
        [f"autograder grade-batch --jobs {cores}", f"{batch_seconds:.1f}", f"{students / batch_seconds * 60:.1f}"],
    ]
    print_table(["grader", "seconds", "submissions / min"], rows)
    ratio = nbgrader_seconds / batch_seconds
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"\nthroughput ratio, grade-batch over nbgrader: {ratio:.2f}x ({verdict} the target of {TARGET_RATIO:g}x)")
    same = by_nbgrader == by_autograder
    print(f"same total for every student: {'yes' if same else 'no'}")
    if not same:
        for student in sorted(set(by_nbgrader) | set(by_autograder)):
            print(f"  {student}: nbgrader {by_nbgrader.get(student)}, autograder {by_autograder.get(student)}")


if __name__ == "__main__":
    main()
