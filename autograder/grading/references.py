"""The instructor's reference implementations, read from the solution notebooks.

The solution notebook is the single source of truth: the grader takes its functions the same way it
takes a student's (:mod:`autograder.grading.submission`: no demonstration runs) and runs them in the grader process,
which is safe because they are the instructor's own code. A student bundle has no ``solutions/`` and no
hidden properties (:mod:`autograder.class_grading.student_bundle`); there ``autograder check`` relies on properties and
outside references alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from autograder.grading.catalogue import Assignment
from autograder.grading.submission import load_submission
from autograder.sandbox.chunks import Chunk
from autograder.sandbox.locations import find_course_root


class ReferenceUnusable(Exception):
    """The reference notebook exists but cannot be used: a problem for the instructor to fix."""


@dataclass
class References:
    """The reference functions of one assignment, and the chunks to start a reference worker from."""

    path: Path
    chunks: list[Chunk]
    namespace: dict[str, Any]

    def function(self, name: str) -> Callable[..., Any]:
        found = self.namespace.get(name)
        if not callable(found):
            raise ReferenceUnusable(f"{self.path}: the reference notebook defines no function {name!r}")
        return cast(Callable[..., Any], found)


def reference_path(assignment: Assignment, root: Path) -> Path:
    return root / "solutions" / assignment.id / assignment.notebook


def load_references(assignment: Assignment, root: Path | None = None) -> References | None:
    """The references of ``assignment``, or ``None`` where no solutions are available."""
    root = root if root is not None else find_course_root()
    if root is None:
        return None
    path = reference_path(assignment, root)
    if not path.exists():
        return None
    submission = load_submission(path)
    if submission.problems:
        raise ReferenceUnusable(f"{path}: {submission.problems[0].origin}: {submission.problems[0].message}")
    namespace: dict[str, Any] = {"__name__": f"reference_{assignment.id}"}
    failed: list[str] = []
    for chunk in submission.chunks:
        try:
            exec(compile(chunk.source, chunk.location, "exec"), namespace)  # noqa: S102 - the instructor's code
        except Exception as error:  # noqa: BLE001 - as in a worker: a demonstration that fails costs itself only
            failed.append(f"{chunk.origin}: {type(error).__name__}: {error}")
    missing = [name for name in assignment.functions if not callable(namespace.get(name))]
    if missing:
        why = f" ({failed[0]})" if failed else ""
        raise ReferenceUnusable(f"{path}: the reference notebook does not define {', '.join(missing)}{why}")
    return References(path=path, chunks=submission.chunks, namespace=namespace)
