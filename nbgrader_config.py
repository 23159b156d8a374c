"""nbgrader for this course: instructors write `solutions/`, students receive `assignments/`.

`nbgrader generate_assignment 02_activations` reads `solutions/02_activations/` and writes
`assignments/02_activations/`, with the reference code between the solution markers replaced by stubs.

`nbgrader autograde 02_activations` never runs a submitted notebook: nbgrader's `Execute` step (a kernel
running the student's cells as you, with no sandbox) is replaced by `GradeInSandbox`, which grades each
submitted file exactly as `autograder grade-batch` does, in the autograder's sandbox, and writes each
function's points into its grade cell (`autograder/nbgrader_route.py`, docs/grading-a-class.md).
"""

from autograder.nbgrader_route import autograde_preprocessors, longest_cell_seconds

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
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
