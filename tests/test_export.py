"""``autograder export`` (CSV, Gradescope, nbgrader) and ``autograder gradescope-bundle``, from a graded class."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import (
    ASSIGNMENT,
    CONTRACT_VERDICTS,
    EXPECTED_POINTS,
    FUNCTIONS,
    ROOT,
    GradedClass,
    autograder,
    graded_class,
)
from test_batch import read_only

pytestmark = pytest.mark.batch

STUDENTS = ["alex", "bob", "carol", "dan", "eve", "kim", "sam"]
VERDICTS = CONTRACT_VERDICTS


@pytest.fixture(scope="module")
def graded() -> GradedClass:
    return graded_class()


def export(graded: GradedClass, fmt: str, out: Path) -> subprocess.CompletedProcess[str]:
    done = autograder(
        "export", "--assignment", ASSIGNMENT, "--gradebook", str(graded.gradebook), "--to", fmt, "--out", str(out)
    )
    return done


def test_csv_has_a_row_per_student_a_column_per_function_and_the_total(graded: GradedClass, tmp_path: Path) -> None:
    done = export(graded, "csv", tmp_path / "grades.csv")
    assert done.returncode == 0, done.stderr
    with (tmp_path / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["student_id"] for row in rows] == STUDENTS
    assert list(rows[0])[:2] == ["student_id", "assignment"]
    assert list(rows[0])[2:12] == list(FUNCTIONS)
    sam = next(row for row in rows if row["student_id"] == "sam")
    assert {f: float(sam[f]) for f in FUNCTIONS} == EXPECTED_POINTS["sam"]
    assert (sam["score"], sam["max_score"], sam["status"]) == ("88", "100", "graded")
    carol = next(row for row in rows if row["student_id"] == "carol")
    assert carol["status"] == "unreadable" and "not a valid notebook" in carol["message"]


def test_gradescope_export_writes_a_valid_results_json_per_student(graded: GradedClass, tmp_path: Path) -> None:
    done = export(graded, "gradescope", tmp_path / "gradescope")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "gradescope").iterdir()) == STUDENTS
    for student in STUDENTS:
        results = json.loads((tmp_path / "gradescope" / student / "results.json").read_text())
        assert_gradescope_format(results)
        assert results["extra_data"]["student"] == student
    sam = json.loads((tmp_path / "gradescope" / "sam" / "results.json").read_text())
    assert sam["score"] == 88
    assert set(sam["extra_data"]["curves"]) == {"relu", "tanh_grad"}  # the failed plottable functions


def assert_gradescope_format(results: dict[str, Any]) -> None:
    """The fields docs/GRADING.md promises, with the values Gradescope accepts."""
    assert {"score", "execution_time", "output", "tests", "extra_data"} <= set(results)
    assert {"assignment", "grader_version", "seed", "environment_hash"} <= set(results["extra_data"])
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility", "extra_data"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "after_due_date")
        assert test["extra_data"]["verdict"] in VERDICTS
    assert results["score"] == pytest.approx(sum(test["score"] for test in results["tests"]))


@pytest.mark.slow
def test_nbgrader_export_sees_the_scores_exported_into_its_gradebook(graded: GradedClass, tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    done = export(graded, "nbgrader", course / "gradebook.db")
    assert done.returncode == 0, done.stderr
    nbgrader = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export"], cwd=course, capture_output=True, text=True, timeout=600
    )
    assert nbgrader.returncode == 0, nbgrader.stderr
    with (course / "grades.csv").open(newline="") as handle:
        scores = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)}
    assert scores == {"alex": 81, "bob": 0, "carol": 0, "dan": 0, "eve": 100, "kim": 80, "sam": 88}

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook("activations", ASSIGNMENT, "kim")
        by_cell = {grade.name.removeprefix("test_"): grade.score for grade in notebook.grades}
    assert by_cell == EXPECTED_POINTS["kim"]


def test_export_to_a_read_only_folder_says_so_and_changes_nothing(graded: GradedClass, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    before = graded.gradebook.read_bytes()
    with read_only(locked):
        done = export(graded, "csv", locked / "grades.csv")
    assert done.returncode == 2
    assert f"autograder: cannot write {locked}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert graded.gradebook.read_bytes() == before


def test_export_without_a_gradebook_says_what_to_do(tmp_path: Path) -> None:
    done = autograder("export", "--assignment", ASSIGNMENT, "--to", "csv", "--gradebook", str(tmp_path / "none.db"))
    assert done.returncode == 2
    assert "no gradebook at" in done.stderr and "grade the class first with `autograder grade-batch`" in done.stderr


def test_gradescope_bundle_runs_in_gradescopes_layout(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    done = autograder("gradescope-bundle", "--assignment", ASSIGNMENT, "--out", str(bundle), "--seed", "11")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "autograder"  # stands for Gradescope's /autograder
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "pyproject.toml", "autograder/cli.py"} <= names
        assert f"solutions/{ASSIGNMENT}/activations.ipynb" in names
        assert not any(name.startswith(("tests/", "assignments/", "examples/")) for name in names)
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    # A student who has done sigmoid only: graded in seconds, and worth exactly its 10 points.
    (root / "submission").mkdir(parents=True)
    correct = (ROOT / "tests" / "submissions" / ASSIGNMENT / "correct.py").read_text()
    (root / "submission" / "activations.py").write_text(correct.split("\n\n\ndef sigmoid_grad")[0] + "\n")
    environment = {**os.environ, "GRADESCOPE_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    environment.pop("AUTOGRADER_COURSE_ROOT", None)  # the bundle must carry its own solutions
    run = subprocess.run(
        [str(root / "source" / "run_autograder")], env=environment, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_format(results)
    assert results["score"] == 10
    assert results["extra_data"]["seed"] == 11
    by_function = {t["extra_data"]["function"] for t in results["tests"] if t["score"] > 0}
    assert by_function == {"sigmoid"}
