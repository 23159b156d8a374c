"""nbgrader and autograder on the same class: the same points for every function, both ways.

The real commands: ``nbgrader generate_assignment``, the students' notebooks copied into ``submitted/``,
``nbgrader autograde`` (which, with the course's ``nbgrader_config.py``, runs no notebook: the points come
from the sandboxed grader, :mod:`autograder.class_grading.nbgrader_route`), ``nbgrader generate_feedback``, and
``autograder grade-batch`` on the same folder; then ``autograder export --to nbgrader`` into a fresh
course and ``nbgrader export`` there.

Beside honest work, the class holds the attacks that once forged nbgrader's grade from inside the
student's kernel (a cell replacing ``autograde.points``, a cell silencing every test cell), a notebook
whose cells write into the course folder as the instructor would, one whose ``tanh`` hangs (nbgrader
used to drop the whole submission), and a submission that is a link to the solutions. Each gets exactly
the points ``grade-batch`` gives, and nothing a cell does happens outside the sandbox.
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import ASSIGNMENT, EXPECTED_POINTS, FUNCTIONS, ROOT, STUDENT_NOTEBOOK, autograder, build_class
from batch_helpers import notebook_with as correct_notebook_with
from test_batch import entries_of
from test_notebooks import course_copy, nbgrader

pytestmark = [pytest.mark.batch, pytest.mark.slow]

HONEST = ("alex", "sam")
SOLUTION = ROOT / "solutions" / ASSIGNMENT / "activations.ipynb"
TIMED = ("sigmoid", "softmax")  # the functions with a timed property


def _code_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def _with_cell_after_imports(notebook: dict[str, Any], source: str) -> dict[str, Any]:
    notebook = copy.deepcopy(notebook)
    notebook["cells"].insert(2, _code_cell(source))
    return notebook


def _without_cell(notebook: dict[str, Any], grade_id: str) -> dict[str, Any]:
    notebook = copy.deepcopy(notebook)
    notebook["cells"] = [
        c for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != grade_id
    ]
    return notebook


def _with_function(notebook: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    notebook = copy.deepcopy(notebook)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == name:
            cell["source"] = source
    return notebook


def _stub_of(notebook: dict[str, Any], name: str) -> str:
    (cell,) = [c for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == name]
    return "".join(cell["source"])


def hostile_class(course: Path) -> dict[str, dict[str, float] | None]:
    """Write the attacks into ``course/submitted/``; the points each must get (None: as grade-batch gives)."""
    stub = json.loads(STUDENT_NOTEBOOK.read_text())
    # Correct work, but sigmoid and softmax left as stubs: their timed properties, measured again on each
    # run, are the one thing two gradings of one file may see differently on a busy machine.
    correct = correct_notebook_with(())
    for name in TIMED:
        correct = _with_function(correct, name, _stub_of(stub, name))
    marker = course / "written-by-a-student-cell"
    writes = (
        "import pathlib, shutil, sqlite3\n"
        f"course = pathlib.Path({str(course)!r})\n"
        f"pathlib.Path({str(marker)!r}).write_text('a student cell ran as the instructor')\n"
        "shutil.copy(course / 'solutions' / '02_activations' / 'activations.ipynb', course / 'leaked.ipynb')\n"
        "with sqlite3.connect(course / 'gradebook.db') as db:\n"
        "    db.execute('UPDATE grade SET auto_score = max_score')\n"
    )
    notebooks = {
        # (a) the test cells ask the kernel for the points: a cell can answer for them.
        "forger": _with_cell_after_imports(stub, "autograde.points = lambda f: 10.0\n"),
        # (b) a test cell that shows nothing got full credit.
        "silencer": _with_cell_after_imports(stub, 'get_ipython().ast_node_interactivity = "none"\n'),
        # (c) correct work, a cell that writes into the course folder, and a grade cell deleted.
        "writer": _without_cell(_with_cell_after_imports(correct, writes), "test_relu"),
        # (d) correct work but a tanh that never returns.
        "hanger": _with_function(correct, "tanh", "def tanh(z):\n    while True:\n        pass\n"),
    }
    for student, notebook in notebooks.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "activations.ipynb").write_text(json.dumps(notebook, indent=1))
    linked = course / "submitted" / "linker" / ASSIGNMENT
    linked.mkdir(parents=True)
    (linked / "activations.ipynb").symlink_to(SOLUTION)
    zero = dict.fromkeys(FUNCTIONS, 0.0)
    correct_points = {**dict.fromkeys(FUNCTIONS, 10.0), **dict.fromkeys(TIMED, 0.0)}
    return {
        "forger": zero,
        "silencer": zero,
        "writer": correct_points,
        "hanger": {**correct_points, "tanh": 0.0},
        "linker": zero,
    }


def nbgrader_points(course: Path, students: list[str]) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    points = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            notebook = gradebook.find_submission_notebook("activations", ASSIGNMENT, student)
            points[student] = {g.name.removeprefix("test_"): g.score for g in notebook.grades}
    return points


def disagreements(ours: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Each function whose points differ, as (nbgrader, grade-batch): what the check reports."""
    found = {}
    for student, points in ours.items():
        other = theirs.get(student, {})
        differ = {f: (points.get(f), other.get(f)) for f in FUNCTIONS if points.get(f) != other.get(f)}
        if differ:
            found[student] = differ
    return found


def test_nbgrader_autograde_and_grade_batch_give_each_function_the_same_points(tmp_path: Path) -> None:
    course = course_copy(tmp_path, ASSIGNMENT)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    everyone = build_class(tmp_path / "class") / "submitted"
    for student in HONEST:
        shutil.copytree(everyone / student, course / "submitted" / student)
    expected = hostile_class(course)
    students = [*HONEST, *expected]
    autograded = nbgrader(course, "autograde", ASSIGNMENT, "--force")
    # One submission at a time, as nbgrader grades them: the timed properties of alex's and sam's sigmoid
    # and softmax compare run times, which two gradings side by side on a small machine can disturb.
    batch = autograder(
        "grade-batch", str(course), "--assignment", ASSIGNMENT, "--gradebook", str(tmp_path / "a.db"), "--jobs", "1"
    )
    assert batch.returncode == 0, batch.stderr

    by_nbgrader = nbgrader_points(course, students)
    by_autograder = {student: e.report.points_by_function() for student, e in entries_of(tmp_path / "a.db").items()}
    assert not disagreements(by_nbgrader, by_autograder), autograded.stderr[-3000:]
    assert by_autograder["sam"] == EXPECTED_POINTS["sam"]
    for student, points in expected.items():
        assert by_autograder[student] == points, student

    # Nothing in a notebook ran outside the sandbox, and nbgrader kept every submission.
    assert not (course / "written-by-a-student-cell").exists()
    assert not (course / "leaked.ipynb").exists()
    assert "Removing failed assignment" not in autograded.stderr
    entries = entries_of(tmp_path / "a.db")
    assert entries["hanger"].status == "graded"
    assert {p.verdict for p in entries["hanger"].report.function("tanh").properties} & {"timeout"}
    assert entries["linker"].status == "unreadable" and "symbolic link" in entries["linker"].message
    check_autograded_notebooks(course)

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

    # The instructor's own check that the two routes agree, and that it reports a disagreement.
    compare = ("compare-nbgrader", str(course / "gradebook.db"), "--assignment", ASSIGNMENT)
    agreed = autograder(*compare, "--gradebook", str(tmp_path / "a.db"))
    assert agreed.returncode == 0 and "agree on every function" in agreed.stdout, agreed.stdout + agreed.stderr
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.find_grade("test_relu", "activations", ASSIGNMENT, "sam").auto_score = 3.0
        gradebook.db.commit()
    differed = autograder(*compare, "--gradebook", str(tmp_path / "a.db"))
    assert differed.returncode == 1
    assert f"sam: relu: nbgrader 3, autograder {by_autograder['sam']['relu']:g}" in differed.stdout.splitlines()


def check_autograded_notebooks(course: Path) -> None:
    """Only grade cells carry output (the grader's feedback and points); feedback pages show them."""
    for path in (course / "autograded").glob(f"*/{ASSIGNMENT}/activations.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            if cell["metadata"].get("nbgrader", {}).get("grade"):
                kinds = [output["output_type"] for output in cell["outputs"]]
                assert kinds == ["stream", "execute_result"], (path, cell["source"])
            else:
                assert cell["outputs"] == [], (path, cell["source"])
    linker = json.loads((course / "autograded" / "linker" / ASSIGNMENT / "activations.ipynb").read_text())
    assert "np.exp" not in json.dumps(linker), "the linked solutions reached the autograded notebook"
    hanger = (course / "autograded" / "hanger" / ASSIGNMENT / "activations.ipynb").read_text()
    assert "tanh: 0 / 10" in hanger

    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    page = (course / "feedback" / "hanger" / ASSIGNMENT / "activations.html").read_text()
    assert "tanh: 0 / 10" in page and "Score: 70.0 / 100.0" in page.replace("\n", " ")
