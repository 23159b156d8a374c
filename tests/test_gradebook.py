"""The gradebook: whole entries or nothing, keys that decide regrading, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from batch_helpers import ASSIGNMENT

from autograder.class_grading.gradebook import Entry, Gradebook, GradebookError, Key
from autograder.exercises import load_assignment
from autograder.grading.report import report_to_dict, zero_report

pytestmark = pytest.mark.batch

ACTIVATIONS = load_assignment(ASSIGNMENT)
KEY = Key("c0ffee", "0.1.0", 20261122, "e1e1")


def entry(student: str, status: str = "graded", key: Key = KEY) -> Entry:
    report = zero_report(ACTIVATIONS, f"{student}.ipynb", "grade", KEY.seed, True, "why")
    report.functions[0].properties[0].verdict = "passed"
    report.functions[0].properties[0].points = 2.0
    return Entry(ASSIGNMENT, student, f"submitted/{student}", key, status, "", report)


def test_an_entry_reads_back_as_it_was_written(tmp_path: Path) -> None:
    written = entry("alex")
    with Gradebook(tmp_path / "autograder.db") as gradebook:
        gradebook.record(written)
    with Gradebook(tmp_path / "autograder.db", read_only=True) as gradebook:
        (read,) = gradebook.entries(ASSIGNMENT)
        assert gradebook.assignments() == [ASSIGNMENT]
    assert report_to_dict(read.report) == report_to_dict(written.report)
    assert (read.student, read.key, read.status, read.score) == ("alex", KEY, "graded", 2.0)
    with sqlite3.connect(tmp_path / "autograder.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*) FROM results").fetchone() == (len(ACTIVATIONS.properties),)


def test_a_failed_write_leaves_nothing_of_that_entry_and_keeps_the_rest(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "autograder.db") as gradebook:
        gradebook.record(entry("alex"))
        broken = entry("sam")
        broken.report.functions[1].properties.append(broken.report.functions[1].properties[0])  # a duplicate row
        with pytest.raises(GradebookError, match="cannot write sam's result to the gradebook"):
            gradebook.record(broken)
        assert [e.student for e in gradebook.entries(ASSIGNMENT)] == ["alex"]
    with sqlite3.connect(tmp_path / "autograder.db") as db:
        assert db.execute("SELECT DISTINCT student FROM results").fetchall() == [("alex",)]


def test_a_new_entry_replaces_the_students_earlier_one(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "autograder.db") as gradebook:
        gradebook.record(entry("alex"))
        gradebook.record(entry("alex", key=Key("beef", "0.1.0", 1, "e1e1")))
        (stored,) = gradebook.entries(ASSIGNMENT)
        assert stored.key.seed == 1
        assert gradebook.stored_key(ASSIGNMENT, "alex") == Key("beef", "0.1.0", 1, "e1e1")


def test_a_crash_of_the_grader_is_tried_again_but_a_timeout_is_kept(tmp_path: Path) -> None:
    with Gradebook(tmp_path / "autograder.db") as gradebook:
        for student, status in (("ann", "crashed"), ("ben", "grader_error"), ("cat", "timeout"), ("dee", "graded")):
            gradebook.record(entry(student, status))
        assert gradebook.stored_key(ASSIGNMENT, "ann") is None
        assert gradebook.stored_key(ASSIGNMENT, "ben") is None
        assert gradebook.stored_key(ASSIGNMENT, "cat") == KEY
        assert gradebook.stored_key(ASSIGNMENT, "dee") == KEY
        assert gradebook.stored_key(ASSIGNMENT, "nobody") is None


def test_reading_a_gradebook_that_does_not_exist_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(GradebookError, match="no gradebook at .*: grade the class first with `autograder grade-batch`"):
        Gradebook(tmp_path / "missing.db", read_only=True)
    assert not (tmp_path / "missing.db").exists()
