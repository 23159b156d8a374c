"""The gradebook: every graded submission of a class in one SQLite file.

One row per student and assignment in ``submissions`` (the verdict, the score and the whole report as
JSON), and one row per property in ``results`` (for queries and exports). Each submission is written
in a single transaction, in WAL mode with full synchronisation, so a batch killed at any moment (even
``kill -9``) leaves every earlier submission intact and no submission half-written.

A stored grade is kept while its :class:`Key` is unchanged: the submission's content, the grader's
version, the seed and the environment it was graded in. Change any of them and it is graded again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from autograder.grading.report import Report, report_from_dict, report_to_dict

DEFAULT_PATH = Path("autograder.db")

# What a stored entry says about a submission. Only "crashed" and "grader_error" are tried again by
# the next run: they say nothing about the student's work.
STATUSES = {
    "graded": "graded",
    "unreadable": "could not be read",
    "no_submission": "no submission",
    "duplicate": "more than one submission",
    "wrong_assignment": "a file of another assignment",
    "timeout": "grading ran out of time",
    "crashed": "the grading process died",
    "grader_error": "the grader could not run",
}
RETRIED = ("crashed", "grader_error")

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    seed INTEGER NOT NULL,
    environment_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    report TEXT NOT NULL,
    graded_at TEXT NOT NULL,
    PRIMARY KEY (assignment, student)
);
CREATE TABLE IF NOT EXISTS results (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    function TEXT NOT NULL,
    property TEXT NOT NULL,
    verdict TEXT NOT NULL,
    points REAL NOT NULL,
    max_points REAL NOT NULL,
    PRIMARY KEY (assignment, student, function, property)
);
"""


class GradebookError(Exception):
    """The gradebook cannot be opened or written (a read-only folder, a full disk, a corrupt file)."""


@dataclass(frozen=True)
class Key:
    """What a grade depends on: the same key means the stored grade is still the grade."""

    content_hash: str
    grader_version: str
    seed: int
    environment_hash: str


@dataclass
class Entry:
    """One student's stored result for one assignment."""

    assignment: str
    student: str
    source: str  # where the submission was found, relative to the submissions folder
    key: Key
    status: str  # one of STATUSES
    message: str  # what went wrong with the submission as a whole, or ""
    report: Report
    graded_at: str = ""

    @property
    def score(self) -> float:
        return self.report.points


class Gradebook:
    """A gradebook file, opened for reading and writing; use it as a context manager."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.is_file():
            raise GradebookError(f"no gradebook at {self.path}: grade the class first with `autograder grade-batch`")
        try:
            if read_only:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
                self._db.execute("SELECT count(*) FROM submissions").fetchone()
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            # Find out now, not after an hour of grading, that nothing can be written here.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
        except (OSError, sqlite3.Error) as error:
            raise GradebookError(f"cannot open the gradebook {self.path}: {_reason(error, self.path)}") from None

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def stored_key(self, assignment: str, student: str) -> Key | None:
        """The key of the stored grade, or ``None`` where there is none to keep (or it is to be retried)."""
        row = self._db.execute(
            "SELECT content_hash, grader_version, seed, environment_hash, status FROM submissions "
            "WHERE assignment = ? AND student = ?",
            (assignment, student),
        ).fetchone()
        if row is None or row[4] in RETRIED:
            return None
        return Key(row[0], row[1], int(row[2]), row[3])

    def record(self, entry: Entry) -> None:
        """Store ``entry`` in one transaction: all of it, replacing the student's earlier grade, or nothing."""
        entry.graded_at = entry.graded_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        report = entry.report
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "DELETE FROM results WHERE assignment = ? AND student = ?", (entry.assignment, entry.student)
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.assignment,
                        entry.student,
                        entry.source,
                        entry.key.content_hash,
                        entry.key.grader_version,
                        entry.key.seed,
                        entry.key.environment_hash,
                        entry.status,
                        entry.message,
                        report.points,
                        report.max_points,
                        json.dumps(report_to_dict(report)),
                        entry.graded_at,
                    ),
                )
                self._db.executemany(
                    "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (entry.assignment, entry.student, p.function, p.property, p.verdict, p.points, p.max_points)
                        for function in report.functions
                        for p in function.properties
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise GradebookError(
                f"cannot write {entry.student}'s result to the gradebook {self.path}: {_reason(error, self.path)}"
            ) from None

    def entries(self, assignment: str) -> list[Entry]:
        """Every stored entry of ``assignment``, by student."""
        return list(self._entries(assignment))

    def _entries(self, assignment: str) -> Iterator[Entry]:
        rows = self._db.execute(
            "SELECT student, source, content_hash, grader_version, seed, environment_hash, status, message, "
            "report, graded_at FROM submissions WHERE assignment = ? ORDER BY student",
            (assignment,),
        )
        for student, source, content, version, seed, environment, status, message, report, graded_at in rows:
            yield Entry(
                assignment,
                student,
                source,
                Key(content, version, int(seed), environment),
                status,
                message,
                report_from_dict(json.loads(report)),
                graded_at,
            )

    def assignments(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT DISTINCT assignment FROM submissions ORDER BY 1")]


def _reason(error: BaseException, path: Path) -> str:
    """Why a file operation failed, in words an instructor can act on."""
    text = str(error)
    if "readonly" in text.replace(" ", "").lower() or "unable to open" in text:
        return f"{text} (is the folder {path.parent} writable?)"
    if "disk is full" in text or "I/O error" in text or isinstance(error, OSError) and error.errno == 27:
        return f"{text} (the disk is full or the file has reached the size limit)"
    return text
