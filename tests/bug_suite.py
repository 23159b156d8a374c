"""The planted-bug harness, written once: what a bug is, how bugs are graded, and what every grading test checks.

Each assignment keeps a table of named :class:`Bug` in ``tests/submissions/<id>/bugs.py``: the function, the
mistake in words, the exact set of properties that must catch it, and the edit that makes it. What the bug
costs is not written anywhere: it follows from the catalogue (:func:`points_kept`). An assignment's grading
module is then ``class TestGrading(GradingTests): suite = BugSuite("<id>")`` plus its own feedback tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import pytest
from bug_files import load_bugs
from grading import grade_many

from autograder.exercises import load_assignment
from autograder.grading.catalogue import POINTS_PER_FUNCTION, Assignment
from autograder.grading.report import FunctionResult, PropertyResult, Report
from autograder.grading.submission import load_submission

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"


def edited(text: str, *edits: tuple[str, str]) -> str:
    """``text`` with each ``(old, new)`` edit made once: the edits are the mistake, and nothing else."""
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in {text[:60]!r}..."
        text = text.replace(old, new)
    return text


def function_text(source: str, name: str) -> str:
    """The text of the last top-level ``def name`` in ``source`` (the one Python keeps), decorators included."""
    lines = source.splitlines(keepends=True)
    found = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name == name]
    if not found:
        raise LookupError(f"no function {name!r} to edit")
    node = found[-1]
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    assert node.end_lineno is not None
    return "".join(lines[first - 1 : node.end_lineno])


@dataclass(frozen=True, kw_only=True)
class Bug:
    """A real student mistake planted in one function.

    ``caught_by`` is the exact set of ``function``'s properties that must fail for it; the gate's share follows
    (:func:`gated_by`). The mistake is made either by ``source`` (the function rewritten, with anything it needs:
    a later ``def`` wins) or by ``edits``, ``(find, replace)`` pairs each applied once to the correct function.
    """

    function: str
    mistake: str
    caught_by: Set[str]
    source: str = ""
    edits: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "caught_by", frozenset(self.caught_by))
        if bool(self.source) == bool(self.edits):
            raise ValueError(f"a bug in {self.function} is made by source or by edits, one of the two")

    def definition(self, correct_source: str) -> str:
        """The buggy function: ``source``, or the correct one (the last in ``correct_source``) with ``edits``."""
        if self.source:
            return self.source
        return edited(function_text(correct_source, self.function), *self.edits)


def plant(correct_source: str, bugs: Iterable[Bug]) -> str:
    """``correct_source`` with each bug's function after it (each bug in a function of its own)."""
    planted = "".join("\n\n# --- planted bug ---\n" + bug.definition(correct_source).strip() + "\n" for bug in bugs)
    return correct_source + planted


def gated_by(assignment: Assignment, function: str, caught_by: Set[str]) -> set[str]:
    """What the gate takes from ``function`` once ``caught_by`` fail (docs/GRADING.md, partial credit).

    If one of them establishes correctness, every gated or timed property the function did not fail on
    its own gets the verdict ``gated`` and no points; otherwise nothing is taken.
    """
    properties = assignment.properties_of(function)
    if not any(p.establishes_correctness and p.name in caught_by for p in properties):
        return set()
    return {p.name for p in properties if p.counts_only_when_correct and p.name not in caught_by}


def points_kept(assignment: Assignment, function: str, caught_by: Set[str]) -> float:
    """The points ``function`` keeps when exactly ``caught_by`` fail: 10 less those and what the gate takes."""
    lost = caught_by | gated_by(assignment, function, caught_by)
    return POINTS_PER_FUNCTION - sum(p.points for p in assignment.properties_of(function) if p.name in lost)


def failed_and_gated(result: FunctionResult) -> tuple[set[str], set[str]]:
    """A graded function's properties that caught something (any verdict that did not keep the points, but
    gated), and the gated ones. An undecided timing keeps its points: it caught nothing."""
    failed = {p.property for p in result.properties if not p.passed and p.verdict != "gated"}
    return failed, {p.property for p in result.properties if p.verdict == "gated"}


def reference_code(notebook: Path) -> str:
    """The code the grader takes from a solution notebook (definitions and imports; no demonstration)."""
    submission = load_submission(notebook)
    assert not submission.problems, submission.problems
    return "\n\n\n".join(chunk.source.strip() for chunk in submission.chunks) + "\n"


# A grading job: the submission, "grade" or "check", and the functions to grade (None: all of them).
Job = tuple[Path, str, str, tuple[str, ...] | None]


@dataclass(frozen=True)
class BugSuite:
    """One assignment's planted bugs and how a grading run grades them.

    The bugs are packed so that no two share a function (:meth:`packs`); each pack is planted in the correct
    submission and graded as one, all in one parallel pass, and every graded function's points are asserted,
    so a bug that reached another function would show. The first pack is graded ``determinism_runs`` times.
    ``partial_packs``: the packs after the first are graded on the functions they plant only, and the last
    one also on ``beside``, functions left correct beside them (for an assignment with many bugs per function).
    ``demonstrated_once``: properties every function has from the same builder, which a bug in any one
    function demonstrates (every other property needs a bug in its own function).
    """

    assignment_id: str
    determinism_runs: int = 3
    partial_packs: bool = False
    beside: tuple[str, ...] = ()
    demonstrated_once: frozenset[str] = frozenset()

    @cached_property
    def assignment(self) -> Assignment:
        return load_assignment(self.assignment_id)

    @cached_property
    def bugs(self) -> Mapping[str, Bug]:
        bugs: Mapping[str, Bug] = load_bugs(self.assignment_id).BUGS
        return bugs

    @property
    def folder(self) -> Path:
        return SUBMISSIONS / self.assignment_id

    def notebook(self, kind: str) -> Path:
        """The reference (``solutions``) or the generated student notebook (``assignments``)."""
        return ROOT / kind / self.assignment_id / self.assignment.notebook

    @cached_property
    def correct_source(self) -> str:
        """The correct submission: the reference's code, then ``correct.py``'s functions, which replace the
        reference's where a student would write them differently (a function it lacks is the reference's)."""
        return reference_code(self.notebook("solutions")) + "\n\n" + (self.folder / "correct.py").read_text()

    def planted(self, names: Iterable[str]) -> str:
        """The correct submission with the named bugs planted (each in a function of its own)."""
        return plant(self.correct_source, [self.bugs[name] for name in names])

    def kept(self, name: str) -> float:
        """The points a bug's function keeps, computed from the catalogue."""
        bug = self.bugs[name]
        return points_kept(self.assignment, bug.function, bug.caught_by)

    def packs(self) -> list[tuple[str, ...]]:
        """The bugs grouped so that no two share a function: pack i holds the i-th bug of every function."""
        by_function: dict[str, list[str]] = {}
        for name, bug in self.bugs.items():
            by_function.setdefault(bug.function, []).append(name)
        depth = max(len(names) for names in by_function.values())
        return [tuple(names[i] for names in by_function.values() if i < len(names)) for i in range(depth)]

    def pack_of(self, name: str) -> int:
        return next(index for index, pack in enumerate(self.packs()) if name in pack)

    def graded_functions(self, index: int) -> tuple[str, ...] | None:
        """The functions pack ``index`` is graded on (None: all of them)."""
        packs = self.packs()
        if not self.partial_packs or index == 0:
            return None
        functions = tuple(self.bugs[name].function for name in packs[index])
        return functions + self.beside if index == len(packs) - 1 else functions

    def grade(self, folder: Path) -> dict[str, Report]:
        """Every submission the tests need, graded once, in one parallel pass (the longest first, so that
        the pool does not end waiting on one of them); each bug's name maps to its pack's report."""
        correct = folder / "correct.py"
        correct.write_text(self.correct_source)
        packs = self.packs()
        paths = [folder / f"pack_{index}.py" for index in range(len(packs))]
        for path, pack in zip(paths, packs, strict=True):
            path.write_text(self.planted(pack))
        jobs: dict[str, Job] = {"pack-0": (paths[0], self.assignment_id, "grade", None)}
        for run in range(1, self.determinism_runs):
            jobs[f"pack-0-again-{run}"] = jobs["pack-0"]
        jobs["correct"] = (correct, self.assignment_id, "grade", None)
        jobs["reference"] = (self.notebook("solutions"), self.assignment_id, "grade", None)
        for index in range(1, len(packs)):
            jobs[f"pack-{index}"] = (paths[index], self.assignment_id, "grade", self.graded_functions(index))
        jobs["correct-check"] = (correct, self.assignment_id, "check", None)
        jobs["student"] = (self.notebook("assignments"), self.assignment_id, "grade", None)
        jobs["student-check"] = (self.notebook("assignments"), self.assignment_id, "check", None)
        graded = dict(zip(jobs, grade_many(list(jobs.values())), strict=True))
        for index, pack in enumerate(packs):
            graded.update(dict.fromkeys(pack, graded[f"pack-{index}"]))
        return graded

    def points_after(self, pack: int) -> dict[str, float]:
        """The points of every function pack ``pack`` is graded on, once its bugs are planted."""
        functions = self.graded_functions(pack) or self.assignment.functions
        points = dict.fromkeys(functions, float(POINTS_PER_FUNCTION))
        points.update({self.bugs[name].function: self.kept(name) for name in self.packs()[pack]})
        return points


class GradingTests:
    """The tests every assignment's grading module runs.

    A module subclasses this as ``TestGrading`` with a class attribute ``suite``, and ``counted_by_hand``: a
    few bugs' kept points counted by hand from the catalogue, so that a catalogue change that moves points
    shows. pytest then runs every test below there, grading everything once per class, and runs the bug test
    once per planted bug.
    """

    suite: ClassVar[BugSuite]
    counted_by_hand: ClassVar[Mapping[str, float]] = {}

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

    def test_every_bug_is_caught_by_properties_of_its_own_function(self) -> None:
        assignment = self.suite.assignment
        for name, bug in self.suite.bugs.items():
            assert bug.function in assignment.functions, name
            names = {p.name for p in assignment.properties_of(bug.function)}
            assert bug.caught_by and bug.caught_by <= names, (name, sorted(bug.caught_by - names))
            assert bug.definition(self.suite.correct_source).strip(), name  # its edits apply

    def test_a_few_costs_counted_by_hand(self) -> None:
        """Every cost is computed from the catalogue; these few, counted by hand, show when one moves."""
        assert len(self.counted_by_hand) >= 3
        assert {name: self.suite.kept(name) for name in self.counted_by_hand} == self.counted_by_hand

    def test_every_property_is_caught_by_some_bug(self) -> None:
        caught = {(bug.function, prop) for bug in self.suite.bugs.values() for prop in bug.caught_by}
        once = {prop for _, prop in caught} & self.suite.demonstrated_once
        uncaught = sorted(
            p.key for p in self.suite.assignment.properties if (p.function, p.name) not in caught and p.name not in once
        )
        assert uncaught == [], f"properties no bug demonstrates: {uncaught}"

    def test_reference_notebook_gets_full_marks(self, reports: dict[str, Report]) -> None:
        report = reports["reference"]
        failures = [
            (p.function, p.property, p.feedback) for f in report.functions for p in f.properties if not p.passed
        ]
        assert failures == []
        assert report.points == report.max_points == POINTS_PER_FUNCTION * len(self.suite.assignment.functions)

    def test_a_correct_student_solution_gets_full_marks(self, reports: dict[str, Report]) -> None:
        points = reports["correct"].points_by_function()
        assert points == dict.fromkeys(self.suite.assignment.functions, POINTS_PER_FUNCTION)

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

    def test_bug_costs_exact_points_on_its_own_function_only(self, bug: str, reports: dict[str, Report]) -> None:
        """The bug's function keeps exactly its computed points and fails exactly ``caught_by``; every other
        function graded with its pack gets what its own planted bug (or none) costs."""
        report = reports[bug]
        assert report.points_by_function() == self.suite.points_after(self.suite.pack_of(bug))
        planted = self.suite.bugs[bug]
        failed, gated = failed_and_gated(report.function(planted.function))
        assert failed == planted.caught_by
        assert gated == gated_by(self.suite.assignment, planted.function, failed)

    def test_the_same_submission_graded_again_scores_the_same(self, reports: dict[str, Report]) -> None:
        runs = [reports["pack-0"]] + [reports[f"pack-0-again-{run}"] for run in range(1, self.suite.determinism_runs)]
        assert len(runs) >= 2
        assert all(run.points_by_function() == self.suite.points_after(0) for run in runs)
        feedback = [[(p.function, p.property, p.feedback) for f in r.functions for p in f.properties] for r in runs]
        drawn = [[entry for entry in run if "took" not in entry[2]] for run in feedback]  # timing lines carry times
        assert all(run == drawn[0] for run in drawn)

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
