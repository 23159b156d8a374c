"""The ``autograder`` command: ``check`` for students, ``grade`` for instructors (docs/GRADING.md).

Exit status 0 whenever a report was produced, whatever the score; 2 with one line on stderr when the
grader itself cannot run (no such path, unknown assignment, a broken reference).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from autograder import __version__
from autograder.catalogue import UnknownAssignment, known_assignments, load_assignment
from autograder.references import ReferenceUnusable, load_references
from autograder.report import Report, render_text, to_gradescope
from autograder.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED, Grader, GraderError, Mode
from autograder.submission import Submission, SubmissionError, load_submission

SEED_VARIABLE = "AUTOGRADER_SEED"


class UsageError(Exception):
    """A problem with how the grader was asked to run: reported in one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autograder", description="Property-based grading of the course's assignments."
    )
    parser.add_argument("--version", action="version", version=f"autograder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="run the public checks and print feedback")
    grade = commands.add_parser("grade", help="grade a submission with every property")
    for command in (check, grade):
        command.add_argument("path", type=Path, help="a .ipynb notebook, a .py module, or a folder holding one")
        command.add_argument("--assignment", help=f"one of {', '.join(known_assignments())} (inferred from a notebook)")
    grade.add_argument("--format", choices=("text", "gradescope"), default="text")
    grade.add_argument("--out", type=Path, help="write the report to this file instead of standard output")
    grade.add_argument("--seed", type=int, help=f"the grading seed (default ${SEED_VARIABLE}, else {GRADING_SEED})")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    try:
        if options.command == "check":
            report = run(options.path, options.assignment, CHECK, PUBLIC_SEED)
            sys.stdout.write(render_text(report))
            return 0
        report = run(options.path, options.assignment, GRADE, grading_seed(options.seed))
        text = (
            json.dumps(to_gradescope(report), indent=2) + "\n"
            if options.format == "gradescope"
            else render_text(report)
        )
        if options.out:
            try:
                options.out.write_text(text, encoding="utf-8")
            except OSError as error:
                raise UsageError(f"cannot write the report to {options.out}: {error.strerror}") from None
        else:
            sys.stdout.write(text)
        return 0
    except (UsageError, UnknownAssignment, ReferenceUnusable, GraderError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2


def grading_seed(option: int | None) -> int:
    if option is not None:
        return option
    configured = os.environ.get(SEED_VARIABLE)
    if configured is None:
        return GRADING_SEED
    try:
        return int(configured)
    except ValueError:
        raise UsageError(f"${SEED_VARIABLE} must be an integer, not {configured!r}") from None


def run(path: Path, assignment_id: str | None, mode: Mode, seed: int) -> Report:
    """Grade or check one submission; a submission that cannot be read at all still gets a report."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    try:
        submission = load_submission(path)
    except SubmissionError as error:
        # An unreadable submission is the student's problem, not the grader's: it gets a zero report.
        assignment = load_assignment(_required(assignment_id, path))
        empty = Submission(path=path)
        grader = Grader(assignment, None, mode, seed)
        report = grader.grade(empty)
        report.notes.append(str(error))
        for function in report.functions:
            function.note = "not graded: the submission could not be read"
            for result in function.properties:
                if result.verdict != "skipped":
                    result.verdict = "error"
        return report
    assignment = load_assignment(assignment_id or _required(submission.assignment_hint, path))
    references = load_references(assignment) if mode.include_hidden else None
    if mode.include_hidden and references is None:
        raise UsageError(
            f"grading {assignment.id} needs the instructor's solutions: set AUTOGRADER_COURSE_ROOT to the course folder"
        )
    return Grader(assignment, references, mode, seed).grade(submission)


def _required(assignment_id: str | None, path: Path) -> str:
    if assignment_id is None:
        raise UsageError(
            f"{path}: cannot tell which assignment this is; pass --assignment ({', '.join(known_assignments())})"
        )
    return assignment_id
