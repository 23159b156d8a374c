"""Exports of a gradebook: a CSV of the class, Gradescope's results.json per student, nbgrader's gradebook,
and feedback pages.

Every export reads the stored reports and runs nothing. Each writes its files whole (to a temporary
name first, then renamed), so an export stopped half-way never leaves a truncated file behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

from autograder.class_grading.feedback_page import render_page
from autograder.class_grading.gradebook import Entry
from autograder.grading.catalogue import Assignment
from autograder.grading.report import to_gradescope

FORMATS = ("csv", "gradescope", "nbgrader", "feedback")


class ExportError(Exception):
    """An export cannot be written (a read-only folder, a full disk, nbgrader's gradebook refusing it)."""


def default_destination(fmt: str, assignment: str) -> Path:
    return {
        "csv": Path(f"grades-{assignment}.csv"),
        "gradescope": Path("gradescope-results"),
        "nbgrader": Path("gradebook.db"),
        "feedback": Path("feedback"),
    }[fmt]


def export(fmt: str, entries: list[Entry], assignment: Assignment, destination: Path) -> list[Path]:
    """Write ``entries`` in format ``fmt`` to ``destination``; returns the files written."""
    try:
        if fmt == "csv":
            return [write_csv(entries, assignment, destination)]
        if fmt == "gradescope":
            return write_gradescope(entries, destination)
        if fmt == "feedback":
            return write_feedback_pages(entries, assignment, destination)
        if fmt == "nbgrader":
            return [write_nbgrader(entries, assignment, destination)]
    except OSError as error:
        where = error.filename or destination
        raise ExportError(f"cannot write {where}: {error.strerror or error}") from None
    raise ExportError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")


def write_csv(entries: list[Entry], assignment: Assignment, path: Path) -> Path:
    """One row per student, in the spirit of nbgrader's ``grades.csv``: a column per function, then the total.

    ``status`` says whether the row is a grade (``graded``) or why it is a zero (``no_submission``,
    ``unreadable``, ...); ``message`` says what went wrong with the submission as a whole.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    functions = list(assignment.functions)
    writer.writerow(["student_id", "assignment", *functions, "score", "max_score", "status", "message", "graded_at"])
    for entry in entries:
        points = entry.report.points_by_function()
        writer.writerow(
            [
                csv_safe(entry.student),
                csv_safe(entry.assignment),
                *[f"{points.get(function, 0.0):g}" for function in functions],
                f"{entry.report.points:g}",
                f"{entry.report.max_points:g}",
                csv_safe(entry.status),
                csv_safe(entry.message),
                csv_safe(entry.graded_at),
            ]
        )
    _write_whole(path, buffer.getvalue())
    return path


def write_gradescope(entries: list[Entry], folder: Path) -> list[Path]:
    """``folder/{student}/results.json``: Gradescope's format, as ``autograder grade --format gradescope`` writes."""
    written = []
    for entry in entries:
        results = to_gradescope(entry.report)
        results["extra_data"]["student"] = entry.student
        results["extra_data"]["status"] = entry.status
        path = folder / entry.student / "results.json"
        _write_whole(path, json.dumps(results, indent=2) + "\n")
        written.append(path)
    return written


def write_feedback_pages(entries: list[Entry], assignment: Assignment, folder: Path) -> list[Path]:
    """``folder/{student}/{assignment}/feedback.html``, nbgrader's layout for feedback."""
    written = []
    for entry in entries:
        path = folder / entry.student / entry.assignment / "feedback.html"
        _write_whole(path, render_page(entry.report, entry.student, assignment))
        written.append(path)
    return written


def write_nbgrader(entries: list[Entry], assignment: Assignment, database: Path) -> Path:
    """Store the scores in nbgrader's gradebook (``gradebook.db``), so ``nbgrader export`` and formgrader see them.

    Each function is the nbgrader grade cell ``test_<function>`` of the assignment's notebook, as the
    solution notebooks define them; the assignment, notebook, cells and students are created where the
    gradebook lacks them. A function's points become the cell's automatic score; manual scores that
    graders entered in formgrader are kept.
    """
    from nbgrader.api import Gradebook, MissingEntry

    notebook = Path(assignment.notebook).stem
    database.parent.mkdir(parents=True, exist_ok=True)
    # nbgrader runs `alembic` from PATH to set up its database: use the one installed beside this Python,
    # as an unactivated virtual environment would otherwise not find it.
    here = str(Path(sys.executable).parent)
    if here not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")
    with Gradebook(f"sqlite:///{database}") as gradebook:
        gradebook.update_or_create_assignment(assignment.id)
        gradebook.update_or_create_notebook(notebook, assignment.id)
        for function in assignment.functions:
            gradebook.update_or_create_grade_cell(
                f"test_{function}",
                notebook,
                assignment.id,
                max_score=assignment.max_points(function),
                cell_type="code",
            )
        for entry in entries:
            gradebook.update_or_create_student(entry.student)
            if entry.status == "no_submission":
                continue  # nbgrader lists a student without a submission with a score of 0
            try:
                gradebook.find_submission(assignment.id, entry.student)
            except MissingEntry:
                with warnings.catch_warnings():  # nbgrader's own SQLAlchemy use warns while adding
                    warnings.simplefilter("ignore")
                    gradebook.add_submission(assignment.id, entry.student)
            points = entry.report.points_by_function()
            for function in assignment.functions:
                grade = gradebook.find_grade(f"test_{function}", notebook, assignment.id, entry.student)
                grade.auto_score = points.get(function, 0.0)
            gradebook.db.commit()
    return database


def nbgrader_disagreements(entries: list[Entry], assignment: Assignment, database: Path) -> list[str]:
    """Every function whose points in nbgrader's gradebook differ from the autograder's gradebook, one line each.

    The nbgrader route (``nbgrader autograde`` with the course's config) and ``grade-batch`` grade the same
    files the same way, so they should agree to the point; a difference means one of them graded another
    file, another seed or another version, and is reported, never silently kept. A student graded on one
    side only is a difference too.
    """
    from nbgrader.api import Gradebook, MissingEntry

    if not database.is_file():
        raise ExportError(f"{database}: no nbgrader gradebook there")
    notebook = Path(assignment.notebook).stem
    ours = {entry.student: entry for entry in entries if entry.status != "no_submission"}
    lines = []
    with Gradebook(f"sqlite:///{database}") as gradebook:
        try:
            theirs = {s.student.id for s in gradebook.find_assignment(assignment.id).submissions}
        except MissingEntry:
            theirs = set()
        for student in sorted(set(ours) | theirs):
            if student not in theirs:
                lines.append(f"{student}: graded by the autograder only")
                continue
            if student not in ours:
                lines.append(f"{student}: graded by nbgrader only")
                continue
            points = ours[student].report.points_by_function()
            for function in assignment.functions:
                try:
                    grade = gradebook.find_grade(f"test_{function}", notebook, assignment.id, student)
                    score = grade.auto_score
                except MissingEntry:
                    score = None
                mine = points.get(function, 0.0)
                if score is None or abs(float(score) - mine) > 1e-6:
                    shown = "no score" if score is None else f"{float(score):g}"
                    lines.append(f"{student}: {function}: nbgrader {shown}, autograder {mine:g}")
    return lines


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP's CSV injection rule).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs: a leading formula character is escaped with a quote,
    and text no UTF-8 file can hold (a lone surrogate from a student's message) is backslash-escaped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename it into place.

    The file gets the mode any new file gets under the user's umask (``mkstemp`` alone makes it 0600,
    which TAs and nbgrader's feedback release could not read); text that UTF-8 cannot hold is escaped.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~_current_umask())
        with os.fdopen(handle, "w", encoding="utf-8", errors="backslashreplace", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
