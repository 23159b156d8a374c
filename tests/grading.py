"""Helpers for tests that grade submissions: several at once, in separate processes."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from autograder.exercises import load_assignment
from autograder.grading.references import load_references
from autograder.grading.report import Report
from autograder.grading.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED, Grader, Mode, prepare_examples
from autograder.grading.submission import load_submission

MODES: dict[str, tuple[Mode, int]] = {"grade": (GRADE, GRADING_SEED), "check": (CHECK, PUBLIC_SEED)}


def grade(path: Path, assignment_id: str, mode: str = "grade") -> Report:
    assignment = load_assignment(assignment_id)
    run_mode, seed = MODES[mode]
    references = load_references(assignment) if run_mode.include_hidden else None
    return Grader(assignment, references, run_mode, seed).grade(load_submission(path))


def _grade_job(job: tuple[Path, str, str]) -> Report:
    return grade(*job)


def grade_many(jobs: list[tuple[Path, str, str]]) -> list[Report]:
    """Grade ``(path, assignment, mode)`` jobs in parallel, one process per core.

    The examples are drawn here first, once, so that the parallel graders replay them from the bank.
    """
    for assignment_id, mode in sorted({(job[1], job[2]) for job in jobs}):
        run_mode, seed = MODES[mode]
        prepare_examples(load_assignment(assignment_id), seed, run_mode)
    with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(_grade_job, jobs))
