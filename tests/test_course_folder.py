"""Nothing the grader writes lands in a course folder, and nbgrader runs there without complaint.

Hypothesis keeps files of its own even with no example database (the constants it collects from the
grader's source, in ``.hypothesis/``, by default in the working folder); the grader keeps them in its cache
folder instead. ``nbgrader generate_assignment`` copies whatever lies beside a source notebook into the
release, so the course's config also leaves ``.hypothesis/`` out of every copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from batch_helpers import ASSIGNMENT, notebook_with
from test_notebooks import course_copy, nbgrader

import autograder


def tree(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")}


def test_checking_a_notebook_writes_nothing_into_the_course_or_the_notebooks_folder(tmp_path: Path) -> None:
    course = tmp_path / "course"
    notebook = course / "assignments" / ASSIGNMENT / "activations.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text(json.dumps(notebook_with(("relu_in_place",))))  # one failure: Hypothesis shrinks it
    before = tree(course)
    cache = tmp_path / "cache"  # a fresh bank: every example is drawn by Hypothesis, none replayed
    environment = {**os.environ, "AUTOGRADER_CACHE": str(cache)}
    for cwd in (course, notebook.parent):
        done = subprocess.run(
            [sys.executable, "-m", "autograder", "check", str(notebook)],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        assert "functions pass every public check" in done.stdout, done.stdout
        assert tree(course) == before, f"checking from {cwd} left {sorted(tree(course) - before)} in the course"
    if "site-packages" not in autograder.__file__:
        # Installed from a checkout, the grader's modules are "local" to Hypothesis, which then keeps their
        # constants on disk: in the cache folder, beside the example bank.
        assert (cache / "hypothesis" / "constants").is_dir()


@pytest.mark.slow
def test_nbgrader_runs_without_warnings_and_releases_no_hypothesis_folder(tmp_path: Path) -> None:
    course = course_copy(tmp_path, ASSIGNMENT)
    left_behind = course / "solutions" / ASSIGNMENT / ".hypothesis" / "constants"
    left_behind.mkdir(parents=True)  # as an older grader, or an instructor's own Hypothesis tests, left it
    (left_behind / "0123456789abcdef").write_text("[]")
    done = nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = course / "assignments" / ASSIGNMENT
    assert (release / "activations.ipynb").is_file()
    assert not [path for path in tree(release) if ".hypothesis" in path]
    assert "is not absolute" not in done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr, done.stderr
