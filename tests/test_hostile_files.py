"""Submissions and worker answers read as data: links, special files, huge or deep files, bad text.

Each attack is a file or a message a student controls; each must get its own clear verdict (or be
escaped) and never reach what lies behind it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.class_grading.exports import csv_safe, write_csv
from autograder.grading.submission import MAX_SUBMISSION_BYTES, SubmissionError, load_submission
from autograder.sandbox.protocol import recv_message, send_message

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "02_activations" / "activations.ipynb"


def test_a_submission_that_links_to_the_solutions_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "activations.ipynb"
    link.symlink_to(SOLUTION)
    with pytest.raises(SubmissionError, match="symbolic link"):
        load_submission(link)


def test_a_folder_whose_notebook_links_elsewhere_is_refused(tmp_path: Path) -> None:
    (tmp_path / "activations.ipynb").symlink_to(SOLUTION)
    with pytest.raises(SubmissionError, match="symbolic link"):
        load_submission(tmp_path)


def test_a_special_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "activations.ipynb"
    os.mkfifo(fifo)  # opening it for reading would block forever without O_NONBLOCK
    with pytest.raises(SubmissionError, match="not a regular file"):
        load_submission(fifo)


def test_a_dangling_link_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "activations.py"
    link.symlink_to(tmp_path / "gone.py")
    with pytest.raises(SubmissionError, match="symbolic link"):
        load_submission(link)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "activations.py"
    with big.open("wb") as handle:
        handle.truncate(MAX_SUBMISSION_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(SubmissionError, match="over the limit"):
        load_submission(big)


def test_a_notebook_nested_far_too_deep_gets_a_clear_message(tmp_path: Path) -> None:
    deep = tmp_path / "activations.ipynb"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SubmissionError, match="nested too deeply"):
        load_submission(deep)


def test_grade_of_a_link_to_the_solutions_scores_nothing(tmp_path: Path) -> None:
    link = tmp_path / "activations.ipynb"
    link.symlink_to(SOLUTION)
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(link), "--assignment", "02_activations"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "symbolic link" in done.stdout
    assert "0/" in done.stdout and "100/100" not in done.stdout


def test_a_lone_surrogate_from_a_worker_is_escaped() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        send_message(theirs, {"message": "ValueError: bad \ud800 text", "names": ["\udfff"]}, [])
        header, _ = recv_message(ours, deadline=None)
    assert header == {"message": "ValueError: bad \\ud800 text", "names": ["\\udfff"]}
    json.dumps(header, ensure_ascii=False).encode("utf-8")  # printable and storable as UTF-8


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"])
def test_csv_cells_a_spreadsheet_would_run_are_escaped(text: str) -> None:
    assert csv_safe(text) == "'" + text
    assert csv_safe("alex") == "alex"
    assert csv_safe("bad \ud800") == "bad \\ud800"


def test_csv_export_escapes_student_ids_and_messages_and_honours_the_umask(tmp_path: Path) -> None:
    from autograder.class_grading.gradebook import Entry, Key
    from autograder.exercises import load_assignment
    from autograder.grading.report import zero_report

    assignment = load_assignment("02_activations")
    report = zero_report(assignment, "x.ipynb", "grade", 1, True, "=cmd|' /C calc'!A0 \ud800")
    entry = Entry(
        student='=HYPERLINK("http://evil","click")',
        assignment=assignment.id,
        source="x.ipynb",
        key=Key("0", "0", 1, "0"),
        status="unreadable",
        message="=cmd|' /C calc'!A0 \ud800",
        report=report,
        graded_at="2026-12-01T00:00:00",
    )
    previous = os.umask(0o022)
    try:
        path = write_csv([entry], assignment, tmp_path / "grades.csv")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0]["student_id"].startswith("'=")
    assert rows[0]["message"].startswith("'=") and "\\ud800" in rows[0]["message"]


def test_grade_batch_reads_no_link_either(tmp_path: Path) -> None:
    """A batch (and nbgrader's route, which grades each submission as a batch does) refuses a link to the
    solutions as ``grade`` does: ``unreadable``, nothing graded, where it once graded the solutions."""
    from autograder.class_grading.batch import LocalPool, grade_batch
    from autograder.class_grading.gradebook import Gradebook
    from autograder.exercises import load_assignment

    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "mallory.ipynb").symlink_to(SOLUTION)
    assignment = load_assignment("02_activations")
    with Gradebook(tmp_path / "autograder.db") as gradebook:
        summary = grade_batch(folder, assignment, gradebook, LocalPool(1), seed=1)
        (entry,) = gradebook.entries(assignment.id)
    assert summary.graded == ["mallory"]
    assert entry.status == "unreadable" and entry.report.points == 0
    assert entry.message == "mallory.ipynb: a symbolic link; the grader reads only regular files"


def test_grade_batch_enters_no_linked_folder_and_keeps_names_that_are_not_utf8(tmp_path: Path) -> None:
    """Uploads that are unzipped keep links and Latin-1 names: a folder that links to the solutions (or to
    a classmate's folder) is ``unreadable``, never entered; a name unzip left as Latin-1 bytes is graded
    under an escaped name that the gradebook and every export can hold; a rerun finishes the same way."""
    from autograder.class_grading.batch import LocalPool, grade_batch
    from autograder.class_grading.gradebook import Gradebook
    from autograder.exercises import load_assignment

    assignment = load_assignment("02_activations")
    stub = ROOT / "assignments" / "02_activations" / "activations.ipynb"
    flat = tmp_path / "flat"
    (flat / "alex").mkdir(parents=True)
    (flat / "alex" / "activations.ipynb").write_bytes(stub.read_bytes())
    (flat / "mallory").symlink_to(SOLUTION.parent, target_is_directory=True)
    (flat / "eve").symlink_to(flat / "alex", target_is_directory=True)
    (Path(os.fsdecode(bytes(flat) + b"/ren\xe9e.ipynb"))).write_bytes(stub.read_bytes())
    nbgrader = tmp_path / "course" / "submitted"
    (nbgrader / "sam" / assignment.id).mkdir(parents=True)
    (nbgrader / "sam" / assignment.id / "activations.ipynb").write_bytes(stub.read_bytes())
    (nbgrader / "kim").symlink_to(SOLUTION.parent.parent, target_is_directory=True)
    linked_assignment = nbgrader / "lee"
    linked_assignment.mkdir()
    (linked_assignment / assignment.id).symlink_to(SOLUTION.parent, target_is_directory=True)

    for folder, database in ((flat, tmp_path / "flat.db"), (nbgrader.parent, tmp_path / "course.db")):
        for _ in range(2):  # a rerun finishes too
            with Gradebook(database) as gradebook:
                grade_batch(folder, assignment, gradebook, LocalPool(1), seed=1)
                entries = {entry.student: entry for entry in gradebook.entries(assignment.id)}
            write_csv(list(entries.values()), assignment, database.with_suffix(".csv"))
        for student, entry in entries.items():
            linked = student in ("mallory", "eve", "kim", "lee")
            assert entry.status == ("unreadable" if linked else "graded"), (student, entry.message)
            assert entry.report.points == 0
            if linked:
                assert "a symbolic link to a folder" in entry.message
    assert set(entries) == {"sam", "kim", "lee"}
    with Gradebook(tmp_path / "flat.db") as gradebook:
        students = {entry.student for entry in gradebook.entries(assignment.id)}
    assert students == {"alex", "mallory", "eve", "ren\\xe9e"}
    assert "ren\\xe9e" in (tmp_path / "flat.csv").read_text(encoding="utf-8")
