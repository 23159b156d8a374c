"""The ``autograder`` command: ``check`` for students, ``grade`` for instructors (docs/GRADING.md),
``grade-batch``, ``export`` and ``gradescope-bundle`` for a whole class (docs/grading-a-class.md), and
``student-bundle``, what a course hands its students (docs/GRADING.md).

Exit status 0 whenever a report was produced, whatever the score; 2 with one line on stderr when the
grader itself cannot run (no such path, unknown assignment, a broken reference). ``grade-batch`` exits
1 when it graded but could not store every result (a full disk): run it again to finish.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from autograder import __version__, service
from autograder.class_grading.batch import LocalPool, Outcome, Pool, grade_batch
from autograder.class_grading.cluster import ClusterError, ClusterPool
from autograder.class_grading.exports import FORMATS, ExportError, default_destination, export, nbgrader_disagreements
from autograder.class_grading.gradebook import DEFAULT_PATH as DEFAULT_GRADEBOOK
from autograder.class_grading.gradebook import Gradebook, GradebookError
from autograder.class_grading.gradescope_bundle import write_bundle
from autograder.class_grading.student_bundle import BundleError, write_student_bundle
from autograder.exercises import UnknownAssignment, load_assignment
from autograder.grade import SEED_VARIABLE, UsageError, grade_path, grading_seed
from autograder.grading.calls import GraderError
from autograder.grading.references import ReferenceUnusable, load_references
from autograder.grading.report import render_text, rendered
from autograder.grading.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED
from autograder.sandbox.locations import find_course_root


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
        command.add_argument("--assignment", help=f"{ASSIGNMENT_HELP} (inferred from a notebook)")
    grade.add_argument("--format", choices=("text", "gradescope"), default="text")
    grade.add_argument("--out", type=Path, help="write the report to this file instead of standard output")
    grade.add_argument("--seed", type=int, help=f"the grading seed (default ${SEED_VARIABLE}, else {GRADING_SEED})")
    warm = commands.add_parser("service", help="the warm grader that answers checks: status or stop")
    warm.add_argument("action", choices=("status", "stop"))
    _add_class_commands(commands)
    return parser


# Said without importing every catalogue to list them: building the parser must stay cheap.
ASSIGNMENT_HELP = "an assignment id, such as 02_activations (one per module of autograder/exercises)"


def _add_class_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``grade-batch``, ``export`` and ``gradescope-bundle``: grading a whole class."""
    batch = commands.add_parser("grade-batch", help="grade every submission in a folder into the gradebook")
    batch.add_argument("folder", type=Path, help="nbgrader's course folder (or its submitted/), or a flat folder")
    batch.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (cores)")
    batch.add_argument("--regrade", action="store_true", help="grade again what the gradebook already holds")
    batch.add_argument("--scheduler", help="grade on the dask.distributed cluster at this address (tcp://host:8786)")
    batch.add_argument("--timeout", type=float, help="seconds one submission may take (default: all its budgets)")
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    export = commands.add_parser("export", help="export the gradebook: csv, gradescope, nbgrader or feedback pages")
    export.add_argument("--to", choices=FORMATS, required=True, dest="format")
    export.add_argument("--out", type=Path, help="the file or folder to write (default depends on --to)")
    compare = commands.add_parser(
        "compare-nbgrader", help="list every function whose points differ between nbgrader's gradebook and ours"
    )
    compare.add_argument("nbgrader_gradebook", type=Path, help="nbgrader's gradebook.db")
    bundle = commands.add_parser("gradescope-bundle", help="write the zip Gradescope's autograder runs")
    bundle.add_argument("--out", type=Path, help="the zip to write (default: gradescope-ASSIGNMENT.zip)")
    students = commands.add_parser(
        "student-bundle", help="write what students get: the notebooks, course_lib and the public checks"
    )
    students.add_argument(
        "--out", type=Path, default=Path("student-bundle"), help="a new folder, or a .zip (default: student-bundle)"
    )
    for command in (batch, export, compare, bundle):
        command.add_argument("--assignment", required=True, help=ASSIGNMENT_HELP)
    for command in (batch, export, compare):
        command.add_argument("--gradebook", type=Path, default=DEFAULT_GRADEBOOK, help="the gradebook file")
    for command in (batch, bundle):
        command.add_argument(
            "--seed", type=int, help=f"the grading seed (default ${SEED_VARIABLE}, else {GRADING_SEED})"
        )


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    try:
        if options.command in CLASS_COMMANDS:
            return CLASS_COMMANDS[options.command](options)
        if options.command == "check":
            report = grade_path(options.path, options.assignment, CHECK, PUBLIC_SEED)
            sys.stdout.write(render_text(report))
            return 0
        if options.command == "service":
            return service_command(options)
        report = grade_path(options.path, options.assignment, GRADE, grading_seed(options.seed))
        text = rendered(report, options.format)
        if options.out:
            try:
                options.out.write_text(text, encoding="utf-8")
            except OSError as error:
                raise UsageError(f"cannot write the report to {options.out}: {error.strerror}") from None
        else:
            sys.stdout.write(text)
        return 0
    except (
        UsageError,
        UnknownAssignment,
        ReferenceUnusable,
        GraderError,
        GradebookError,
        ExportError,
        ClusterError,
        BundleError,
    ) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2


def grade_batch_command(options: argparse.Namespace) -> int:
    """Grade a folder of submissions into the gradebook; print what happened; 1 if results were lost."""
    assignment = load_assignment(options.assignment)
    if not options.folder.is_dir():
        raise UsageError(f"{options.folder}: no such folder")
    if load_references(assignment) is None:
        raise UsageError(
            f"grading {assignment.id} needs the instructor's solutions: set AUTOGRADER_COURSE_ROOT to the course folder"
        )
    seed = grading_seed(options.seed)
    with Gradebook(options.gradebook) as gradebook:
        pool: Pool = ClusterPool(options.scheduler) if options.scheduler else LocalPool(options.jobs)
        try:
            summary = grade_batch(
                options.folder,
                assignment,
                gradebook,
                pool,
                seed,
                regrade=options.regrade,
                timeout=options.timeout,
                progress=_no_bar if options.no_progress else _progress_bar(assignment.id),
            )
        finally:
            pool.close()
    for student, message in summary.problems:
        print(f"! {student}: {message}")
    kept = f"; {len(summary.kept)} unchanged since last graded, kept as they were" if summary.kept else ""
    print(f"{assignment.id}: graded {len(summary.graded)} submissions in {summary.seconds:.0f} s{kept}.")
    print(f"Gradebook: {options.gradebook}")
    if summary.interrupted:
        print("autograder: interrupted; run the same command again to grade the rest", file=sys.stderr)
        return 130  # as a shell reports Ctrl-C
    if summary.not_stored:
        print(
            f"autograder: {summary.not_stored}; the {len(summary.graded)} results above are stored and intact: "
            "free some space and run the same command again to grade the rest",
            file=sys.stderr,
        )
        return 1
    return 0


def _progress_bar(assignment_id: str) -> Callable[[Iterable[Outcome], int], Iterable[Outcome]]:
    def bar(outcomes: Iterable[Outcome], total: int) -> Iterable[Outcome]:
        from tqdm import tqdm

        with tqdm(total=total, desc=f"grading {assignment_id}", unit="submission", file=sys.stderr) as progress:
            for outcome in outcomes:
                progress.set_postfix_str(outcome.student)
                progress.update()
                yield outcome

    return bar


def _no_bar(outcomes: Iterable[Outcome], total: int) -> Iterable[Outcome]:
    return outcomes


def export_command(options: argparse.Namespace) -> int:
    assignment = load_assignment(options.assignment)
    with Gradebook(options.gradebook, read_only=True) as gradebook:
        entries = gradebook.entries(assignment.id)
    if not entries:
        raise UsageError(f"{options.gradebook} holds no results for {assignment.id}: grade the class first")
    destination = options.out or default_destination(options.format, assignment.id)
    written = export(options.format, entries, assignment, destination)
    where = destination if len(written) != 1 else written[0]
    print(f"{assignment.id}: exported {len(entries)} students to {where} ({options.format})")
    return 0


def compare_nbgrader_command(options: argparse.Namespace) -> int:
    """Print every disagreement between nbgrader's gradebook and ours; 1 if there is any."""
    assignment = load_assignment(options.assignment)
    with Gradebook(options.gradebook, read_only=True) as gradebook:
        entries = gradebook.entries(assignment.id)
    disagreements = nbgrader_disagreements(entries, assignment, options.nbgrader_gradebook)
    for line in disagreements:
        print(line)
    if disagreements:
        print(
            f"{assignment.id}: {len(disagreements)} disagreements between nbgrader and the autograder", file=sys.stderr
        )
        return 1
    print(f"{assignment.id}: nbgrader and the autograder agree on every function of {len(entries)} students")
    return 0


def gradescope_bundle_command(options: argparse.Namespace) -> int:
    assignment = load_assignment(options.assignment)
    root = find_course_root()
    if root is None:
        raise UsageError("the bundle needs the course's solutions/: set AUTOGRADER_COURSE_ROOT to the course folder")
    out = options.out or Path(f"gradescope-{assignment.id}.zip")
    try:
        write_bundle(assignment, root, grading_seed(options.seed), out)
    except OSError as error:
        raise UsageError(f"cannot write the bundle {out}: {error.strerror or error}") from None
    print(
        f"{out}: upload it as the autograder of {assignment.id} in Gradescope (it holds the solutions: keep it private)"
    )
    return 0


def student_bundle_command(options: argparse.Namespace) -> int:
    root = find_course_root()
    if root is None:
        raise UsageError("the bundle is built from the course folder: set AUTOGRADER_COURSE_ROOT to it")
    try:
        out = write_student_bundle(root, options.out)
    except OSError as error:
        raise UsageError(f"cannot write the bundle {options.out}: {error.strerror or error}") from None
    print(f"{out}: the notebooks, course_lib and the grader with its public checks; no solutions, no hidden checks")
    return 0


CLASS_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "grade-batch": grade_batch_command,
    "export": export_command,
    "compare-nbgrader": compare_nbgrader_command,
    "gradescope-bundle": gradescope_bundle_command,
    "student-bundle": student_bundle_command,
}


def service_command(options: argparse.Namespace) -> int:
    """``autograder service status|stop``."""
    if options.action == "stop":
        print("stopped the service" if service.stop() else "no service was running")
        return 0
    running = service.status()
    if running is None:
        print("no service is running: the next check starts one")
        return 0
    since = time.strftime("%H:%M:%S", time.localtime(float(running["started"])))
    current = (
        "the installed grader" if running["identity"] == service.identity() else "older code (it will be replaced)"
    )
    print(f"service pid {running['pid']}, running since {since}, {running['checks']} checks, serving {current}")
    return 0
