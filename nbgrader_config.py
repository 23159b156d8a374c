"""nbgrader for this course: instructors write `solutions/`, students receive `assignments/`.

`nbgrader generate_assignment 02_activations` reads `solutions/02_activations/` and writes
`assignments/02_activations/`, with the reference code between the solution markers replaced by stubs.

`nbgrader autograde 02_activations` never runs a submitted notebook: nbgrader's `Execute` step (a kernel
running the student's cells as you, with no sandbox) is replaced by `GradeInSandbox`, which grades each
submitted file exactly as `autograder grade-batch` does, in the autograder's sandbox, and writes each
function's points into its grade cell (`autograder/class_grading/nbgrader_route.py`, docs/grading-a-class.md).
"""

import os

from autograder.class_grading.nbgrader_route import autograde_preprocessors, longest_cell_seconds

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by nbgrader when it loads this file

# The course is the folder holding this file, as an absolute path: nbgrader warns about a relative root
# each time it loads the config, and "." would make the course wherever the command happens to run.
# (nbgrader's config loader defines __file__ as this file's path.)
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
# Folders that tools leave beside notebooks never travel into a release, autograded/ or feedback/: the
# grader keeps Hypothesis' files in its own cache folder, but a course may hold older ones, or an
# instructor's own Hypothesis tests may leave them.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".hypothesis"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Autograding: the points come from the sandboxed grader, never from a kernel running the submission.
c.Autograde.autograde_preprocessors = autograde_preprocessors()
# A grade cell a student deleted is put back, so that it gets the points the grader gave.
c.OverwriteCells.add_missing_cells = True
# One submission may take as long as grade-batch allows it: every function's budgets, plus a minute
# (each function's own budgets, enforced in the sandbox, keep a hanging function to its own points).
c.GradeInSandbox.timeout = None
# `nbgrader validate` and `generate_solution` still run a notebook in your own kernel, cell by cell:
# a cell that grades one function may take that function's whole budget.
c.Execute.timeout = longest_cell_seconds()
