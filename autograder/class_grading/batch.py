"""Grading a whole class: find every student's submission, grade them in parallel, keep them in the gradebook.

Two layouts are read:

- nbgrader's: ``submitted/{student}/{assignment}/*.ipynb``, given as the course folder (which holds
  ``submitted/``) or as the ``submitted`` folder itself;
- a flat folder of files named by student: ``alex.ipynb``, ``sam.py``, or ``kim/`` holding one of them.

Each submission is graded by :func:`grade_job` in a process of its own
(:mod:`autograder.class_grading.grading_process`), on this machine or on a dask.distributed cluster
(:mod:`autograder.class_grading.cluster`), and its result is stored as soon as it arrives, one transaction
each. A submission that cannot be graded as it is (an empty folder, two files for one student, a notebook
of another assignment) gets a zero report saying why; one that crashes or hangs the grading process gets
the verdict ``crashed`` or ``timeout``. None stops the batch.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from autograder import __version__
from autograder.class_grading.gradebook import STATUSES, Entry, Gradebook, GradebookError, Key
from autograder.exercises import known_assignments, load_assignment
from autograder.grading.catalogue import Assignment
from autograder.grading.report import UNREADABLE_NOTE, Report, environment, report_from_dict, zero_report
from autograder.grading.runner import GRADE, prepare_examples
from autograder.grading.submission import SubmissionError, read_bytes, read_text
from autograder.sandbox.launcher import Limits

SUFFIXES = (".ipynb", ".py")
# The grading processes this process is waiting for, so that a batch stopped early can stop them too.
_RUNNING: set[subprocess.Popen[str]] = set()
_RUNNING_LOCK = threading.Lock()
STDERR_TAIL = 600  # characters of a dead grading process's stderr kept in its message


@dataclass(frozen=True)
class Found:
    """One student's submission as found on disk: the file to grade, or why there is none to grade."""

    student: str
    source: str  # where it was found, relative to the submissions folder
    file: Path | None
    status: str = "graded"  # "graded" when there is a file to grade, else why not (see gradebook.STATUSES)
    message: str = ""


@dataclass(frozen=True)
class Job:
    """What a grading process needs: plain data, so that it can travel to another machine."""

    student: str
    assignment: str
    seed: int
    name: str  # the file's name (its suffix says how to read it)
    content: bytes
    timeout: float


@dataclass
class Outcome:
    """What came back from grading one job: a report, or why there is none."""

    student: str
    status: str
    message: str
    report: dict[str, Any] | None = None


class Pool(Protocol):
    """Where jobs run: this machine's cores (:class:`LocalPool`) or a cluster (``cluster.ClusterPool``)."""

    def environment_hash(self) -> str: ...

    def run(self, jobs: list[Job]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


class LocalPool:
    """Runs up to ``jobs`` grading processes at once on this machine."""

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)

    def environment_hash(self) -> str:
        return environment()["hash"]

    def run(self, jobs: list[Job]) -> Iterator[Outcome]:
        # Threads only wait: each one starts a grading process and reads its answer.
        with ThreadPoolExecutor(max_workers=self.jobs) as threads:
            futures = [threads.submit(grade_job, job) for job in jobs]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:  # stopped early (Ctrl-C, a full disk): start nothing more, stop what runs
                for future in futures:
                    future.cancel()
                with _RUNNING_LOCK:
                    for process in _RUNNING:
                        process.terminate()

    def close(self) -> None:
        pass


def default_timeout(assignment: Assignment) -> float:
    """The longest one submission may take: every function using all of its budgets, plus a minute."""
    limits = Limits()
    per_function = GRADE.function_seconds + limits.call_seconds + limits.start_seconds
    return len(assignment.functions) * per_function + 60.0


def grade_job(job: Job) -> Outcome:
    """Grade one job in a fresh grading process and wait for its report, at most ``job.timeout`` seconds."""
    payload = json.dumps(
        {
            "parent": os.getpid(),
            "assignment": job.assignment,
            "seed": job.seed,
            "name": job.name,
            "content": base64.b64encode(job.content).decode("ascii"),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "autograder.class_grading.grading_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with _RUNNING_LOCK:
        _RUNNING.add(process)
    try:
        out, err = process.communicate(payload, timeout=job.timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        return Outcome(job.student, "timeout", f"grading {job.name} took longer than {job.timeout:g} s and was stopped")
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
    if process.returncode == 0:
        try:
            return Outcome(job.student, "graded", "", json.loads(out))
        except json.JSONDecodeError:
            pass
    tail = err.strip()[-STDERR_TAIL:]
    if process.returncode == 2:
        return Outcome(job.student, "grader_error", tail or "the grader could not run")
    how = _exit_description(process.returncode)
    return Outcome(job.student, "crashed", f"the grading process {how}" + (f": {tail}" if tail else ""))


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM first, so the grading process can kill its sandbox workers; SIGKILL if it does not stop."""
    process.terminate()
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def _exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


# Finding submissions


def find_submissions(folder: Path, assignment: Assignment) -> list[Found]:
    """Every student's submission of ``assignment`` under ``folder``, sorted by student."""
    folder = Path(folder)
    submitted = _nbgrader_root(folder, assignment.id)
    # Sources read as nbgrader writes them (submitted/alex/...), whichever folder was given.
    found = _find_nbgrader(submitted, submitted.parent, assignment) if submitted else _find_flat(folder, assignment)
    return sorted(found, key=lambda f: f.student)


def _nbgrader_root(folder: Path, assignment_id: str) -> Path | None:
    if _is_folder(folder / "submitted"):
        return folder / "submitted"
    if folder.name == "submitted" or any(_is_folder(child / assignment_id) for child in _subfolders(folder)):
        return folder
    return None


def _find_nbgrader(submitted: Path, folder: Path, assignment: Assignment) -> Iterator[Found]:
    for student_folder in _subfolders(submitted, links_too=True):
        yield _found_in(student_folder, folder, assignment)


def _is_folder(path: Path) -> bool:
    """A real folder: a symbolic link to one is not entered (it could lead anywhere the grader can read)."""
    return not path.is_symlink() and path.is_dir()


def shown(name: str) -> str:
    """A file name as reports, the gradebook and exports can hold it: bytes that are not UTF-8 (what unzip
    makes of a Latin-1 name) are written as escapes such as ``\\xe9``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _linked(student: str, folder: Path, path: Path) -> Found:
    source = shown(str(path.relative_to(folder)))
    message = f"{source}: a symbolic link to a folder; the grader does not follow links out of a submission"
    return Found(student, source, None, "unreadable", message)


def find_nbgrader_submission(submitted: Path, student: str, assignment: Assignment) -> Found:
    """One student's submission in nbgrader's ``submitted/`` folder, found as :func:`find_submissions` finds it."""
    student_folder = Path(submitted) / student
    if not student_folder.is_dir():
        source = f"{Path(submitted).name}/{student}/{assignment.id}"
        return Found(student, source, None, "no_submission", f"no submission of {assignment.id}: no folder {source}")
    return _found_in(student_folder, Path(submitted).parent, assignment)


def _found_in(student_folder: Path, folder: Path, assignment: Assignment) -> Found:
    student = shown(student_folder.name)
    where = student_folder / assignment.id
    for path in (student_folder, where):
        if path.is_symlink():
            return _linked(student, folder, path)
    source = shown(str(where.relative_to(folder)))
    files = _candidates(where) if where.is_dir() else []
    if not files:
        what = "the folder is empty" if not any(student_folder.iterdir()) else f"{source} holds no notebook"
        return Found(student, source, None, "no_submission", f"no submission of {assignment.id}: {what}")
    named = [f for f in files if f.name == assignment.notebook]
    if len(files) > 1 and not named:
        return _duplicate(student, source, files)
    chosen = (named or files)[0]
    return _checked(student, shown(str(chosen.relative_to(folder))), chosen, assignment)


def _find_flat(folder: Path, assignment: Assignment) -> Iterator[Found]:
    by_student: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name.startswith("autograder.db"):
            continue
        if entry.is_dir() or entry.suffix in SUFFIXES:
            name = entry.name if entry.is_dir() else entry.stem
            by_student.setdefault(shown(name), []).append(entry)
    for student, entries in by_student.items():
        if len(entries) > 1:
            yield _duplicate(student, student, entries)
            continue
        entry = entries[0]
        if entry.is_dir() and entry.is_symlink():
            yield _linked(student, folder, entry)
            continue
        files = _candidates(entry) if entry.is_dir() else [entry]
        if not files:
            yield Found(
                student, shown(entry.name), None, "no_submission", f"no submission: {shown(entry.name)}/ is empty"
            )
        elif len(files) > 1:
            yield _duplicate(student, shown(entry.name), files)
        else:
            yield _checked(student, shown(str(files[0].relative_to(folder))), files[0], assignment)


def _subfolders(folder: Path, links_too: bool = False) -> list[Path]:
    """The folders in ``folder`` (and, with ``links_too``, links to folders, to be reported, not entered)."""
    return sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and (links_too or not p.is_symlink())
    )


def _candidates(folder: Path) -> list[Path]:
    """The gradable files in a folder: its notebooks, else its ``.py`` modules."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    return notebooks or files


def _duplicate(student: str, source: str, paths: list[Path]) -> Found:
    names = ", ".join(shown(p.name) + ("/" if p.is_dir() else "") for p in paths)
    return Found(
        student,
        source,
        None,
        "duplicate",
        f"{len(paths)} submissions for {student} ({names}): not graded; keep one of them and run the batch again",
    )


def _checked(student: str, source: str, path: Path, assignment: Assignment) -> Found:
    """A file to grade, unless its notebook says it belongs to another assignment."""
    other = _assignment_of(path)
    if other is not None and other != assignment.id:
        message = f"{source} is a notebook of {other}, not {assignment.id}: not graded"
        return Found(student, source, None, "wrong_assignment", message)
    return Found(student, source, path)


def _assignment_of(path: Path) -> str | None:
    """The assignment a notebook names in its metadata, else the one whose notebook has its file name."""
    if path.suffix != ".ipynb":
        return None
    try:
        metadata = json.loads(read_text(path)).get("metadata", {})
        named = metadata.get("autograder", {}).get("assignment")
    except (SubmissionError, ValueError, AttributeError, RecursionError):
        return None  # an unreadable notebook is the grader's to report
    if isinstance(named, str):
        return named
    for assignment_id in known_assignments():
        if load_assignment(assignment_id).notebook == path.name:
            return assignment_id
    return None


# Grading


@dataclass
class Summary:
    """What one batch did, for the command's closing lines."""

    assignment: str
    graded: list[str] = field(default_factory=list)  # stored by this run, with a grade or a zero and why
    kept: list[str] = field(default_factory=list)  # unchanged since they were graded: not graded again
    problems: list[tuple[str, str]] = field(default_factory=list)  # (student, message)
    not_stored: str = ""  # why the batch stopped storing results, if it did
    interrupted: bool = False  # stopped with Ctrl-C: what was stored is kept, the rest waits for the next run
    seconds: float = 0.0


def grade_batch(
    folder: Path,
    assignment: Assignment,
    gradebook: Gradebook,
    pool: Pool,
    seed: int,
    regrade: bool = False,
    timeout: float | None = None,
    progress: Callable[[Iterable[Outcome], int], Iterable[Outcome]] = lambda outcomes, total: outcomes,
) -> Summary:
    """Grade every submission under ``folder`` that the gradebook does not already hold, and store each.

    A stored grade is kept while its key (content, grader version, seed, environment) is unchanged,
    unless ``regrade``. Stops storing at the first write the gradebook refuses (a full disk), and says so
    in :attr:`Summary.not_stored`; everything stored before is intact.
    """
    started = time.monotonic()
    summary = Summary(assignment.id)
    environment_hash = pool.environment_hash()
    jobs: dict[str, tuple[Found, Key, bytes]] = {}  # every submission this run stores, graded or not
    try:
        for found in find_submissions(folder, assignment):
            found, content = _read(found)
            key = Key(hashlib.sha256(content).hexdigest(), __version__, seed, environment_hash)
            if not regrade and gradebook.stored_key(assignment.id, found.student) == key:
                summary.kept.append(found.student)
            else:
                jobs[found.student] = (found, key, content)
        limit = timeout or default_timeout(assignment)
        # Nothing to grade (an empty folder, two notebooks, an unreadable file): a zero, and why, stored first.
        nothing_to_grade = [Outcome(f.student, f.status, f.message) for f, _, _ in jobs.values() if f.file is None]
        to_run = [_job(f, assignment, seed, content, limit) for f, _, content in jobs.values() if f.file is not None]

        def outcomes() -> Iterator[Outcome]:
            yield from nothing_to_grade
            if to_run:  # drawn once here, the examples are replayed by every grading process on this machine
                prepare_examples(assignment, seed, GRADE)
            yield from pool.run(to_run)

        # The progress counts what the summary counts: every submission stored, a zero with its reason too.
        for outcome in progress(outcomes(), len(jobs)):
            found, key, _ = jobs[outcome.student]
            _store(gradebook, summary, _entry(assignment, found, key, outcome, seed))
    except GradebookError as error:
        summary.not_stored = str(error)
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.seconds = time.monotonic() - started
    return summary


def grade_one(found: Found, assignment: Assignment, seed: int, timeout: float | None = None) -> Entry:
    """One submission graded exactly as :func:`grade_batch` grades it: read the same way, in a grading
    process of its own, with the same budgets and statuses. For a route that grades one student at a time
    (nbgrader's autograde step, :mod:`autograder.class_grading.nbgrader_route`); nothing is stored."""
    found, content = _read(found)
    key = Key(hashlib.sha256(content).hexdigest(), __version__, seed, environment()["hash"])
    if found.file is None:
        return _not_graded_entry(assignment, found, key, seed)
    prepare_examples(assignment, seed, GRADE)
    outcome = grade_job(_job(found, assignment, seed, content, timeout or default_timeout(assignment)))
    return _entry(assignment, found, key, outcome, seed)


def _read(found: Found) -> tuple[Found, bytes]:
    """The submission's bytes, read as data (never through a symbolic link, a regular file only); a file
    that cannot be read so becomes an ``unreadable`` submission with nothing to grade."""
    if found.file is None:
        return found, f"{found.status}: {found.message}".encode()
    try:
        return found, read_bytes(found.file)
    except SubmissionError as error:
        message = shown(str(error).replace(str(found.file), found.source, 1))
        unreadable = Found(found.student, found.source, None, "unreadable", message)
        return unreadable, f"unreadable: {message}".encode()


def _job(found: Found, assignment: Assignment, seed: int, content: bytes, timeout: float) -> Job:
    return Job(found.student, assignment.id, seed, found.source.rsplit("/", 1)[-1], content, timeout)


def _not_graded_entry(assignment: Assignment, found: Found, key: Key, seed: int) -> Entry:
    """The entry of a submission with nothing to grade: a zero, and why."""
    report = _not_graded(assignment, found.source, seed, found.status, found.message)
    return Entry(assignment.id, found.student, found.source, key, found.status, found.message, report)


def _store(gradebook: Gradebook, summary: Summary, entry: Entry) -> None:
    gradebook.record(entry)
    summary.graded.append(entry.student)
    if entry.message:
        summary.problems.append((entry.student, entry.message))


def _not_graded(assignment: Assignment, source: str, seed: int, status: str, message: str) -> Report:
    note = f"not graded: {STATUSES[status]}"
    return zero_report(assignment, source, GRADE.name, seed, GRADE.include_hidden, message, function_note=note)


def _entry(assignment: Assignment, found: Found, key: Key, outcome: Outcome, seed: int) -> Entry:
    if outcome.report is None:
        report = _not_graded(assignment, found.source, seed, outcome.status, outcome.message)
        return Entry(assignment.id, found.student, found.source, key, outcome.status, outcome.message, report)
    report = report_from_dict(outcome.report)
    # The report says where it was graded; a cluster's workers may differ from this machine.
    key = Key(key.content_hash, report.grader_version, report.seed, report.environment.get("hash", ""))
    status, message = outcome.status, ""
    if report.functions and all(f.note == UNREADABLE_NOTE for f in report.functions):
        name = found.source.rsplit("/", 1)[-1]
        status, message = "unreadable", "; ".join(note.replace(name, found.source, 1) for note in report.notes)
    return Entry(assignment.id, found.student, found.source, key, status, message, report)
