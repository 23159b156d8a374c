"""The notebooks as nbgrader and Jupyter use them: generation, autograding, in-notebook checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from grading import grade

from autograder.exercises import known_assignments

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = known_assignments()
NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb")) + sorted((ROOT / "assignments").glob("*/*.ipynb"))


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "nbgrader", *args]
    done = subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def course_copy(tmp_path: Path, assignment: str) -> Path:
    """A throwaway course folder with this course's nbgrader config and one assignment's source."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    return course


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_saved_without_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path}: a cell has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_introduction_says_the_check_grades_the_kernel_and_the_grade_the_saved_file(path: Path) -> None:
    intro = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert "grades the code your kernel has run" in intro
    assert "computed from the saved notebook file" in intro
    assert "Restart Kernel and Run All Cells" in intro


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_student_notebook_is_what_nbgrader_generates(tmp_path: Path, assignment: str) -> None:
    course = course_copy(tmp_path, assignment)
    nbgrader(course, "generate_assignment", assignment, "--force")
    for generated in (course / "assignments" / assignment).glob("*.ipynb"):
        committed = ROOT / "assignments" / assignment / generated.name
        assert committed.exists(), f"{committed} is missing: run nbgrader generate_assignment {assignment}"
        assert json.loads(committed.read_text()) == json.loads(generated.read_text()), (
            f"{committed} is out of date: run `nbgrader generate_assignment {assignment} --force`"
        )


def _outputs(cell: dict[str, Any]) -> str:
    texts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            texts.append("".join(output["text"]))
        elif "data" in output:
            texts.append("".join(output["data"].get("text/plain", "")))
    return "".join(texts)


@pytest.mark.slow
def test_nbgrader_autograde_gives_each_function_the_points_autograder_grade_gives(tmp_path: Path) -> None:
    assignment = "02_activations"
    course = course_copy(tmp_path, assignment)
    nbgrader(course, "generate_assignment", assignment, "--force")
    submitted = course / "submitted" / "alex" / assignment
    submitted.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / assignment / "alex.ipynb", submitted / "activations.ipynb")
    nbgrader(course, "autograde", assignment, "--force")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook("activations", assignment, "alex")
        by_nbgrader = {
            grade_.name.removeprefix("test_"): grade_.score
            for grade_ in submission.grades
            if grade_.cell_type == "code"
        }
    by_autograder = grade(ROOT / "examples" / assignment / "alex.ipynb", assignment).points_by_function()
    assert by_nbgrader == by_autograder
    assert by_autograder["sigmoid"] == 9 and by_autograder["log_softmax"] == 0

    # No cell was executed (nbgrader_config.py grades in the sandbox instead): only the grade cells carry
    # output, the grader's feedback and then the points.
    autograded = json.loads((course / "autograded" / "alex" / assignment / "activations.ipynb").read_text())
    check_cells = [c for c in autograded["cells"] if "".join(c["source"]).startswith("autograde.check(")]
    assert check_cells and all(c["outputs"] == [] for c in check_cells)
    grade_cells = [c for c in autograded["cells"] if "".join(c["source"]).startswith("autograde.points(")]
    shown = {"".join(c["source"]): _outputs(c) for c in grade_cells}
    assert shown['autograde.points("tanh")'] == "tanh: 10 / 10\n10.0"
    assert "smallest failing input: z = array(-710.)" in shown['autograde.points("sigmoid")']
    assert "not implemented yet" in shown['autograde.points("log_softmax")']


def test_a_test_cell_run_by_nbgraders_own_autograde_step_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the course's nbgrader_config.py, nbgrader would run the notebook and ask its kernel for the
    points, which any cell can forge: the test cell refuses there, so no such grade looks like a real one."""
    from autograder.notebook import AssignmentChecks

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(RuntimeError, match="nbgrader_config.py"):
        AssignmentChecks("02_activations").points("sigmoid")


def test_the_course_config_never_lets_nbgrader_execute_a_submission() -> None:
    from nbgrader.preprocessors import Execute
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.class_grading.nbgrader_route import GradeInSandbox

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert isinstance(config, Config)
    steps = config.Autograde.autograde_preprocessors
    assert Execute not in steps and steps[0] is GradeInSandbox
    assert config.OverwriteCells.add_missing_cells is True
