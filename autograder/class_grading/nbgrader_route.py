"""``nbgrader autograde`` without running a submission: the points come from the sandboxed grader.

nbgrader's own autograde step executes each submitted notebook in a Jupyter kernel, as the instructor and
with no sandbox, and scores each test cell by what that kernel shows. A student's cell could then rewrite
the test (``autograde.points = lambda f: 10.0``), silence it (nbgrader gives a test cell that shows
nothing full credit), or do whatever the instructor may do (read ``solutions/``, rewrite
``gradebook.db``). So this course never lets nbgrader execute a submission: ``nbgrader_config.py`` puts
:class:`GradeInSandbox` in the place of nbgrader's ``Execute`` preprocessor in
``Autograde.autograde_preprocessors`` (:func:`autograde_preprocessors`). For each submitted notebook it

- grades the submitted file exactly as ``autograder grade-batch`` does
  (:func:`autograder.class_grading.batch.grade_one`:
  read as data, graded in a grading process of its own whose sandbox workers alone run student code, with
  every budget), so a function that hangs, crashes or eats memory costs its own points and nothing more;
- writes each function's points into its grade cell ``test_<function>``, as the cell's one
  ``execute_result`` after the function's feedback on stdout: the output nbgrader's later steps read
  (``SaveAutoGrades`` takes a grade cell's score from it; ``generate_feedback`` shows it);
- runs nothing else: every other code cell is left without output, so nothing a notebook's cells do can
  reach the points, and no student code ever runs in nbgrader's process or as the instructor.

The process running nbgrader runs no student code: it reads the file and starts the grading process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_markdown_cell, new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Float, Integer

from autograder.class_grading.batch import find_nbgrader_submission, grade_one
from autograder.class_grading.gradebook import STATUSES, Entry
from autograder.exercises import known_assignments, load_assignment
from autograder.grading.catalogue import Assignment
from autograder.grading.report import function_lines
from autograder.grading.runner import GRADE
from autograder.sandbox.launcher import Limits

GRADE_CELL_PREFIX = "test_"


class GradeInSandbox(NbGraderPreprocessor):  # type: ignore[misc]  # nbgrader is untyped
    """nbgrader's autograde step, with the points from ``autograder``'s sandboxed grader (module docstring)."""

    seed = Integer(
        None, allow_none=True, help="The grading seed (default: $AUTOGRADER_SEED, else the grader's own)."
    ).tag(config=True)
    timeout = Float(
        None,
        allow_none=True,
        help="Seconds one submission may take (default, as grade-batch: every function's budgets, plus a minute).",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from autograder.grade import grading_seed

        ids = resources["nbgrader"]
        assignment = load_assignment(ids["assignment"])
        submitted = self._submitted_folder(ids["student"], assignment.id)
        graded_here = f"{ids['notebook']}.ipynb" == assignment.notebook
        entry = None
        if graded_here:
            found = find_nbgrader_submission(submitted, ids["student"], assignment)
            entry = grade_one(found, assignment, grading_seed(self.seed), self.timeout)
            if entry.status == "grader_error":  # the instructor's setup, not the student's work: stop here
                raise RuntimeError(f"the autograder could not grade {found.source}: {entry.message}")
            self.log.info(
                "%s: %s/%s points (%s), graded in the sandbox",
                ids["student"],
                f"{entry.report.points:g}",
                f"{entry.report.max_points:g}",
                entry.status,
            )
            if entry.message:
                self.log.warning("%s: %s", ids["student"], entry.message)
            if _not_read(submitted / ids["student"] / assignment.id / assignment.notebook):
                _hide_what_was_not_read(nb, entry.message)
        count = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.outputs = []  # never executed: no output, so no points
            cell.execution_count = None
            nbgrader = cell.metadata.get("nbgrader", {})
            if not nbgrader.get("grade"):
                continue
            if not nbgrader.get("grade_id"):  # nbgrader's gradebook does not know it (OverwriteCells said so)
                cell.metadata.nbgrader = {}  # as DeduplicateIds does: not a grade cell, so worth nothing
                continue
            function = _function_of(cell, assignment) if entry is not None else None
            if function is None and nbgrader.get("solution"):
                continue  # an answer graded by hand: nbgrader scores it from its checksum, not its output
            count += 1
            cell.execution_count = count
            if function is None or entry is None:
                cell.outputs = [self._not_graded_here(cell, assignment)]
            else:
                cell.outputs = self._points(cell, function, assignment, entry, count)
        return nb, resources

    def _not_graded_here(self, cell: NotebookNode, assignment: Assignment) -> NotebookNode:
        """A grade cell the grader does not grade: no points, rather than nbgrader's full marks for no output."""
        grade_id = cell.metadata.nbgrader.get("grade_id", "")
        why = f"{grade_id} is not a grade cell the autograder grades (test_<function> of {assignment.notebook})"
        self.log.warning("%s: 0 points; grade it by hand in formgrader", why)
        return _output("error", ename="NotGraded", evalue=why, traceback=[f"NotGraded: {why}"])

    def _points(
        self, cell: NotebookNode, function: str, assignment: Assignment, entry: Entry, count: int
    ) -> list[NotebookNode]:
        """The function's feedback on stdout, then its points as the cell's value (nbgrader's partial credit)."""
        grade_id = cell.metadata.nbgrader["grade_id"]
        max_points = assignment.max_points(function)
        if float(cell.metadata.nbgrader.get("points", -1)) != max_points:
            raise ValueError(
                f"{grade_id} is worth {cell.metadata.nbgrader.get('points')} points in nbgrader's gradebook "
                f"but {max_points:g} in the autograder's catalogue: make them agree and generate the assignment again"
            )
        cell.metadata.nbgrader["solution"] = False  # the instructor's test cell, whatever the submission says
        result = entry.report.function(function)
        lines = [] if entry.status == "graded" else [f"! not graded: {STATUSES[entry.status]}: {entry.message}"]
        lines += function_lines(result, GRADE.name)
        return [
            _output("stream", name="stdout", text="\n".join(lines) + "\n"),
            _output("execute_result", data={"text/plain": repr(float(result.points))}, execution_count=count),
        ]

    def _submitted_folder(self, student: str, assignment_id: str) -> Path:
        """nbgrader's ``submitted/`` folder, as its converter (this preprocessor's grandparent) knows it."""
        coursedir = getattr(getattr(self.parent, "parent", None), "coursedir", None)
        if coursedir is None:
            from nbgrader.coursedir import CourseDirectory

            coursedir = CourseDirectory(config=self.config)
        where = Path(os.path.abspath(coursedir.format_path(coursedir.submitted_directory, student, assignment_id)))
        if where.parent.name != student or where.name != assignment_id:
            raise ValueError(f"{where}: the autograder reads nbgrader's submitted/{{student_id}}/{{assignment_id}}")
        return where.parent.parent


def _function_of(cell: NotebookNode, assignment: Assignment) -> str | None:
    """The function whose grade cell this is (``test_<function>``), if the grader grades it."""
    grade_id = str(cell.metadata.get("nbgrader", {}).get("grade_id", ""))
    function = grade_id.removeprefix(GRADE_CELL_PREFIX)
    return function if grade_id.startswith(GRADE_CELL_PREFIX) and function in assignment.functions else None


def _not_read(path: Path) -> bool:
    """Whether the submitted notebook is something the grader refuses to read through (a link, a device)."""
    try:
        return path.is_symlink() or not path.is_file()
    except OSError:
        return True


def _hide_what_was_not_read(nb: NotebookNode, why: str) -> None:
    """nbgrader read the notebook through a link the grader refused: keep only the instructor's locked cells,
    so that the autograded copy and its feedback page never show what the link pointed at (the solutions,
    a classmate's work)."""
    kept = []
    for cell in nb.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("locked") or nbgrader.get("grade"):
            if nbgrader.get("solution"):
                cell.source = ""
            kept.append(cell)
    nb.cells = [_markdown(f"**Not graded: {why}**"), *kept]


def _output(output_type: str, **fields: Any) -> NotebookNode:
    return cast(NotebookNode, new_output(output_type, **fields))  # type: ignore[no-untyped-call]


def _markdown(source: str) -> NotebookNode:
    return cast(NotebookNode, new_markdown_cell(source))  # type: ignore[no-untyped-call]


def autograde_preprocessors() -> list[Any]:
    """nbgrader's ``Autograde.autograde_preprocessors``, with :class:`GradeInSandbox` where ``Execute`` was."""
    from nbgrader.converters import Autograde

    defaults = list(Autograde.class_traits()["autograde_preprocessors"].default())
    if Execute not in defaults:
        raise RuntimeError("this nbgrader's autograde step has no Execute preprocessor to replace: check its version")
    return [GradeInSandbox if step is Execute else step for step in defaults]


def longest_cell_seconds() -> int:
    """The longest a points cell may take, in any assignment: its function's budget, one call, the start-up.

    ``nbgrader validate`` (and ``generate_solution``) still run a notebook in the user's own kernel, cell by
    cell: their per-cell timeout must let a cell that grades one function finish.
    """
    limits = Limits()
    longest = 0.0
    for assignment_id in known_assignments():
        assignment = load_assignment(assignment_id)
        function = assignment.function_seconds or GRADE.function_seconds
        call = assignment.call_seconds or limits.call_seconds
        longest = max(longest, function + call + limits.start_seconds)
    return int(longest) + 30
