"""A notebook kernel's cells as a submission: what ``autograde.check`` in a notebook grades.

The cells come from the kernel's history (as typed, each with its ``In [n]``); each is named as
``autograder check`` names it where the saved notebook holds it, so feedback points at the same cell on
both routes, and a warning says when the saved notebook (what the grade reads) differs from the kernel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder.grading.catalogue import Assignment
from autograder.grading.submission import (
    Submission,
    SubmissionError,
    code_cell_label,
    first_line_of,
    load_submission,
    notebook_code_cells,
    read_text,
    submission_from_cells,
)


def kernel_submission(
    assignment: Assignment, name: str, history: list[tuple[int, str]], candidates: list[str], cwd: str = ""
) -> tuple[Submission, str]:
    """The submission a check of ``name`` grades, from a kernel's ``history`` (``(In [n], cell)`` pairs,
    oldest first), and the warning to show first ("" if none).

    The saved notebook is the first of ``candidates`` (what Jupyter or VS Code call the notebook), then the
    assignment's notebook, that is a file (relative to ``cwd``, the kernel's folder). Each cell is named as
    ``autograder check`` names it where the saved notebook holds it, else by its run (``In [n]``).
    """
    saved = saved_notebook([*candidates, assignment.notebook], cwd)
    notebook = saved.name if saved is not None else Path(assignment.notebook).name
    cells = notebook_code_cells(_read_notebook(saved)) if saved is not None else []
    positions = {cell.rstrip(): number for number, cell in reversed(list(enumerate(cells, start=1)))}
    locations = []
    for count, text in history:
        position = positions.get(text.rstrip())
        if position is not None:
            locations.append(code_cell_label(notebook, position, text))
        else:  # not in the saved notebook (edited or added since it was saved): named by its run
            locations.append(f"{notebook}, unsaved cell In [{count}] `{first_line_of(text)}`")
    submission = submission_from_cells(Path(notebook), [text for _, text in history], locations)
    return submission, unsaved_warning(name, submission, saved, assignment.notebook)


def saved_notebook(candidates: list[str], cwd: str = "") -> Path | None:
    """The first of ``candidates`` that is a notebook file (a relative one is in ``cwd``)."""
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(cwd or ".") / candidate
            if path.is_file():
                return path
    return None


def _read_notebook(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except (SubmissionError, ValueError, RecursionError):
        return None


def unsaved_warning(name: str, kernel: Submission, saved: Path | None, notebook: str) -> str:
    """What a student must know before submitting, when the saved notebook is not what this check graded:
    ``name`` (or what it uses) defined differently there, or a notebook this check cannot find."""
    advice = "your grade reads the saved notebook: save it, then restart the kernel and run all cells"
    if saved is None:
        return f"this check graded this kernel's cells; {advice} (this check could not find {Path(notebook).name})"
    try:
        on_disk = load_submission(saved)
    except SubmissionError as error:
        return f"this check graded this kernel's cells, but {error}; {advice}"
    top_level = {n for chunk in kernel.chunks for n in chunk.defines}
    differ = [
        n
        for n in sorted({name} | (kernel.reads_of(name) & top_level))
        if _definition(kernel, n) != _definition(on_disk, n)
    ]
    if not differ:
        return ""
    what = ", ".join(f"`{n}`" for n in differ)
    return (
        f"the saved {saved.name} defines {what} differently from this kernel (or not at all), and this check "
        f"graded the kernel; {advice}"
    )


def _definition(submission: Submission, name: str) -> str | None:
    found = [chunk.source.strip() for chunk in submission.chunks if name in chunk.defines]
    return found[-1] if found else None
