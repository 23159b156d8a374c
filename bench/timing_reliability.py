"""Figure 3, timing-check reliability: does the speed property fail a correct solution on a busy machine,
and does it catch every implementation at least 3 times slower than the reference?

Every function with a timing property (``as_fast_as_reference``) is graded on its timing property alone,
through the real grader (its own worker, the reference in another, calls alternating), while another process
keeps one core busy:

* correct: the vectorised solution kept in ``tests/submissions/<assignment>/correct.py``, graded many times;
  every failure is a false alarm (target: none);
* slow: the Python-loop mistakes kept beside it in ``bugs.py``, and the correct function made k times slower
  by computing it k times (k = 4, 6, 10): each is at least 3 times slower than the reference by construction,
  and each must be caught (target: all).

    python bench/timing_reliability.py               # 200 gradings of correct solutions, 10 of each slow one
    python bench/timing_reliability.py --quick       # a few of each, no background load (CI)
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from benchlib import ROOT, machine_summary, planted_bugs, print_table

from autograder.catalogue import Assignment, known_assignments, load_assignment
from autograder.references import load_references
from autograder.runner import GRADE, GRADING_SEED, Grader
from autograder.submission import load_submission

SLOWDOWNS = (4, 6, 10)
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


def ratios(grader: Grader, path: Path, function: str, runs: int) -> list[tuple[bool, float]]:
    """``(passed, student time / reference time)`` of ``runs`` gradings of ``function``'s timing property."""
    outcomes = []
    submission = load_submission(path)
    for _ in range(runs):
        result = grader.grade(submission, [function]).function(function).properties[0]
        found = RATIO.search(result.feedback)
        outcomes.append((result.passed, float(found.group(1)) if found else float("inf")))
    return outcomes


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
    parser.add_argument("--quick", action="store_true", help="a few gradings, no background load")
    parser.add_argument("--correct-runs", type=int, default=200, help="gradings of correct solutions in all")
    parser.add_argument("--slow-runs", type=int, default=10, help="gradings of each slow implementation")
    options = parser.parse_args()
    correct_total = 4 if options.quick else options.correct_runs
    slow_runs = 1 if options.quick else options.slow_runs

    print(machine_summary())
    neighbour = None
    if not options.quick:
        neighbour = multiprocessing.Process(target=busy_core, daemon=True)
        neighbour.start()
        print("another process keeps one core busy throughout")

    targets: list[tuple[str, str]] = []
    for assignment_id in known_assignments():
        correct = ROOT / "tests" / "submissions" / assignment_id / "correct.py"
        if correct.exists():
            targets += [(assignment_id, p.function) for p in load_assignment(assignment_id).properties if p.timing]
    per_function = max(1, -(-correct_total // len(targets)))  # ceiling: at least the total asked for

    correct_rows: list[list[object]] = []
    slow_rows: list[list[object]] = []
    false_alarms = caught = slow_total = correct_gradings = 0
    with tempfile.TemporaryDirectory() as scratch:
        for assignment_id, function in targets:
            assignment = load_assignment(assignment_id)
            grader = Grader(timed_only(assignment), load_references(assignment), GRADE, GRADING_SEED)
            correct_path = ROOT / "tests" / "submissions" / assignment_id / "correct.py"
            outcomes = ratios(grader, correct_path, function, per_function)
            failed = sum(not passed for passed, _ in outcomes)
            false_alarms += failed
            correct_gradings += len(outcomes)
            correct_rows.append([function, len(outcomes), failed, describe([r for _, r in outcomes])])

            loops = planted_bugs(assignment_id)
            slow_versions = {name: bug for name, bug in loops if "loop" in name and f"def {function}(" in bug}
            source = correct_path.read_text()
            slow_versions.update({f"{function} computed {k} times": slowed(source, function, k) for k in SLOWDOWNS})
            for name, bug in slow_versions.items():
                path = Path(scratch) / f"{assignment_id}-{len(slow_rows)}.py"
                path.write_text(bug if bug.startswith(source) else source + "\n\n" + bug)
                outcomes = ratios(grader, path, function, slow_runs)
                hits = sum(not passed for passed, _ in outcomes)
                caught += hits
                slow_total += len(outcomes)
                slow_rows.append([name, len(outcomes), hits, describe([r for _, r in outcomes])])
    if neighbour is not None:
        neighbour.kill()

    print("\nCorrect vectorised solutions (a failure is a false alarm):\n")
    print_table(["function", "gradings", "failed", "student/reference time"], correct_rows)
    print("\nImplementations at least 3 times slower (each must be caught):\n")
    print_table(["implementation", "gradings", "caught", "student/reference time"], slow_rows)
    print(f"\nfalse alarms: {false_alarms} of {correct_gradings} (target 0)")
    print(f"slow implementations caught: {caught} of {slow_total} (target all)")


if __name__ == "__main__":
    main()
