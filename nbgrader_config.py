"""nbgrader for this course: instructors write `solutions/`, students receive `assignments/`.

`nbgrader generate_assignment 02_activations` reads `solutions/02_activations/` and writes
`assignments/02_activations/`, with the reference code between the solution markers replaced by stubs.
"""

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
