"""The autograder inside a notebook: ``autograde.check(sigmoid)`` and nbgrader's test cells.

The checks grade what the kernel has run so far, rebuilt from IPython's input history the same way
``autograder`` reads a saved notebook, in a separate worker process. ``points(name)`` is what an
nbgrader test cell shows a student in their own kernel (and in ``nbgrader validate``): the function's
points as a number, with nothing on stderr; in a student bundle, which has no reference solutions, a line
saying that the instructor gives the points, and no number. It is never how a grade is made: anything in the student's
kernel can change it. ``nbgrader autograde`` runs no notebook at all; with this course's
``nbgrader_config.py`` the points come from the sandboxed grader (:mod:`autograder.nbgrader_route`), and a
test cell run by nbgrader's own autograde step (the configuration left out) refuses, so that such a run
gives no honest student a point and the instructor sees why.

Imports stay inside the methods: this module is imported in every student kernel and every worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class AssignmentChecks:
    """Checks of one assignment, bound to the notebook that creates it."""

    def __init__(self, assignment_id: str) -> None:
        from autograder.catalogue import load_assignment

        self.assignment = load_assignment(assignment_id)

    def check(self, function: Any) -> None:
        """Print the public checks' feedback for ``function`` (a function or its name)."""
        from autograder.report import render_text
        from autograder.runner import CHECK, PUBLIC_SEED, Grader, quiet_stderr

        name = self._name(function)
        text = self._check_in_service(name)
        if text is None:
            with quiet_stderr():
                report = Grader(self.assignment, None, CHECK, PUBLIC_SEED).grade(self._submission(), [name])
            text = render_text(report)
        print(text.strip())

    def _check_in_service(self, name: str) -> str | None:
        """The warm service's feedback on this kernel's cells (autograder.service), or None to grade here."""
        import os

        from autograder import service

        if os.environ.get(service.SERVICE_VARIABLE, "on") == "off":
            return None
        request = {"cells": _kernel_history(), "notebook": self.assignment.notebook, "functions": [name]}
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
        from autograder.cli import grading_seed
        from autograder.references import load_references
        from autograder.runner import GRADE, Grader, quiet_stderr

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
            report = Grader(self.assignment, references, GRADE, grading_seed(None)).grade(self._submission(), [name])
        result = report.function(name)
        for prop in result.properties:
            if not prop.passed:
                print(f"x {prop.says}")
        return float(result.points)

    def _name(self, function: Any) -> str:
        name = function if isinstance(function, str) else getattr(function, "__name__", None)
        if name not in self.assignment.functions:
            known = ", ".join(self.assignment.functions)
            raise ValueError(f"{name!r} is not graded in {self.assignment.id}; the graded functions are {known}")
        return str(name)

    def _submission(self) -> Any:
        from autograder.submission import submission_from_cells

        return submission_from_cells(Path(self.assignment.notebook), _kernel_history())


def _kernel_history() -> list[str]:
    """The cells run so far in this kernel, oldest first (IPython's ``In`` list)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - notebooks always have IPython
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is None:
        raise RuntimeError("AssignmentChecks works inside a notebook; outside one, run `autograder check FILE`")
    history = shell.user_ns.get("In", [])
    # The current cell (the one calling check) is last; it only calls the checks, so it is harmless.
    return [cell for cell in history if isinstance(cell, str) and cell.strip()]
