"""The autograder inside a notebook: ``autograde.check(sigmoid)`` and nbgrader's test cells.

The checks grade what the kernel has run so far, rebuilt from IPython's input history the same way
``autograder`` reads a saved notebook, in a separate worker process. A cell is named as ``autograder
check`` names it (its position among the saved notebook's code cells, and its first line) where the saved
notebook holds it, and a check warns when the saved notebook defines the checked function, or what it
uses, differently from the kernel: the grade reads the saved file. ``points(name)`` is what an
nbgrader test cell shows a student in their own kernel (and in ``nbgrader validate``): the function's
points as a number, with nothing on stderr; in a student bundle, which has no reference solutions, a line
saying that the instructor gives the points, and no number. It is never how a grade is made: anything in the student's
kernel can change it. ``nbgrader autograde`` runs no notebook at all; with this course's
``nbgrader_config.py`` the points come from the sandboxed grader (:mod:`autograder.class_grading.nbgrader_route`), and a
test cell run by nbgrader's own autograde step (the configuration left out) refuses, so that such a run
gives no honest student a point and the instructor sees why.

Imports stay inside the methods: this module is imported in every student kernel and every worker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autograder.grading.submission import Submission


class AssignmentChecks:
    """Checks of one assignment, bound to the notebook that creates it."""

    def __init__(self, assignment_id: str) -> None:
        from autograder.exercises import load_assignment

        self.assignment = load_assignment(assignment_id)

    def check(self, function: Any) -> None:
        """Print the public checks' feedback for ``function`` (a function or its name)."""
        from autograder.grade import grade_submission
        from autograder.grading.report import render_text
        from autograder.grading.runner import CHECK, PUBLIC_SEED, quiet_stderr
        from autograder.grading.submission import submission_from_cells

        name = self._name(function)
        saved = saved_notebook(self.assignment.notebook)
        notebook, cells, locations = self._kernel_cells(saved)
        submission = submission_from_cells(Path(notebook), cells, locations)
        warning = unsaved_warning(name, submission, saved, self.assignment.notebook)
        request = {"cells": cells, "locations": locations, "notebook": str(notebook), "functions": [name]}
        text = self._check_in_service({**request, "notes": [warning] if warning else []})
        if text is None:
            with quiet_stderr():
                report = grade_submission(submission, self.assignment, CHECK, PUBLIC_SEED, [name])
            if warning:
                report.notes.insert(0, warning)
            text = render_text(report)
        print(text.strip())

    def _check_in_service(self, request: dict[str, Any]) -> str | None:
        """The warm service's feedback on this kernel's cells (autograder.service), or None to grade here."""
        import os

        from autograder import service

        if os.environ.get(service.SERVICE_VARIABLE, "on") == "off":
            return None
        try:
            answer = service.check({**request, "assignment": self.assignment.id})
        except service.ServiceUnavailable:
            return None
        return str(answer["text"]) if answer.get("ok") else None

    def points(self, function: Any) -> float | None:
        """The points ``function`` earns with every property, as ``autograder grade`` gives them.

        Where the reference solutions are not at hand (a student bundle) there are no points to show: it
        says that the instructor gives them, and returns ``None``, so that the cell shows no number
        (nbgrader would read a number as the cell's partial credit).
        """
        from autograder.grade import grade_submission, grading_seed
        from autograder.grading.references import load_references
        from autograder.grading.runner import GRADE, quiet_stderr
        from autograder.grading.submission import submission_from_cells

        name = self._name(function)
        if os.environ.get("NBGRADER_EXECUTION") == "autograde":
            raise RuntimeError(
                "nbgrader autograde ran this notebook in a kernel, unsandboxed: grades made so can be forged. "
                "Run nbgrader autograde with the course's nbgrader_config.py, which grades in the sandbox."
            )
        with quiet_stderr():
            references = load_references(self.assignment)
            if references is None:
                print(
                    f"{name}: your points are given by your instructor when you hand in your work; "
                    f"for feedback now, run autograde.check({name})"
                )
                return None
            submission = submission_from_cells(*self._kernel_cells(saved_notebook(self.assignment.notebook)))
            seed = grading_seed(None)
            report = grade_submission(submission, self.assignment, GRADE, seed, [name], references)
        result = report.function(name)
        for prop in result.properties:
            if not prop.passed:
                reason = prop.feedback.strip().splitlines()[0] if prop.feedback.strip() else ""
                print(f"x {prop.says}" + (f"\n    {reason}" if reason else ""))  # what failed, and why
        return float(result.points)

    def _name(self, function: Any) -> str:
        name = function if isinstance(function, str) else getattr(function, "__name__", None)
        if name not in self.assignment.functions:
            known = ", ".join(self.assignment.functions)
            raise ValueError(f"{name!r} is not graded in {self.assignment.id}; the graded functions are {known}")
        return str(name)

    def _kernel_cells(self, saved: Path | None) -> tuple[Path, list[str], list[str]]:
        """The notebook's name, the kernel's cells, and each one's name as in the saved notebook (where it
        holds the cell): the makings of :func:`autograder.grading.submission.submission_from_cells`."""
        from autograder.grading.submission import code_cell_label, first_line_of, notebook_code_cells

        history = _kernel_history()
        name = saved.name if saved is not None else Path(self.assignment.notebook).name
        cells = notebook_code_cells(_read_notebook(saved)) if saved is not None else []
        positions = {cell.rstrip(): number for number, cell in reversed(list(enumerate(cells, start=1)))}
        locations = []
        for count, text in history:
            position = positions.get(text.rstrip())
            if position is not None:
                locations.append(code_cell_label(name, position, text))
            else:  # not in the saved notebook (edited or added since it was saved): named by its run
                locations.append(f"{name}, unsaved cell In [{count}] `{first_line_of(text)}`")
        return Path(name), [text for _, text in history], locations


def saved_notebook(notebook: str) -> Path | None:
    """The notebook file this kernel runs, where it can be found: Jupyter's and VS Code's word for it,
    else the assignment's notebook in the kernel's working folder."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - notebooks always have IPython
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    user_ns = getattr(shell, "user_ns", {}) or {}
    candidates = [user_ns.get("__vsc_ipynb_file__"), user_ns.get("__session__"), os.environ.get("JPY_SESSION_NAME")]
    for candidate in [*candidates, notebook]:
        if isinstance(candidate, str) and candidate.endswith(".ipynb") and Path(candidate).is_file():
            return Path(candidate)
    return None


def _read_notebook(path: Path) -> Any:
    from autograder.grading.submission import SubmissionError, read_text

    try:
        return json.loads(read_text(path))
    except (SubmissionError, ValueError, RecursionError):
        return None


def unsaved_warning(name: str, kernel: Submission, saved: Path | None, notebook: str) -> str:
    """What a student must know before submitting, when the saved notebook is not what this check graded:
    ``name`` (or what it uses) defined differently there, or a notebook this check cannot find."""
    from autograder.grading.submission import SubmissionError, load_submission

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


def _kernel_history() -> list[tuple[int, str]]:
    """The cells run so far in this kernel, oldest first, as typed (IPython's raw input history), each with
    its execution count (``In [n]``)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - notebooks always have IPython
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is None:
        raise RuntimeError("AssignmentChecks works inside a notebook; outside one, run `autograder check FILE`")
    manager = getattr(shell, "history_manager", None)
    history = getattr(manager, "input_hist_raw", None) or shell.user_ns.get("In", [])
    # The current cell (the one calling check) is last; it only calls the checks, so it is harmless.
    return [(count, cell) for count, cell in enumerate(history) if isinstance(cell, str) and cell.strip()]
