"""What every assignment's grading test checks, written once.

An assignment's test module describes its planted bugs (``tests/submissions/<id>/bugs.py``) and what
each must cost in a :class:`BugSuite`, and subclasses :class:`GradingTests`, whose tests then run there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from grading import grade_many

from autograder.exercises import load_assignment
from autograder.grading.catalogue import POINTS_PER_FUNCTION, Assignment
from autograder.grading.report import FunctionResult, PropertyResult, Report

ROOT = Path(__file__).resolve().parents[1]
DETERMINISM_RUNS = 3


@dataclass(frozen=True)
class Bug:
    """A real student mistake: the function it replaces, the mistake in words, and its source."""

    function: str
    mistake: str
    source: str


def gated_by(assignment: Assignment, function: str, caught_by: set[str]) -> set[str]:
    """What the gate takes from ``function`` once ``caught_by`` fail (docs/GRADING.md, partial credit).

    If one of them establishes correctness, every gated or timed property the function did not fail on
    its own gets the verdict ``gated`` and no points; otherwise nothing is taken.
    """
    properties = assignment.properties_of(function)
    if not any(p.establishes_correctness and p.name in caught_by for p in properties):
        return set()
    return {p.name for p in properties if p.counts_only_when_correct and p.name not in caught_by}


def points_kept(assignment: Assignment, function: str, caught_by: set[str]) -> float:
    """The points ``function`` keeps when exactly ``caught_by`` fail: neither those nor what the gate takes."""
    lost = caught_by | gated_by(assignment, function, caught_by)
    return POINTS_PER_FUNCTION - sum(p.points for p in assignment.properties_of(function) if p.name in lost)


def wrong_costs(
    assignment: Assignment, bugs: Mapping[str, Bug], expected: Mapping[str, tuple[float, set[str]]]
) -> list[str]:
    """The bugs whose expected cost does not follow from the catalogue: properties their function lacks, or
    kept points other than those the properties that catch them, and the gate, leave (none, if all is well)."""
    wrong = [f"{name}: no expected cost" for name in bugs if name not in expected]
    for name, (kept, caught_by) in expected.items():
        function = bugs[name].function
        if not caught_by <= {p.name for p in assignment.properties_of(function)}:
            wrong.append(f"{name}: {sorted(caught_by)} are not all properties of {function}")
        elif kept != points_kept(assignment, function, caught_by):
            wrong.append(f"{name}: keeps {points_kept(assignment, function, caught_by):g}, not {kept:g}")
    return wrong


def failed_and_gated(result: FunctionResult) -> tuple[set[str], set[str]]:
    """A graded function's properties that caught something (any verdict that did not keep the points, but
    gated), and the gated ones. An undecided timing keeps its points: it caught nothing."""
    failed = {p.property for p in result.properties if not p.passed and p.verdict != "gated"}
    return failed, {p.property for p in result.properties if p.verdict == "gated"}


def submission_with(bug: Bug, correct_source: str) -> str:
    """The correct submission with ``bug``'s function replaced (a later ``def`` wins)."""
    return correct_source + "\n\n# --- planted bug ---\n" + bug.source.strip() + "\n"


@dataclass(frozen=True)
class BugSuite:
    """One assignment's planted bugs and what each must cost.

    ``expected[bug] = (points its function keeps, the exact set of properties that catch it)``; every
    other function keeps all of its points. The properties the gate then takes (:func:`gated_by`) are not
    in that set: they caught nothing, and their cost follows from it.
    """

    assignment_id: str
    bugs: Mapping[str, Bug]
    expected: Mapping[str, tuple[float, set[str]]]

    @property
    def assignment(self) -> Assignment:
        return load_assignment(self.assignment_id)

    @property
    def folder(self) -> Path:
        return ROOT / "tests" / "submissions" / self.assignment_id

    def notebook(self, kind: str) -> Path:
        """The reference (``solutions``) or the generated student notebook (``assignments``)."""
        return ROOT / kind / self.assignment_id / self.assignment.notebook

    def packs(self) -> list[tuple[str, ...]]:
        """The bugs grouped so that no two share a function: pack i holds the i-th bug of every function."""
        by_function: dict[str, list[str]] = {}
        for name, bug in self.bugs.items():
            by_function.setdefault(bug.function, []).append(name)
        depth = max(len(names) for names in by_function.values())
        return [tuple(names[i] for names in by_function.values() if i < len(names)) for i in range(depth)]

    def grade(self, folder: Path) -> dict[str, Report]:
        """Every submission the tests need, graded once, in one parallel pass.

        Bugs in different functions are planted together (see :meth:`packs`): each function is graded in
        its own worker, and the tests assert every function's points in every pack, so a bug that reached
        another function would still show. The first pack is graded twice more, for determinism.
        """
        correct = (self.folder / "correct.py").read_text()
        jobs: dict[str, tuple[Path, str, str]] = {
            "correct": (self.folder / "correct.py", self.assignment_id, "grade"),
            "correct-check": (self.folder / "correct.py", self.assignment_id, "check"),
            "reference": (self.notebook("solutions"), self.assignment_id, "grade"),
            "student": (self.notebook("assignments"), self.assignment_id, "grade"),
            "student-check": (self.notebook("assignments"), self.assignment_id, "check"),
        }
        packs = self.packs()
        for index, pack in enumerate(packs):
            path = folder / f"pack_{index}.py"
            path.write_text(correct + "".join(submission_with(self.bugs[name], "") for name in pack))
            jobs[f"pack-{index}"] = (path, self.assignment_id, "grade")
        for run in range(1, DETERMINISM_RUNS):
            jobs[f"pack-0-again-{run}"] = jobs["pack-0"]
        graded = dict(zip(jobs, grade_many(list(jobs.values())), strict=True))
        for index, pack in enumerate(packs):
            for name in pack:
                graded[name] = graded[f"pack-{index}"]
        return graded

    def points_after(self, bugs: tuple[str, ...]) -> dict[str, float]:
        """The points of every function once ``bugs`` (each in a different function) are planted."""
        points = {function: POINTS_PER_FUNCTION for function in self.assignment.functions}
        for bug in bugs:
            points[self.bugs[bug].function] = self.expected[bug][0]
        return points


class GradingTests:
    """The tests every assignment's grading module runs.

    A module subclasses this as ``TestGrading`` with a class attribute ``suite``; pytest then runs every
    test below there, grading everything once per class, and runs the bug test once per planted bug.
    """

    suite: BugSuite

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "bug" in metafunc.fixturenames:
            metafunc.parametrize("bug", sorted(self.suite.bugs))

    @pytest.fixture(scope="class")
    @classmethod
    def reports(cls, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
        return cls.suite.grade(tmp_path_factory.mktemp(cls.suite.assignment_id))

    def test_every_function_is_worth_ten_points(self) -> None:
        for function in self.suite.assignment.functions:
            assert self.suite.assignment.max_points(function) == POINTS_PER_FUNCTION, function

    def test_reference_notebook_gets_full_marks(self, reports: dict[str, Report]) -> None:
        report = reports["reference"]
        failures = [
            (p.function, p.property, p.feedback) for f in report.functions for p in f.properties if not p.passed
        ]
        assert failures == []
        assert report.points == report.max_points == POINTS_PER_FUNCTION * len(self.suite.assignment.functions)

    def test_a_correct_student_solution_gets_full_marks(self, reports: dict[str, Report]) -> None:
        assert reports["correct"].points_by_function() == self.suite.points_after(())

    def test_public_checks_pass_without_the_solutions(self, reports: dict[str, Report]) -> None:
        """``check`` runs with no reference (a student bundle): every public property holds for a correct solution."""
        for function in reports["correct-check"].functions:
            for prop in function.properties:
                assert prop.passed if prop.public else prop.verdict == "skipped", (prop.function, prop.property)

    def test_student_notebook_gets_zero_and_not_implemented_everywhere(self, reports: dict[str, Report]) -> None:
        for mode in ("student", "student-check"):
            report = reports[mode]
            assert report.points == 0
            for function in report.functions:
                assert function.verdict == "not_implemented", function.name
                assert "not implemented yet" in function.note
                assert "Traceback" not in function.note

    def test_every_bug_has_its_expected_cost(self) -> None:
        assert sorted(self.suite.bugs) == sorted(self.suite.expected)
        assert wrong_costs(self.suite.assignment, self.suite.bugs, self.suite.expected) == []

    def test_every_property_is_caught_by_some_bug(self) -> None:
        expected = self.suite.expected
        caught = {(self.suite.bugs[bug].function, prop) for bug, (_, props) in expected.items() for prop in props}
        uncaught = sorted(p.key for p in self.suite.assignment.properties if (p.function, p.name) not in caught)
        assert uncaught == [], f"properties no bug demonstrates: {uncaught}"

    def test_bug_costs_exact_points_on_its_own_function_only(self, bug: str, reports: dict[str, Report]) -> None:
        """The bug's function keeps exactly its points and fails exactly its properties; every other function
        in its pack gets what its own planted bug (or none) costs."""
        pack = next(p for p in self.suite.packs() if bug in p)
        report = reports[bug]
        assert report.points_by_function() == self.suite.points_after(pack)
        function = self.suite.bugs[bug].function
        failed, gated = failed_and_gated(report.function(function))
        assert failed == self.suite.expected[bug][1]
        assert gated == gated_by(self.suite.assignment, function, failed)

    def test_the_same_submission_graded_three_times_scores_the_same(self, reports: dict[str, Report]) -> None:
        runs = [reports["pack-0"]] + [reports[f"pack-0-again-{run}"] for run in range(1, DETERMINISM_RUNS)]
        scores = [r.points_by_function() for r in runs]
        assert scores[0] == scores[1] == scores[2] == self.suite.points_after(self.suite.packs()[0])
        feedback = [[(p.function, p.property, p.feedback) for f in r.functions for p in f.properties] for r in runs]
        drawn = [[entry for entry in run if "took" not in entry[2]] for run in feedback]  # timing lines carry times
        assert drawn[0] == drawn[1] == drawn[2]

    @pytest.mark.slow
    def test_solution_notebook_runs_top_to_bottom_with_full_marks_in_its_own_cells(self) -> None:
        """A fresh kernel runs every cell, demonstrations included, and every test cell gives 10 points."""
        import nbformat
        from nbclient import NotebookClient

        notebook = nbformat.read(self.suite.notebook("solutions"), as_version=4)
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        ).execute()
        points = {
            cell.source: "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)
            for cell in notebook.cells
            if cell.cell_type == "code" and cell.source.startswith("autograde.points(")
        }
        assert len(points) == len(self.suite.assignment.functions)
        assert set(points.values()) == {"10.0"}, points

    @staticmethod
    def failed_property(report: Report, function: str, name: str) -> PropertyResult:
        """One property's result, asserting that it failed (for tests of what the feedback says)."""
        prop = next(p for p in report.function(function).properties if p.property == name)
        assert not prop.passed, f"{function}.{name} passed"
        return prop
