"""nbgrader and autograder on the same class: the same points for every function, both ways.

The real commands: ``nbgrader generate_assignment``, the students' notebooks copied into ``submitted/``,
``nbgrader autograde`` (whose test cells call the autograder inside each notebook's kernel) and
``autograder grade-batch`` on the same folder; then ``autograder export --to nbgrader`` into a fresh
course and ``nbgrader export`` there.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from batch_helpers import ASSIGNMENT, EXPECTED_POINTS, ROOT, autograder, build_class
from test_batch import entries_of
from test_notebooks import course_copy, nbgrader

pytestmark = [pytest.mark.batch, pytest.mark.slow]

STUDENTS = ("alex", "sam")


def test_nbgrader_autograde_and_grade_batch_give_each_function_the_same_points(tmp_path: Path) -> None:
    course = course_copy(tmp_path, ASSIGNMENT)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    everyone = build_class(tmp_path / "class") / "submitted"
    for student in STUDENTS:
        shutil.copytree(everyone / student, course / "submitted" / student)
    nbgrader(course, "autograde", ASSIGNMENT, "--force")
    batch = autograder("grade-batch", str(course), "--assignment", ASSIGNMENT, "--gradebook", str(tmp_path / "a.db"))
    assert batch.returncode == 0, batch.stderr

    from nbgrader.api import Gradebook

    by_nbgrader = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in STUDENTS:
            notebook = gradebook.find_submission_notebook("activations", ASSIGNMENT, student)
            by_nbgrader[student] = {g.name.removeprefix("test_"): g.score for g in notebook.grades}
    by_autograder = {student: e.report.points_by_function() for student, e in entries_of(tmp_path / "a.db").items()}
    assert by_nbgrader == by_autograder
    assert by_autograder["sam"] == EXPECTED_POINTS["sam"]

    # And back: the autograder's gradebook exported into a fresh nbgrader course, read by `nbgrader export`.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", fresh / "nbgrader_config.py")
    exported = autograder(
        "export", "--assignment", ASSIGNMENT, "--gradebook", str(tmp_path / "a.db"), "--to", "nbgrader",
        "--out", str(fresh / "gradebook.db"),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    nbgrader(fresh, "export")
    with (fresh / "grades.csv").open(newline="") as handle:
        totals = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)}
    assert totals == {student: sum(points.values()) for student, points in by_nbgrader.items()}
