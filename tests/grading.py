"""Helpers for tests that grade submissions: several at once, in separate processes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from autograder.exercises import load_assignment
from autograder.grade import grade_submission
from autograder.grading.references import load_references
from autograder.grading.report import Report
from autograder.grading.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED, Mode, prepare_examples
from autograder.grading.submission import load_submission

MODES: dict[str, tuple[Mode, int]] = {"grade": (GRADE, GRADING_SEED), "check": (CHECK, PUBLIC_SEED)}


def grade(path: Path, assignment_id: str, mode: str = "grade", functions: tuple[str, ...] | None = None) -> Report:
    """Grade one submission, on ``functions`` only if given."""
    assignment = load_assignment(assignment_id)
    run_mode, seed = MODES[mode]
    references = load_references(assignment) if run_mode.include_hidden else None
    only = list(functions) if functions else None
    return grade_submission(load_submission(path), assignment, run_mode, seed, only, references)


def _grade_job(job: tuple[Path, str, str] | tuple[Path, str, str, tuple[str, ...] | None]) -> Report:
    return grade(*job)


def grade_many(jobs: Sequence[tuple[Path, str, str] | tuple[Path, str, str, tuple[str, ...] | None]]) -> list[Report]:
    """Grade ``(path, assignment, mode[, functions])`` jobs in parallel, one process per core.

    The examples are drawn here first, once, so that the parallel graders replay them from the bank.
    """
    for assignment_id, mode in sorted({(job[1], job[2]) for job in jobs}):
        run_mode, seed = MODES[mode]
        prepare_examples(load_assignment(assignment_id), seed, run_mode)
    with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(_grade_job, jobs))
