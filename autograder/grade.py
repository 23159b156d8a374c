"""Grading a path with a mode and a seed: the one way in, for the command, the notebook, the service, a
class's grading processes and the benchmarks.

:func:`grade_path` reads a submission (a notebook, a ``.py`` file or a folder holding one), finds its
assignment's catalogue and grades it; :func:`grade_submission` grades one already read (a notebook
kernel's cells). A submission that cannot be read still gets a report (no points, the reason in its
notes); a problem with how the grader was asked to run is a :class:`UsageError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from autograder.exercises import known_assignments, load_assignment
from autograder.grading.catalogue import Assignment
from autograder.grading.references import References, load_references
from autograder.grading.report import Report, zero_report
from autograder.grading.runner import GRADING_SEED, Grader, Mode
from autograder.grading.submission import Submission, SubmissionError, load_submission
from autograder.sandbox.launcher import Limits

SEED_VARIABLE = "AUTOGRADER_SEED"


class UsageError(Exception):
    """A problem with how the grader was asked to run: reported in one line, exit status 2."""


def grading_seed(option: int | None, environment: Mapping[str, str] | None = None) -> int:
    """``option``, else ``$AUTOGRADER_SEED`` (of ``environment``, by default this process's), else the default."""
    if option is not None:
        return option
    configured = (os.environ if environment is None else environment).get(SEED_VARIABLE)
    if configured is None:
        return GRADING_SEED
    try:
        return int(configured)
    except ValueError:
        raise UsageError(f"${SEED_VARIABLE} must be an integer, not {configured!r}") from None


def grade_path(path: Path, assignment_id: str | None, mode: Mode, seed: int) -> Report:
    """Grade or check one submission; a submission that cannot be read at all still gets a report."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    try:
        submission = load_submission(path)
    except SubmissionError as error:
        # An unreadable submission is the student's problem, not the grader's: it gets a zero report,
        # built without starting a worker (there is no code to run).
        assignment = load_assignment(_required(assignment_id, path))
        return zero_report(assignment, path.name, mode.name, seed, mode.include_hidden, str(error))
    assignment = load_assignment(assignment_id or _required(submission.assignment_hint, path))
    references = load_references(assignment) if mode.include_hidden else None
    if mode.include_hidden and references is None:
        raise UsageError(
            f"grading {assignment.id} needs the instructor's solutions: set AUTOGRADER_COURSE_ROOT to the course folder"
        )
    return grade_submission(submission, assignment, mode, seed, references=references)


def grade_submission(
    submission: Submission,
    assignment: Assignment,
    mode: Mode,
    seed: int,
    functions: list[str] | None = None,
    references: References | None = None,
    limits: Limits | None = None,
) -> Report:
    """Grade ``submission`` (all of ``assignment``'s functions, or ``functions``) with ``mode`` and ``seed``;
    hidden properties need the ``references``; ``limits`` replace the sandbox's (a benchmark's)."""
    return Grader(assignment, references, mode, seed, limits).grade(submission, functions)


def _required(assignment_id: str | None, path: Path) -> str:
    if assignment_id is None:
        raise UsageError(
            f"{path}: cannot tell which assignment this is; pass --assignment ({', '.join(known_assignments())})"
        )
    return assignment_id
