"""Helpers for tests that grade submissions: several at once, in separate processes."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from autograder.catalogue import load_assignment
from autograder.references import load_references
from autograder.report import Report
from autograder.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED, Grader
from autograder.submission import load_submission


def grade(path: Path, assignment_id: str, mode: str = "grade") -> Report:
    assignment = load_assignment(assignment_id)
    if mode == "grade":
        return Grader(assignment, load_references(assignment), GRADE, GRADING_SEED).grade(load_submission(path))
    return Grader(assignment, None, CHECK, PUBLIC_SEED).grade(load_submission(path))


def _grade_job(job: tuple[Path, str, str]) -> Report:
    return grade(*job)


def grade_many(jobs: list[tuple[Path, str, str]]) -> list[Report]:
    """Grade ``(path, assignment, mode)`` jobs in parallel, one process per core."""
    with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(_grade_job, jobs))
