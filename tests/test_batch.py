"""``autograder grade-batch``: a whole class graded in parallel, every fault its own verdict, resumable."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import (
    ASSIGNMENT,
    EXPECTED_POINTS,
    FUNCTIONS,
    PLANTED,
    GradedClass,
    autograder,
    graded_class,
    notebook_with,
)

from autograder.class_grading.batch import find_submissions
from autograder.class_grading.gradebook import Entry, Gradebook
from autograder.exercises import load_assignment

pytestmark = pytest.mark.batch

ACTIVATIONS = load_assignment(ASSIGNMENT)
CORRECT = Path(__file__).resolve().parent / "submissions" / ASSIGNMENT / "correct.py"


@pytest.fixture(scope="module")
def graded() -> GradedClass:
    return graded_class()


def entries_of(gradebook: Path) -> dict[str, Entry]:
    with Gradebook(gradebook, read_only=True) as book:
        return {entry.student: entry for entry in book.entries(ASSIGNMENT)}


def test_the_class_is_graded_in_one_command_with_a_progress_bar(graded: GradedClass) -> None:
    assert graded.run.returncode == 0, graded.run.stderr
    # The bar counts what the closing line counts: bob's empty folder and carol's broken notebook too.
    assert "grading 02_activations" in graded.run.stderr and "7/7" in graded.run.stderr
    assert f"{ASSIGNMENT}: graded 7 submissions in" in graded.run.stdout
    assert set(entries_of(graded.gradebook)) == {"alex", "bob", "carol", "dan", "eve", "kim", "sam"}


def test_planted_bugs_cost_their_exact_points_and_real_work_is_graded(graded: GradedClass) -> None:
    entries = entries_of(graded.gradebook)
    for student in PLANTED:
        assert entries[student].status == "graded"
        assert entries[student].report.points_by_function() == EXPECTED_POINTS[student], student
    alex = entries["alex"].report.points_by_function()  # two mistakes and one unfinished function
    assert alex == {**dict.fromkeys(FUNCTIONS, 10.0), "sigmoid": 9.0, "relu_grad": 2.0, "log_softmax": 0.0}


def test_every_fault_gets_its_own_verdict_and_a_clear_message(graded: GradedClass) -> None:
    entries = entries_of(graded.gradebook)
    expected = {
        "bob": ("no_submission", "no submission of 02_activations: the folder is empty"),
        "carol": (
            "unreadable",
            "submitted/carol/02_activations/activations.ipynb: not a valid notebook (JSON error at line 1, column",
        ),
        "dan": ("wrong_assignment", "submitted/dan/02_activations/neurons.ipynb is a notebook of 01_neurons, not"),
    }
    for student, (status, message) in expected.items():
        entry = entries[student]
        assert (entry.status, entry.report.points) == (status, 0), student
        assert entry.message.startswith(message), entry.message
        assert f"! {student}: {message}" in graded.run.stdout
        assert "/tmp/" not in entry.message  # the grader's temporary folders mean nothing to a reader
    # Eve's constant kills the process that loads it: that cell is left out, her functions are graded.
    eve = entries["eve"]
    assert (eve.status, eve.report.points) == ("graded", 100)
    assert any(
        "this code ended the worker process (exit status 3) when it ran at import, so it was left out" in note
        for note in eve.report.notes
    ), eve.report.notes


def test_a_second_run_grades_nothing_again(graded: GradedClass, tmp_path: Path) -> None:
    gradebook = tmp_path / "autograder.db"
    shutil.copy(graded.gradebook, gradebook)
    before = {student: entry.graded_at for student, entry in entries_of(gradebook).items()}
    again = autograder("grade-batch", str(graded.course), "--assignment", ASSIGNMENT, "--gradebook", str(gradebook))
    assert again.returncode == 0, again.stderr
    assert "graded 0 submissions" in again.stdout and "7 unchanged since last graded" in again.stdout
    assert {student: entry.graded_at for student, entry in entries_of(gradebook).items()} == before


def cheap_class(folder: Path) -> Path:
    """A flat folder that costs no real grading: an empty folder, a duplicate, and two broken files."""
    folder.mkdir()
    (folder / "ann").mkdir()
    (folder / "ben.ipynb").write_text("{}")
    (folder / "ben.py").write_text("x = 1\n")
    (folder / "cat.ipynb").write_text("not json")
    (folder / "dee.py").write_text("def sigmoid(z)\n    return z\n")  # a syntax error: nothing to run
    (folder / "notes.txt").write_text("not a submission")
    return folder


def batch(folder: Path, gradebook: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return autograder("grade-batch", str(folder), "--assignment", ASSIGNMENT, "--gradebook", str(gradebook), *extra)


def test_a_flat_folder_is_read_by_student_name(tmp_path: Path) -> None:
    folder = cheap_class(tmp_path / "class")
    found = {f.student: f for f in find_submissions(folder, ACTIVATIONS)}
    assert set(found) == {"ann", "ben", "cat", "dee"}
    assert found["ann"].status == "no_submission" and "ann/ is empty" in found["ann"].message
    assert found["ben"].status == "duplicate"
    assert "2 submissions for ben (ben.ipynb, ben.py)" in found["ben"].message
    assert found["cat"].file == folder / "cat.ipynb" and found["dee"].file == folder / "dee.py"


def test_nbgrader_layout_is_found_from_the_course_or_the_submitted_folder(tmp_path: Path) -> None:
    submitted = tmp_path / "course" / "submitted"
    (submitted / "alex" / ASSIGNMENT).mkdir(parents=True)
    (submitted / "alex" / ASSIGNMENT / "activations.ipynb").write_text(json.dumps(notebook_with(())))
    (submitted / "alex" / ASSIGNMENT / "scratch.ipynb").write_text("{}")  # the assignment's notebook wins
    (submitted / "sam" / "01_neurons").mkdir(parents=True)  # only another assignment so far
    for folder in (tmp_path / "course", submitted):
        found = {f.student: f for f in find_submissions(folder, ACTIVATIONS)}
        assert found["alex"].file == submitted / "alex" / ASSIGNMENT / "activations.ipynb"
        assert found["sam"].status == "no_submission"
        assert "submitted/sam/02_activations holds no notebook" in found["sam"].message


def test_content_seed_and_regrade_decide_what_is_graded_again(tmp_path: Path) -> None:
    folder = cheap_class(tmp_path / "class")
    gradebook = tmp_path / "autograder.db"
    first = batch(folder, gradebook)
    assert first.returncode == 0, first.stderr
    assert "graded 4 submissions" in first.stdout
    assert "! ben: 2 submissions for ben" in first.stdout
    assert "! cat: cat.ipynb: not a valid notebook" in first.stdout
    dee = entries_of(gradebook)["dee"].report
    assert dee.function("sigmoid").verdict == "error" and "SyntaxError" in dee.function("sigmoid").note

    (folder / "cat.ipynb").write_text("still not json")
    assert "graded 1 submissions in" in batch(folder, gradebook).stdout  # only the changed file
    assert "graded 4 submissions" in batch(folder, gradebook, "--seed", "5").stdout  # another seed: all
    assert "graded 0 submissions" in batch(folder, gradebook, "--seed", "5").stdout
    assert "graded 4 submissions" in batch(folder, gradebook, "--seed", "5", "--regrade").stdout
    assert {e.key.seed for e in entries_of(gradebook).values()} == {5}


def test_the_progress_bar_counts_every_submission_the_summary_counts(tmp_path: Path) -> None:
    done = batch(cheap_class(tmp_path / "class"), tmp_path / "autograder.db")
    assert done.returncode == 0, done.stderr
    assert "graded 4 submissions" in done.stdout
    # ann (an empty folder) and ben (two files) have nothing to grade, yet are stored with a zero and why.
    assert "4/4" in done.stderr and "2/2" not in done.stderr, done.stderr


def test_a_submission_that_hangs_is_stopped_and_the_batch_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    hanging = "".join(f"def {name}(z, *args):\n    while True:\n        pass\n\n\n" for name in FUNCTIONS)
    (folder / "hal.py").write_text(hanging)
    (folder / "ivy.py").write_text("import numpy as np\n")  # defines nothing: every function missing
    done = batch(folder, tmp_path / "autograder.db", "--timeout", "25")
    assert done.returncode == 0, done.stderr
    entries = entries_of(tmp_path / "autograder.db")
    assert entries["hal"].status == "timeout"
    assert "grading hal.py took longer than 25 s and was stopped" in entries["hal"].message
    assert entries["hal"].report.functions[0].note == "not graded: grading ran out of time"
    assert {f.verdict for f in entries["ivy"].report.functions} == {"missing"}


def children_of(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def stored_students(gradebook: Path) -> set[str]:
    if not gradebook.exists():
        return set()
    try:
        with sqlite3.connect(f"{gradebook.resolve().as_uri()}?mode=ro", uri=True) as db:
            return {row[0] for row in db.execute("SELECT student FROM submissions")}
    except sqlite3.Error:  # not created yet
        return set()


def test_kill_9_then_resume_loses_nothing_and_grades_nothing_twice(graded: GradedClass, tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "a_ivy.py").write_text("import numpy as np\n")  # quick: every function missing
    shutil.copy(graded.course / "submitted" / "sam" / ASSIGNMENT / "activations.ipynb", folder / "b_sam.ipynb")
    (folder / "c_jo.py").write_text("import numpy as np\n")
    gradebook = tmp_path / "autograder.db"
    command = [sys.executable, "-m", "autograder", "grade-batch", str(folder), "--assignment", ASSIGNMENT]
    command += ["--gradebook", str(gradebook), "--jobs", "1"]
    batch_process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while "a_ivy" not in stored_students(gradebook):
        assert time.monotonic() < deadline and batch_process.poll() is None, "the batch stored nothing"
        time.sleep(0.2)
    time.sleep(2.0)  # b_sam is being graded now
    grading = children_of(batch_process.pid)
    assert grading, "no grading process was running"
    batch_process.send_signal(signal.SIGKILL)
    batch_process.wait()
    for pid in grading:  # the grading processes end with the batch
        while Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text():
            assert time.monotonic() < deadline, f"grading process {pid} outlived the batch"
            time.sleep(0.2)

    with sqlite3.connect(gradebook) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    interrupted = entries_of(gradebook)
    assert set(interrupted) == {"a_ivy"}
    resumed = batch(folder, gradebook, "--jobs", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert "graded 2 submissions" in resumed.stdout and "1 unchanged since last graded" in resumed.stdout
    after = entries_of(gradebook)
    assert after["a_ivy"].graded_at == interrupted["a_ivy"].graded_at  # not graded twice
    uninterrupted = entries_of(graded.gradebook)["sam"]  # the same notebook, graded without interruption
    assert drawn_results(after["b_sam"]) == drawn_results(uninterrupted)
    assert after["b_sam"].report.points_by_function() == EXPECTED_POINTS["sam"]


def drawn_results(entry: Entry) -> dict[str, tuple[str, float, str]]:
    """Every drawn property's verdict, points and feedback (timing lines carry measured times)."""
    return {
        f"{p.function}.{p.property}": (p.verdict, p.points, p.feedback)
        for f in entry.report.functions
        for p in f.properties
        if p.property != "as_fast_as_reference"
    }


def test_read_only_gradebook_folder_is_refused_before_grading_anything(tmp_path: Path) -> None:
    folder = cheap_class(tmp_path / "class")
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        done = batch(folder, locked / "autograder.db")
    assert done.returncode == 2
    assert f"cannot open the gradebook {locked / 'autograder.db'}" in done.stderr
    assert f"is the folder {locked} writable?" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


class read_only:
    """A folder nobody can write, root included (``chattr +i``); skips where that cannot be done."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> None:
        self.folder.chmod(0o555)
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(self.folder)], capture_output=True, check=False)
        probe = self.folder / ".probe"
        try:
            probe.write_text("")
        except OSError:
            return
        probe.unlink()
        self.__exit__()
        pytest.skip("cannot make a folder read-only here")

    def __exit__(self, *exc_info: object) -> None:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(self.folder)], capture_output=True, check=False)
        self.folder.chmod(0o755)


def test_a_full_disk_stops_storing_says_so_and_keeps_what_was_stored(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    for number in range(40):  # empty student folders: stored as zeros without grading anything
        (folder / f"s{number:02d}").mkdir()
    gradebook = tmp_path / "autograder.db"

    def tiny_files() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (96 * 1024, resource.RLIM_INFINITY))

    command = [sys.executable, "-m", "autograder", "grade-batch", str(folder), "--assignment", ASSIGNMENT]
    full = subprocess.run(
        [*command, "--gradebook", str(gradebook)], capture_output=True, text=True, preexec_fn=tiny_files, timeout=300
    )
    assert full.returncode == 1, full.stderr
    assert "cannot write" in full.stderr and "the disk is full or the file has reached the size limit" in full.stderr
    assert "run the same command again to grade the rest" in full.stderr
    with sqlite3.connect(gradebook) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = dict(db.execute("SELECT student, count(*) FROM results GROUP BY student").fetchall())
    assert 0 < len(rows) < 40
    assert set(rows.values()) == {len(ACTIVATIONS.properties)}  # every stored student whole, none half-written
    finish = batch(folder, gradebook)
    assert finish.returncode == 0, finish.stderr
    assert f"graded {40 - len(rows)} submissions" in finish.stdout
    assert f"{len(rows)} unchanged since last graded" in finish.stdout


def test_an_unreadable_notebook_gets_its_zero_report_without_any_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import autograder.grading.runner
    from autograder.grade import grade_path as run
    from autograder.grading.runner import CHECK, GRADE

    def no_worker(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worker was started for a submission with no code")

    monkeypatch.setattr(autograder.grading.runner, "zygote_for", no_worker)
    path = tmp_path / "activations.ipynb"
    path.write_text("not json")
    graded = run(path, ASSIGNMENT, GRADE, 1)
    assert graded.points == 0 and graded.max_points == 100
    assert graded.notes[0].startswith(f"{path}: not a valid notebook (JSON error at line 1, column 1")
    assert {p.verdict for f in graded.functions for p in f.properties} == {"error"}
    assert {f.note for f in graded.functions} == {"not graded: the submission could not be read"}
    checked = run(path, ASSIGNMENT, CHECK, 1)  # check runs the public properties only
    hidden = {p.verdict for f in checked.functions for p in f.properties if not p.public}
    assert hidden == {"skipped"}
