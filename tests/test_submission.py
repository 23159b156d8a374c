"""Reading submissions: what is kept, and how one broken definition is kept from breaking the rest."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from autograder.exercises import load_assignment
from autograder.grading.submission import SubmissionError, load_submission, notebook_code_cells, submission_from_cells

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb")) + sorted((ROOT / "assignments").glob("*/*.ipynb"))


def test_definitions_aliases_lambdas_and_tables_are_kept_and_demonstrations_left_out() -> None:
    cells = [
        "import numpy as np\nSCALE = 2\nname = 'x'\nresult = np.zeros(3)\nprint('demo')",
        "%matplotlib inline\ndef f(z):\n    return z * SCALE",
        "tanh = np.tanh\nrelu = lambda z: np.maximum(z, 0)\nschemes = {'he': 2.0, 'glorot': 1.0}\n"
        "schemes['lecun'] = 1.0",
        "slope = dict(default=0.01)\nsqrt_2_pi = np.sqrt(2 / np.pi)\nact = {'relu': relu, 'tanh': tanh}",
        "out = f(result)\nfig = plt.figure()",
    ]
    submission = submission_from_cells(Path("nb.ipynb"), cells)
    kept = [chunk.source for chunk in submission.chunks]
    assert kept == [
        "import numpy as np",
        "SCALE = 2",
        "name = 'x'",
        "result = np.zeros(3)",
        "def f(z):\n    return z * SCALE",
        "tanh = np.tanh",
        "relu = lambda z: np.maximum(z, 0)",
        "schemes = {'he': 2.0, 'glorot': 1.0}",
        "schemes['lecun'] = 1.0",
        "slope = dict(default=0.01)",
        "sqrt_2_pi = np.sqrt(2 / np.pi)",
        "act = {'relu': relu, 'tanh': tanh}",
    ]
    assert [(s.line, s.names, s.reason) for s in submission.left_out] == [
        (1, ("out",), "it calls f()"),
        (2, ("fig",), "it uses plt, which nothing before it defines"),
    ]
    note = submission.left_out_note()
    assert note is not None and note.endswith("it left out nb.ipynb, code cell 5 `out = f(result)`: lines 1, 2")


def test_the_notebook_s_own_grader_setup_is_passed_over_without_a_word() -> None:
    """The first cell of every course notebook binds ``autograde`` from the grader, which no worker can import:
    those lines are the course's, not the student's, so they are neither run nor reported; a student's own
    line that uses nothing else (``score = autograde.points(...)``) is passed over with them."""
    cells = [
        "import numpy as np\nfrom autograder.notebook import AssignmentChecks\nimport autograder.grade as g\n"
        "autograde = AssignmentChecks('02_activations')",
        "def relu(z):\n    return np.maximum(z, 0)",
        "autograde.check(relu)\nscore = autograde.points('relu')",
    ]
    submission = submission_from_cells(Path("nb.ipynb"), cells)
    assert [chunk.source for chunk in submission.chunks] == [
        "import numpy as np",
        "def relu(z):\n    return np.maximum(z, 0)",
    ]
    assert submission.problems == []
    assert submission.left_out == [] and submission.left_out_note() is None


def test_a_demonstration_that_uses_a_left_out_line_is_left_out_and_named_once() -> None:
    cells = [
        "import numpy as np\nimport matplotlib.pyplot as plt",
        "x = np.random.default_rng(0).normal(size=3)  # a demonstration's data",
        "y = x  # uses what the cell above made\nz = y + 1",
        "trained = {}\nfor size in (16, 64):\n    trained[size] = size\nnet = trained[16]",
        "LIMIT = max_exp  # failed in its own cell in the notebook too\n"
        "def f(z):\n    return np.clip(z, -LIMIT, LIMIT)",
    ]
    submission = submission_from_cells(Path("nb.ipynb"), cells)
    reasons = {statement.names: statement.reason for statement in submission.left_out}
    assert reasons == {
        ("x",): "it calls np.random.default_rng(0).normal()",
        (
            "y",
        ): "it uses x, which nb.ipynb, code cell 2 `x = np.random.default_rng(0).normal(size=3)...`, line 1 defines, "
        "and the grader did not run that",
        ("z",): "it uses y, which line 1 defines, and the grader did not run that",
        ("size",): "it is a for loop",
        ("net",): "it uses trained, which line 2 changes, and the grader did not run that",
        ("LIMIT",): "it uses max_exp, which nothing before it defines",
    }
    assert {"trained", "f"} <= submission.defined_names and "LIMIT" not in submission.defined_names
    explained = submission.left_out_for("LIMIT")
    assert explained is not None
    assert explained.explain("LIMIT") == (
        "`LIMIT` is defined only by nb.ipynb, code cell 5 `LIMIT = max_exp  # failed in its own cell in...`, line 1, "
        "which the grader did not run: it uses max_exp, which nothing before it defines"
    )
    namespace: dict[str, object] = {}
    for chunk in submission.chunks:  # nothing kept fails when it runs
        exec(compile(chunk.source, chunk.location, "exec"), namespace)


def test_blocks_of_definitions_are_kept_and_imports_bind_names() -> None:
    cells = [
        "try:\n    import scipy.special as special\nexcept ImportError:\n    special = None",
        "import numpy as np\nif special is not None:\n    sigmoid = special.expit\nelse:\n    sigmoid = np.tanh",
        "if special is not None:\n    print(special.expit(0.0))",
    ]
    submission = submission_from_cells(Path("nb.ipynb"), cells)
    assert len(submission.chunks) == 3 and {"special", "np", "sigmoid"} == submission.defined_names
    assert submission.left_out == []  # the last block defines nothing: left out without a word


def test_cells_are_named_by_their_position_among_code_cells_and_their_first_line(tmp_path: Path) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "# Title"},
            {"cell_type": "code", "source": "import numpy as np"},
            {"cell_type": "markdown", "source": "## Relu"},
            {"cell_type": "code", "source": ["\n", "def relu(z):\n", "    return np.maximum(z, 0 \n"]},
        ]
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    from_file = load_submission(path)
    problem = from_file.problem_for("relu")
    assert problem is not None and problem.origin == "nb.ipynb, code cell 2 `def relu(z):`, line 3"
    from_kernel = submission_from_cells(
        Path("nb.ipynb"), ["import numpy as np", "".join(notebook["cells"][3]["source"])]
    )
    assert from_kernel.problem_for("relu") == problem


def test_a_syntax_error_costs_only_its_own_definition() -> None:
    source = "def good(z):\n    return z\n\ndef bad(z)\n    return z\n\ndef also_good(z):\n    return -z\n"
    submission = submission_from_cells(Path("nb.ipynb"), [source])
    assert submission.defined_names == {"good", "also_good"}
    problem = submission.problem_for("bad")
    assert problem is not None and "SyntaxError" in problem.message and "line 4" in problem.origin


def test_a_folder_must_hold_exactly_one_submission(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 1\n")
    with pytest.raises(SubmissionError, match="expected exactly one notebook or .py file, found a.py, b.py"):
        load_submission(tmp_path)


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    path.write_text('{\n  "cells": [,]\n}')
    with pytest.raises(SubmissionError, match=r"nb.ipynb: not a valid notebook \(JSON error at line 2, column"):
        load_submission(path)


def test_comments_and_strings_ending_in_a_question_mark_are_kept() -> None:
    cells = [
        "import numpy as np\nNOTE = 'why?'",
        "def leaky(z):\n    return np.where(z > 0, z, 0.01 * z)  # or np.maximum?",
        "%matplotlib inline\nnp.exp?\nshown = leaky(np.zeros(3))",
    ]
    submission = submission_from_cells(Path("nb.ipynb"), cells)
    assert {"NOTE", "leaky"} <= submission.defined_names
    assert "shown" not in submission.defined_names
    leaky = next(chunk.source for chunk in submission.chunks if "leaky" in chunk.defines)
    assert leaky.endswith("return np.where(z > 0, z, 0.01 * z)  # or np.maximum?")


def test_a_py_module_is_read_as_python_with_nothing_removed(tmp_path: Path) -> None:
    path = tmp_path / "activations.py"
    path.write_text("import numpy as np\n\ndef relu(z):\n    return np.maximum(z, 0)  # or z * (z > 0)?\n")
    submission = load_submission(path)
    relu = next(chunk.source for chunk in submission.chunks if "relu" in chunk.defines)
    assert relu.endswith("return np.maximum(z, 0)  # or z * (z > 0)?")


def _kept_before(node: ast.stmt) -> bool:
    """What the grader kept before it read assignments exactly: definitions, imports, UPPER_CASE or literals
    (but the grader's own import, which a worker could never run)."""
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograder"):
        return False
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        if all(t.id.isupper() for t in node.targets if isinstance(t, ast.Name)):
            return True
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
        return True
    return False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_course_notebooks_keep_all_they_kept_before_and_every_kept_line_runs(path: Path) -> None:
    """The reference and generated student notebooks: every graded function and everything kept before is
    still kept, nothing fails to read, and what is kept runs (as the reference is run in the grader)."""
    submission = load_submission(path)
    assignment = load_assignment(path.parent.name)
    assert submission.problems == [] and set(assignment.functions) <= submission.defined_names
    kept = [chunk.source for chunk in submission.chunks]
    for cell in notebook_code_cells(json.loads(path.read_text())):
        lines = cell.splitlines()
        for node in ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)).body:
            if _kept_before(node):
                assert "\n".join(lines[node.lineno - 1 : node.end_lineno]) in kept
    namespace: dict[str, object] = {}
    for chunk in submission.chunks:
        exec(compile(chunk.source, chunk.location, "exec"), namespace)
