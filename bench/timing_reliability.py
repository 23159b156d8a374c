"""Figure 3, timing-check reliability: does the speed property ever fail an honest solution on a busy
machine, and does it catch every slow one?

Every function with a timing property (``as_fast_as_reference``) is graded on its timing property alone,
through the real grader (its own worker, the reference in another, rounds in a seed-drawn order), while
other processes keep every core busy (``--busy``):

* honest: the correct submission the tests grade (the reference's code, with the functions of
  ``tests/submissions/<assignment>/correct.py`` a student wrote differently), and the same doing its
  work twice (2x the reference's work, within every limit): each grading that neither passes nor keeps
  its points as undecided is a false alarm (target: none, ``--honest-runs`` gradings in a row of each);
* slow: the Python-loop mistakes kept beside it in ``bugs.py``: each grading that does not fail is a miss
  (target: none). A grading that could not decide keeps its points, so for a slow one it is a miss too.

    python bench/timing_reliability.py             # 20 gradings in a row of each, all cores busy
    python bench/timing_reliability.py --quick     # one of each, no background load (CI)

Each implementation's row goes to stderr as soon as it is measured (a full run takes about a quarter of an
hour on two cores).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from benchlib import ROOT, correct_source, machine_summary, planted_bugs, print_table

from autograder.exercises import known_assignments, load_assignment
from autograder.grade import grade_submission
from autograder.grading.catalogue import Assignment
from autograder.grading.references import References, load_references
from autograder.grading.report import Verdict
from autograder.grading.runner import GRADE, GRADING_SEED
from autograder.grading.submission import load_submission

HONEST_WORK = 2  # the honest solution that does twice the work
RATIO = re.compile(r"\(ratio ([0-9.]+),")  # in the timing property's one-line summary


def busy_core() -> None:
    """Keep one core busy until killed: the noisy neighbour of a shared grading machine."""
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2147483648


def timed_only(assignment: Assignment) -> Assignment:
    """The assignment with only its timing properties, so each grading measures speed and nothing else."""
    return replace(assignment, properties=tuple(p for p in assignment.properties if p.timing is not None))


def slowed(correct: str, function: str, times: int) -> str:
    """The correct submission with ``function`` computed ``times`` times: exactly that much slower."""
    fast = f"FAST_{function.upper()}"  # an UPPER_CASE constant: the grader keeps it from a submission
    return (
        correct
        + f"\n\n{fast} = {function}\n\n"
        + f"def {function}(*args, **kwargs):\n"
        + f"    for _ in range({times - 1}):\n"
        + f"        {fast}(*args, **kwargs)\n"
        + f"    return {fast}(*args, **kwargs)\n"
    )


def ratios(
    timed: Assignment, references: References | None, path: Path, function: str, runs: int
) -> list[tuple[Verdict, float]]:
    """``(verdict, student time / reference time)`` of ``runs`` gradings of ``function``'s timing property."""
    outcomes = []
    submission = load_submission(path)
    for _ in range(runs):
        report = grade_submission(submission, timed, GRADE, GRADING_SEED, [function], references)
        result = report.function(function).properties[0]
        found = RATIO.search(result.feedback)
        outcomes.append((result.verdict, float(found.group(1)) if found else float("inf")))
    return outcomes


def row(name: str, outcomes: list[tuple[Verdict, float]]) -> list[object]:
    verdicts = [verdict for verdict, _ in outcomes]
    counts = [verdicts.count(v) for v in (Verdict.PASSED, Verdict.UNDECIDED, Verdict.FAILED)]
    return [name, len(outcomes), *counts, describe([r for _, r in outcomes])]


def describe(values: list[float]) -> str:
    finite = sorted(v for v in values if v != float("inf"))
    if not finite:
        return "gave up early (hopeless)"
    quartiles = statistics.quantiles(finite, n=20, method="inclusive") if len(finite) >= 2 else [finite[0]] * 19
    return f"min {finite[0]:.2f} · p5 {quartiles[0]:.2f} · median {statistics.median(finite):.2f} · " + (
        f"p95 {quartiles[-1]:.2f} · max {finite[-1]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one grading of each, no background load")
    parser.add_argument("--honest-runs", type=int, default=20, help="gradings in a row of each honest solution")
    parser.add_argument("--slow-runs", type=int, default=5, help="gradings of each slow implementation")
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 1, help="processes that keep a core busy")
    options = parser.parse_args()
    honest_runs = 1 if options.quick else options.honest_runs
    slow_runs = 1 if options.quick else options.slow_runs
    busy = 0 if options.quick else options.busy

    print(machine_summary())
    neighbours = [multiprocessing.Process(target=busy_core, daemon=True) for _ in range(busy)]
    for neighbour in neighbours:
        neighbour.start()
    print(f"{busy} other processes keep a core busy each, throughout")

    targets: list[tuple[str, str]] = []
    for assignment_id in known_assignments():
        if (ROOT / "tests" / "submissions" / assignment_id / "bugs.py").exists():
            targets += [(assignment_id, p.function) for p in load_assignment(assignment_id).properties if p.timing]

    honest_rows: list[list[object]] = []
    slow_rows: list[list[object]] = []
    false_alarms = honest_total = misses = slow_total = 0
    with tempfile.TemporaryDirectory() as scratch:
        for assignment_id, function in targets:
            assignment = load_assignment(assignment_id)
            timed, references = timed_only(assignment), load_references(assignment)
            source = correct_source(assignment_id)
            honest = {function: source, f"{function}, its work done twice": slowed(source, function, HONEST_WORK)}
            slow = {
                name: bug for name, bug in planted_bugs(assignment_id) if "loop" in name and f"def {function}(" in bug
            }
            for rows, versions, runs in ((honest_rows, honest, honest_runs), (slow_rows, slow, slow_runs)):
                for name, text in versions.items():
                    path = Path(scratch) / f"{assignment_id}-{len(honest_rows) + len(slow_rows)}.py"
                    path.write_text(text if text.startswith(source) else source + "\n\n" + text)
                    outcomes = ratios(timed, references, path, function, runs)
                    rows.append(row(name, outcomes))
                    print(f"{assignment_id}: {' | '.join(map(str, rows[-1]))}", file=sys.stderr, flush=True)
                    if rows is honest_rows:
                        false_alarms += sum(verdict not in ("passed", "undecided") for verdict, _ in outcomes)
                        honest_total += len(outcomes)
                    else:
                        misses += sum(verdict != "failed" for verdict, _ in outcomes)
                        slow_total += len(outcomes)
    for neighbour in neighbours:
        neighbour.kill()

    columns = ["implementation", "gradings", "passed", "undecided", "failed", "student/reference time"]
    print("\nHonest solutions, up to 2x the reference's work (a failure is a false alarm):\n")
    print_table(columns, honest_rows)
    print("\nPython loops (anything but a failure is a miss):\n")
    print_table(columns, slow_rows)
    print(f"\nfalse alarms: {false_alarms} of {honest_total} (target 0)")
    print(f"slow implementations missed: {misses} of {slow_total} (target 0)")


if __name__ == "__main__":
    main()
