"""Grading results and the two ways they are shown: text for people, Gradescope's results.json.

The Gradescope format is the grader's one machine-readable report (docs/GRADING.md): one entry per
property, with the function, property and verdict in ``extra_data`` so that exports and scripts need
nothing else. Students see part of it before grades are published, so what it shows at once is public
feedback alone (:func:`public_view`): hidden properties are tests of their own, shown after publication.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import math
import platform
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from autograder import __version__

if TYPE_CHECKING:
    from autograder.grading.catalogue import Assignment


class Verdict(str, Enum):  # enum.StrEnum, which Python 3.10 lacks
    """What became of one property (docs/GRADING.md, the report); a function's verdict is its worst."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the function raised
    MISSING = "missing"  # not defined
    NOT_IMPLEMENTED = "not_implemented"  # still the notebook's stub
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASHED = "crashed"
    FORBIDDEN = "forbidden"  # the sandbox refused what it tried
    UNDECIDED = "undecided"  # timing only: too noisy to tell within its rounds; the points are kept
    GATED = "gated"  # held (or was not timed), but counts only once the function agrees with the reference
    SKIPPED = "skipped"  # not run here: hidden properties in ``check``, or no reference available

    def __str__(self) -> str:
        return str(self.value)


VERDICTS = tuple(Verdict)
# A function's verdict is the first of these any of its properties got, else passed.
_WORST_FIRST = (
    Verdict.MISSING,
    Verdict.NOT_IMPLEMENTED,
    Verdict.TIMEOUT,
    Verdict.MEMORY,
    Verdict.CRASHED,
    Verdict.FORBIDDEN,
    Verdict.ERROR,
    Verdict.FAILED,
)

UNREADABLE_NOTE = "not graded: the submission could not be read"
# Notes for the instructor alone: a student learns nothing from them but where the sandbox is weak.
INSTRUCTOR_NOTES = ("the sandbox lacks some protections",)
# How the runner labels the input a worker failed on (runner._describe_example) in a function's note.
_FAILED_INPUT = "\non the input: "
# How a gated property's feedback ends: the properties that did not hold (runner._gated_message).
_GATES_END = " did not hold)"
# Gradescope's visibility of a test: public properties at once, hidden ones once grades are published.
VISIBLE = "visible"
AFTER_PUBLISHED = "after_published"

FUNCTION_SUMMARIES = {
    Verdict.MISSING: "missing",
    Verdict.NOT_IMPLEMENTED: "not implemented yet",
    Verdict.TIMEOUT: "ran out of time",
    Verdict.MEMORY: "ran out of memory",
    Verdict.CRASHED: "crashed",
    Verdict.FORBIDDEN: "did something the sandbox refuses",
}


@dataclass
class PropertyResult:
    function: str
    property: str
    says: str
    max_points: float
    public: bool
    verdict: Verdict
    points: float = 0.0
    feedback: str = ""  # what went wrong, the smallest input, expected, got, the hint
    # The verdict rests on what the worker said about itself (its inputs after the call, floating-point
    # errors, the device audit), which a submission that patches its worker could forge (docs/SANDBOX.md).
    self_reported: bool = False

    @builtins.property  # the field ``property`` shadows the builtin in this class body
    def passed(self) -> bool:
        """Whether the property earned its points (an undecided timing keeps them)."""
        return self.verdict in (Verdict.PASSED, Verdict.UNDECIDED)


@dataclass
class Curve:
    """A failed function sampled on a grid beside the reference, for the plot on a feedback page.

    ``student[i]`` and ``reference[i]`` are the values at ``x[i]``; ``None`` stands for NaN or infinity
    (JSON has neither). Sampled in the worker while grading, since student code never runs elsewhere.
    """

    x: list[float]
    student: list[float | None]
    reference: list[float | None]


@dataclass
class FunctionResult:
    name: str
    properties: list[PropertyResult] = field(default_factory=list)
    note: str = ""  # a message about the whole function (missing, a syntax error, not implemented)
    curve: Curve | None = None  # only for a plottable function (see Assignment.plots) that failed

    @property
    def points(self) -> float:
        return round(sum(p.points for p in self.properties), 6)

    @property
    def max_points(self) -> float:
        return round(sum(p.max_points for p in self.properties), 6)

    @property
    def verdict(self) -> Verdict:
        ran = {p.verdict for p in self.properties if p.verdict != Verdict.SKIPPED}
        return next((verdict for verdict in _WORST_FIRST if verdict in ran), Verdict.PASSED)


@dataclass
class Report:
    assignment: str
    submission: str
    mode: str  # "check" (public properties) or "grade" (all of them)
    seed: int
    grader_version: str
    functions: list[FunctionResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # problems not tied to one function
    execution_time: float = 0.0
    environment: dict[str, str] = field(default_factory=dict)
    sandbox: dict[str, str] = field(default_factory=dict)  # each protection: "on", or why it is missing

    @property
    def points(self) -> float:
        return round(sum(f.points for f in self.functions), 6)

    @property
    def max_points(self) -> float:
        return round(sum(f.max_points for f in self.functions), 6)

    def function(self, name: str) -> FunctionResult:
        for result in self.functions:
            if result.name == name:
                return result
        raise KeyError(name)

    def points_by_function(self) -> dict[str, float]:
        return {f.name: f.points for f in self.functions}


def finite_or_none(values: Any) -> list[float | None]:
    """Plain floats for JSON, with ``None`` where a value is NaN or infinite."""
    return [float(v) if math.isfinite(float(v)) else None for v in values]


def report_to_dict(report: Report) -> dict[str, Any]:
    """Every field of ``report`` as plain JSON data; :func:`report_from_dict` rebuilds it."""
    return dataclasses.asdict(report)


def report_from_dict(data: dict[str, Any]) -> Report:
    functions = []
    for function in data.get("functions", []):
        curve = Curve(**function["curve"]) if function.get("curve") else None
        # A verdict outside the closed set is a ValueError here, where the report arrives, not later.
        properties = [
            PropertyResult(**{**prop, "verdict": Verdict(prop["verdict"])}) for prop in function.get("properties", [])
        ]
        functions.append(FunctionResult(function["name"], properties, function.get("note", ""), curve))
    fields = {key: value for key, value in data.items() if key != "functions"}
    return Report(functions=functions, **fields)


def zero_report(
    assignment: Assignment,
    submission: str,
    mode: str,
    seed: int,
    include_hidden: bool,
    why: str,
    function_note: str = UNREADABLE_NOTE,
) -> Report:
    """The report of a submission that could not be graded at all: no points, and ``why`` in its notes.

    Built without starting any worker: there is nothing to run. Properties the mode would not run stay
    ``skipped``; every other one gets the verdict ``error``; every function carries ``function_note``.
    """
    report = Report(assignment.id, submission, mode, seed, __version__, notes=[why], environment=environment())
    for name in assignment.functions:
        properties = [
            PropertyResult(
                function=name,
                property=prop.name,
                says=prop.says,
                max_points=prop.points,
                public=prop.public,
                verdict=Verdict.ERROR if prop.public or include_hidden else Verdict.SKIPPED,
            )
            for prop in assignment.properties_of(name)
        ]
        report.functions.append(FunctionResult(name, properties, function_note))
    return report


def environment() -> dict[str, str]:
    """The versions that can change a grade, and a short hash of them."""
    import numpy

    versions = {"python": platform.python_version(), "numpy": numpy.__version__}
    try:
        from importlib.metadata import version

        versions["torch"] = version("torch")
        versions["hypothesis"] = version("hypothesis")
    except Exception:  # noqa: BLE001 - a missing package is recorded as absent, not an error
        versions.setdefault("torch", "absent")
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:16]
    return {**versions, "hash": digest}


def _format_points(value: float) -> str:
    return f"{value:g}"


def public_view(report: Report) -> Report:
    """``report`` as students may see it before grades are published: its public properties alone.

    Hidden properties go, with their points; so does a function note's failing input when a hidden
    property met it, and the notes meant for the instructor.
    """
    functions = [
        FunctionResult(f.name, [public_result(p) for p in f.properties if p.public], public_note(f))
        for f in report.functions
    ]
    notes = [note for note in report.notes if not note.startswith(INSTRUCTOR_NOTES)]
    return dataclasses.replace(report, functions=functions, notes=notes, sandbox={})


def public_result(prop: PropertyResult) -> PropertyResult:
    """A public property's result without the names of the properties that gate it, hidden ones among them.

    A gated property's feedback ends with the properties that did not hold (runner._gated_message).
    """
    if prop.verdict != Verdict.GATED or not prop.feedback.endswith(_GATES_END) or " (" not in prop.feedback:
        return prop
    return dataclasses.replace(prop, feedback=prop.feedback.rsplit(" (", 1)[0])


def public_note(result: FunctionResult) -> str:
    """``result.note`` without the input a worker failed on when that input was a hidden property's.

    The runner names the input of the property that timed out in the function's note; it is the first
    property with the verdict ``timeout``.
    """
    timed_out = next((p for p in result.properties if p.verdict == Verdict.TIMEOUT), None)
    if timed_out is None or timed_out.public or _FAILED_INPUT not in result.note:
        return result.note
    return result.note.split(_FAILED_INPUT, 1)[0]


def render_public_text(report: Report) -> str:
    """The feedback students may see at once: public properties only, no points, no seed."""
    return render_text(public_view(report), public=True)


def rendered(report: Report, format: str) -> str:
    """A graded report as ``autograder grade --format`` prints it: ``text`` or ``gradescope`` (JSON)."""
    return json.dumps(to_gradescope(report), indent=2) + "\n" if format == "gradescope" else render_text(report)


def render_text(report: Report, public: bool = False) -> str:
    """The report as a person reads it: a line per function, then what failed and why.

    ``public``: the report is a :func:`public_view` of a grade, shown without points or the seed.
    """
    title = "Checked" if report.mode == "check" else "Graded"
    heading = f"{title} {report.submission} against {report.assignment}"
    lines = [f"{heading}: public properties" if public else f"{heading} (seed {report.seed})", ""]
    for note in report.notes:
        lines.append(f"! {note}")
    if report.notes:
        lines.append("")
    width = max((len(f.name) for f in report.functions), default=10) + 2
    for result in report.functions:
        lines.extend(function_lines(result, report.mode, width, public))
    lines.append("")
    if public:
        lines.append("Hidden properties, and the points of every property, are shown once grades are published.")
    elif report.mode == "grade":
        lines.append(f"Total: {_format_points(report.points)} / {_format_points(report.max_points)}")
    else:
        hold = sum(f.verdict == Verdict.PASSED for f in report.functions)
        lines.append(f"{hold} of {len(report.functions)} functions pass every public check.")
    return "\n".join(lines) + "\n"


def function_lines(result: FunctionResult, mode: str, width: int = 0, public: bool = False) -> list[str]:
    """One function's part of the text report: its points (or its checks), then what failed and why.

    ``public``: shown without points (a :func:`public_view` of a grade).
    """
    ran = [p for p in result.properties if p.verdict != Verdict.SKIPPED]
    summary = FUNCTION_SUMMARIES.get(result.verdict)
    if result.note and len({p.verdict for p in ran}) == 1 and not ran[0].passed:
        summary = summary or "not graded"  # one cause for every property: the note says it once
    if mode == "check" or public:
        status = summary or f"{sum(p.passed for p in ran)}/{len(ran)} public properties hold"
    else:
        status = f"{_format_points(result.points)} / {_format_points(result.max_points)}"
        status += f"   {summary}" if summary else ""
    lines = [f"{result.name:<{width}}{status}" if width else f"{result.name}: {status}"]
    if result.note:
        lines.extend("    " + line for line in result.note.splitlines())
    if summary:
        return lines
    failed = [p for p in ran if not p.passed]
    said: set[int] = set()
    for prop in failed:
        if id(prop) in said:
            continue
        # Properties that failed for one cause (the same first line: a wrong return type, an exception)
        # are listed together, and the cause is said once, with the first one's input.
        cause = _cause(prop)
        group = [p for p in failed if cause and _cause(p) == cause] or [prop]
        said.update(id(p) for p in group)
        for member in group:
            points = "" if mode == "check" or public else f" (-{_format_points(member.max_points)})"
            lines.append(f"  x {member.says}{points}")
        lines.extend("      " + line for line in _group_feedback(group))
    skipped = [p for p in result.properties if p.verdict == Verdict.SKIPPED]
    if skipped and mode == "check" and result.verdict == Verdict.PASSED:
        more = "1 more property is" if len(skipped) == 1 else f"{len(skipped)} more properties are"
        lines.append(f"    ({more} checked when your work is graded)")
    return lines


def _cause(prop: PropertyResult) -> str:
    """What went wrong, in one line, for a property that failed or raised; "" for any other verdict."""
    return prop.feedback.split("\n", 1)[0] if prop.verdict in (Verdict.FAILED, Verdict.ERROR) else ""


def _group_feedback(group: list[PropertyResult]) -> list[str]:
    """The feedback of properties that failed for one cause: the first one's, with a hint only if all
    share it (each property's hint is about a mistake of its own, not about the shared cause)."""
    lines = group[0].feedback.splitlines()
    if len(group) == 1:
        return lines
    hints = {tuple(line for line in p.feedback.splitlines() if line.startswith("hint: ")) for p in group}
    return lines if len(hints) == 1 else [line for line in lines if not line.startswith("hint: ")]


def to_gradescope(report: Report) -> dict[str, Any]:
    """Gradescope's results.json, one test per property.

    Students see the top-level ``output`` and the ``visible`` tests at once: public feedback alone. A
    hidden property's test, with its inputs, expected values and hint, is ``after_published``.
    """
    tests = []
    for result in report.functions:
        for prop in result.properties:
            note, feedback = (
                (public_note(result), public_result(prop).feedback) if prop.public else (result.note, prop.feedback)
            )
            output = feedback or ("passed" if prop.passed else "")
            if note and not prop.passed:
                output = note + ("\n" + feedback if feedback else "")
            tests.append(
                {
                    "name": f"{prop.function}: {prop.says}",
                    "score": prop.points,
                    "max_score": prop.max_points,
                    "status": "passed" if prop.passed else "failed",
                    "output": output,
                    "visibility": VISIBLE if prop.public else AFTER_PUBLISHED,
                    "extra_data": {
                        "assignment": report.assignment,
                        "function": prop.function,
                        "property": prop.property,
                        "verdict": prop.verdict,
                        "self_reported": prop.self_reported,
                    },
                }
            )
    return {
        "score": report.points,
        "execution_time": round(report.execution_time, 3),
        "output": render_public_text(report),
        "stdout_visibility": "hidden",  # run_autograder's stdout is for the instructor (the bundle's errors)
        "tests": tests,
        "extra_data": {
            "assignment": report.assignment,
            "grader_version": report.grader_version,
            "seed": report.seed,
            "environment_hash": report.environment.get("hash", ""),
            "environment": report.environment,
            "mode": report.mode,
            "submission": report.submission,
            # What a feedback page needs to plot a failed function against the reference.
            "curves": {f.name: dataclasses.asdict(f.curve) for f in report.functions if f.curve is not None},
            "sandbox": report.sandbox,
        },
    }
