"""Reading submissions: what is kept, and how one broken definition is kept from breaking the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.submission import SubmissionError, load_submission, submission_from_cells


def test_only_imports_definitions_and_constants_are_kept() -> None:
    cells = [
        "import numpy as np\nSCALE = 2\nname = 'x'\nresult = np.zeros(3)\nprint('demo')",
        "%matplotlib inline\ndef f(z):\n    return z * SCALE",
    ]
    submission = submission_from_cells(Path("nb.ipynb"), cells)
    kept = [chunk.source for chunk in submission.chunks]
    assert kept == ["import numpy as np", "SCALE = 2", "name = 'x'", "def f(z):\n    return z * SCALE"]


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
        "%matplotlib inline\nnp.exp?\nshown = np.zeros(3)",
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
