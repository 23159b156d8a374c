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

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autograder.grading.catalogue import Assignment


class AssignmentChecks:
    """Checks of one assignment, bound to the notebook that creates it.

    Creating it imports nothing heavy (it runs in a notebook's first cell): the catalogue, NumPy and
    Hypothesis are loaded by the warm service (:mod:`autograder.service`), or here only when a check
    must be graded in this process (no service) or points are asked for.
    """

    def __init__(self, assignment_id: str) -> None:
        from autograder.exercises import is_known, load_assignment

        if not is_known(assignment_id):
            load_assignment(assignment_id)  # raises UnknownAssignment, naming the known ones
        self.id = assignment_id
        self._assignment: Assignment | None = None
        if os.environ.get("AUTOGRADER_SERVICE", "on") != "off":
            from autograder import service

            service.prepare(assignment_id)  # the service loads the catalogue and zygote while the student works

    @property
    def assignment(self) -> Assignment:
        """The catalogue, loaded on first use in this process (the in-process fallback, ``points``)."""
        if self._assignment is None:
            from autograder.exercises import load_assignment

            self._assignment = load_assignment(self.id)
        return self._assignment

    def check(self, function: Any) -> None:
        """Print the public checks' feedback for ``function`` (a function or its name)."""
        name = function if isinstance(function, str) else getattr(function, "__name__", None)
        text = self._check_in_service(name) if isinstance(name, str) else None
        if text is None:
            from autograder.grade import grade_submission
            from autograder.grading.report import render_text
            from autograder.grading.runner import CHECK, PUBLIC_SEED, quiet_stderr

            name = self._name(function)
            from autograder.grading.kernel_cells import kernel_submission

            submission, warning = kernel_submission(self.assignment, name, _kernel_history(), _kernel_candidates())
            with quiet_stderr():
                report = grade_submission(submission, self.assignment, CHECK, PUBLIC_SEED, [name])
            if warning:
                report.notes.insert(0, warning)
            text = render_text(report)
        print(text.strip())

    def _check_in_service(self, name: str) -> str | None:
        """The warm service's feedback on this kernel's cells (autograder.service), or None to grade here.

        Only the kernel's raw history and where the saved notebook may be travel: the service names the
        cells, reads the saved notebook and grades (:func:`autograder.grading.kernel_cells.kernel_submission`),
        so this kernel imports no NumPy, Hypothesis or catalogue for it.
        """
        from autograder import service

        if os.environ.get(service.SERVICE_VARIABLE, "on") == "off":
            return None
        request = {
            "assignment": self.id,
            "function": name,
            "history": _kernel_history(),
            "candidates": _kernel_candidates(),
            "cwd": os.getcwd(),
        }
        try:
            answer = service.check(request)
        except service.ServiceUnavailable:
            return None
        if answer.get("refused"):  # not a graded function: the same error as in-process
            raise ValueError(str(answer.get("error")))
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
            from autograder.grading.kernel_cells import kernel_submission

            submission, _ = kernel_submission(self.assignment, name, _kernel_history(), _kernel_candidates())
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


def _kernel_candidates() -> list[str]:
    """What the kernel calls its notebook file: Jupyter's and VS Code's word for it, where they give one."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - notebooks always have IPython
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    user_ns = getattr(shell, "user_ns", {}) or {}
    found = [user_ns.get("__vsc_ipynb_file__"), user_ns.get("__session__"), os.environ.get("JPY_SESSION_NAME")]
    return [str(candidate) for candidate in found if isinstance(candidate, str)]


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
