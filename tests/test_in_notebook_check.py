"""``autograde.check`` in a real Jupyter kernel: cells named as ``autograder check`` names them, and a warning
when the saved notebook, which the grade reads, is not what the kernel ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grading import grade

from autograder.grading.report import render_text

pytestmark = pytest.mark.slow

SAVED = [
    ("markdown", "# Activations"),
    ("code", "import numpy as np\nfrom autograder.notebook import AssignmentChecks\n"),
    ("code", "autograde = AssignmentChecks('02_activations')"),
    ("markdown", "## ReLU"),
    ("code", "def relu(z):\n    raise ValueError('not yet')"),
    ("code", "shown = print('a demonstration, left out of grading')"),
    ("code", "autograde.check(relu)"),
]
# Run after the notebook was saved: a new relu, in a cell the saved file does not hold.
UNSAVED = [
    ("code", "def relu(z):\n    return np.maximum(z, 0)"),
    ("code", "autograde.check(relu)"),
    ("code", "def relu(z):\n    return np.maximum(z, 1)"),
    ("code", "autograde.points(relu)"),  # a points cell says what failed and why, not only what failed
]
LABEL = "activations.ipynb, code cell 3 `def relu(z):`"


def cells(pairs: list[tuple[str, str]]) -> list[dict[str, object]]:
    made: list[dict[str, object]] = []
    for kind, source in pairs:
        cell: dict[str, object] = {"cell_type": kind, "id": f"cell-{len(made)}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        made.append(cell)
    return made


def test_a_cell_has_the_same_name_on_both_routes_and_the_check_warns_when_the_saved_notebook_differs(
    tmp_path: Path,
) -> None:
    import nbformat
    from nbclient import NotebookClient

    path = tmp_path / "activations.ipynb"
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path.write_text(json.dumps({"cells": cells(SAVED), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))
    running = nbformat.reads(path.read_text(), as_version=4)
    running.cells.extend(nbformat.from_dict({**cell, "id": f"unsaved-{n}"}) for n, cell in enumerate(cells(UNSAVED)))
    NotebookClient(
        running, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    first, second = (
        "".join(o.get("text", "") for o in c.outputs) for c in running.cells if c.source.startswith("autograde.check")
    )

    from_file = render_text(grade(path, "02_activations", "check"))
    raised = f"relu raised ValueError: not yet (at {LABEL}, line 2)"
    assert raised in first and raised in from_file  # one name on both routes: position among code cells, first line
    assert "differently" not in first
    points = "".join(
        o.get("text", "") for c in running.cells if c.source.startswith("autograde.points") for o in c.outputs
    )
    failed = [line for line in points.splitlines() if line.startswith("x relu")]
    assert failed and all(points.splitlines()[points.splitlines().index(x) + 1].startswith("    ") for x in failed)
    assert "left out" in from_file and "left out" not in first  # a check of relu names only what relu uses
    assert "5/5 public properties hold" in second
    assert (
        "! the saved activations.ipynb defines `relu` differently from this kernel (or not at all), and this check "
        "graded the kernel; your grade reads the saved notebook: save it, then restart the kernel and run all cells"
    ) in second


def test_the_warm_service_names_the_cells_as_the_kernel_does_and_shows_its_warning() -> None:
    """``autograde.check`` asks the warm service first (autograder.service): it sends each cell's name and the
    warning along with the kernel's cells, so that the answer is the one it would have given itself."""
    from autograder import service
    from autograder.grading.runner import CHECK, PUBLIC_SEED

    cells = [source for kind, source in SAVED if kind == "code"]
    locations = [f"activations.ipynb, code cell {n} `x`" for n in range(1, len(cells) + 1)]
    request = {"assignment": "02_activations", "cells": cells, "locations": locations}
    request |= {"notebook": "activations.ipynb", "functions": ["relu"], "notes": ["the saved notebook differs"]}
    answer = service._check(request, CHECK, PUBLIC_SEED)
    assert answer["ok"] and "! the saved notebook differs" in answer["text"]
    assert "relu raised ValueError: not yet (at activations.ipynb, code cell 3 `x`, line 2)" in answer["text"]


def test_creating_the_checks_imports_nothing_heavy() -> None:
    """A notebook's first cell creates the checks: it loads no catalogue, NumPy or Hypothesis (the warm service,
    or the in-process fallback when a check is run, loads them)."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom autograder.notebook import AssignmentChecks\nAssignmentChecks('02_activations')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'hypothesis', 'scipy', 'torch') "
        "or m.startswith('autograder.exercises.')))"
    )
    environment = {**__import__("os").environ, "AUTOGRADER_SERVICE": "off"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
    with pytest.raises(Exception, match="unknown assignment"):
        from autograder.notebook import AssignmentChecks

        AssignmentChecks("99_nothing")
