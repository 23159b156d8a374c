"""A small class of 02_activations submissions in nbgrader's layout, graded once per test session.

The class: real student work (``alex``, the sample notebook), correct notebooks with real bugs planted
(``sam``, ``kim``), and the faults a batch must survive: a cell that kills the process loading it (``eve``,
left out while her functions are graded),
an empty student folder (``bob``), a notebook that is not JSON (``carol``) and a notebook of another
assignment (``dan``). The batch tests, the exports, the feedback pages and the cluster all read the
gradebook of one ``autograder grade-batch`` run of it, so the class is graded once, not per test.
"""

from __future__ import annotations

import ast
import atexit
import copy
import functools
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Every verdict docs/GRADING.md names for a property of the Gradescope report.
CONTRACT_VERDICTS = {"passed", "failed", "error", "missing", "not_implemented", "timeout", "memory", "crashed"}
CONTRACT_VERDICTS |= {"forbidden", "gated", "undecided"}
ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "02_activations"
SUBMISSIONS = ROOT / "tests" / "submissions" / ASSIGNMENT
STUDENT_NOTEBOOK = ROOT / "assignments" / ASSIGNMENT / "activations.ipynb"
from bug_files import load_bugs  # noqa: E402

_BUG_FILE = load_bugs("02_activations")
BUGS = _BUG_FILE.BUGS

# The bugs planted in each graded student's notebook, and the points each function then keeps.
PLANTED = {
    "sam": ("relu_in_place", "tanh_grad_of_activation"),
    "kim": ("sigmoid_grad_of_activation", "softmax_over_wrong_axis"),
}
FUNCTIONS = ("sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad")
FUNCTIONS += ("leaky_relu", "leaky_relu_grad", "softmax", "log_softmax")
EXPECTED_POINTS = {
    "sam": {**dict.fromkeys(FUNCTIONS, 10.0), "relu": 8.0, "tanh_grad": 0.0},
    "kim": {**dict.fromkeys(FUNCTIONS, 10.0), "sigmoid_grad": 0.0, "softmax": 0.0},
}


def autograder(*args: str, cwd: Path = ROOT, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def functions_of(source: str) -> dict[str, str]:
    """Each top-level function's source; a later definition replaces an earlier one, as in Python."""
    tree = ast.parse(source)
    return {
        node.name: ast.get_source_segment(source, node) or "" for node in tree.body if isinstance(node, ast.FunctionDef)
    }


def notebook_with(bugs: tuple[str, ...]) -> dict[str, Any]:
    """The student notebook with every solution cell filled in from correct.py, with ``bugs`` planted."""
    source = (SUBMISSIONS / "correct.py").read_text() + "".join(BUGS[bug].source for bug in bugs)
    bodies = functions_of(source)
    notebook: dict[str, Any] = copy.deepcopy(json.loads(STUDENT_NOTEBOOK.read_text()))
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in bodies:
            cell["source"] = bodies[grade_id] + "\n"
    return notebook


def build_class(course: Path) -> Path:
    """Write the class into ``course/submitted/{student}/02_activations/``; returns ``course``."""
    submitted = course / "submitted"

    def folder(student: str) -> Path:
        path = submitted / student / ASSIGNMENT
        path.mkdir(parents=True)
        return path

    shutil.copy(ROOT / "examples" / ASSIGNMENT / "alex.ipynb", folder("alex") / "activations.ipynb")
    for student, bugs in PLANTED.items():
        (folder(student) / "activations.ipynb").write_text(json.dumps(notebook_with(bugs), indent=1))
    crashing = notebook_with(())
    # A constant the grader keeps (it is upper case) whose value kills the process that loads it.
    crashing["cells"][1]["source"] = "".join(crashing["cells"][1]["source"]) + "\nimport os\nBOOM = os._exit(3)\n"
    (folder("eve") / "activations.ipynb").write_text(json.dumps(crashing, indent=1))
    (submitted / "bob").mkdir(parents=True)
    (folder("carol") / "activations.ipynb").write_text('{"cells": [ {"cell_type": "code", ')
    shutil.copy(ROOT / "solutions" / "01_neurons" / "neurons.ipynb", folder("dan") / "neurons.ipynb")
    return course


@dataclass(frozen=True)
class GradedClass:
    course: Path
    gradebook: Path
    run: subprocess.CompletedProcess[str]


@functools.cache
def graded_class() -> GradedClass:
    """The class, graded once by ``autograder grade-batch`` into its own gradebook."""
    folder = Path(tempfile.mkdtemp(prefix="autograder-class-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    course = build_class(folder / "course")
    gradebook = folder / "autograder.db"
    run = autograder("grade-batch", str(course), "--assignment", ASSIGNMENT, "--gradebook", str(gradebook))
    return GradedClass(course, gradebook, run)
