"""Grading results and the two ways they are shown: text for people, Gradescope's results.json.

The Gradescope format is the grader's one machine-readable report (docs/GRADING.md): one entry per
property, with the function, property and verdict in ``extra_data`` so that exports and scripts need
nothing else.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import math
import platform
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autograder import __version__

if TYPE_CHECKING:
    from autograder.catalogue import Assignment

VERDICTS = (
    "passed",
    "failed",
    "error",
    "missing",
    "not_implemented",
    "timeout",
    "memory",
    "crashed",
    "forbidden",
    "undecided",  # timing only: too noisy to tell within its rounds; the points are kept
    "gated",  # held (or was not timed), but counts only once the function agrees with the reference
    "skipped",  # not run here: hidden properties in ``check``, or no reference available
)

UNREADABLE_NOTE = "not graded: the submission could not be read"

FUNCTION_SUMMARIES = {
    "missing": "missing",
    "not_implemented": "not implemented yet",
    "timeout": "ran out of time",
    "memory": "ran out of memory",
    "crashed": "crashed",
    "forbidden": "did something the sandbox refuses",
}


@dataclass
class PropertyResult:
    function: str
    property: str
    says: str
    max_points: float
    public: bool
    verdict: str
    points: float = 0.0
    feedback: str = ""  # what went wrong, the smallest input, expected, got, the hint

    @builtins.property  # the field ``property`` shadows the builtin in this class body
    def passed(self) -> bool:
        """Whether the property earned its points (an undecided timing keeps them)."""
        return self.verdict in ("passed", "undecided")


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
    def verdict(self) -> str:
        ran = [p.verdict for p in self.properties if p.verdict != "skipped"]
        for verdict in ("missing", "not_implemented", "timeout", "memory", "crashed", "forbidden", "error", "failed"):
            if verdict in ran:
                return verdict
        return "passed"


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
        properties = [PropertyResult(**prop) for prop in function.get("properties", [])]
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
                verdict="error" if prop.public or include_hidden else "skipped",
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


def render_text(report: Report) -> str:
    """The report as a person reads it: a line per function, then what failed and why."""
    title = "Checked" if report.mode == "check" else "Graded"
    lines = [f"{title} {report.submission} against {report.assignment} (seed {report.seed})", ""]
    for note in report.notes:
        lines.append(f"! {note}")
    if report.notes:
        lines.append("")
    width = max((len(f.name) for f in report.functions), default=10) + 2
    for result in report.functions:
        lines.extend(function_lines(result, report.mode, width))
    lines.append("")
    if report.mode == "grade":
        lines.append(f"Total: {_format_points(report.points)} / {_format_points(report.max_points)}")
    else:
        hold = sum(f.verdict == "passed" for f in report.functions)
        lines.append(f"{hold} of {len(report.functions)} functions pass every public check.")
    return "\n".join(lines) + "\n"


def function_lines(result: FunctionResult, mode: str, width: int = 0) -> list[str]:
    """One function's part of the text report: its points (or its checks), then what failed and why."""
    ran = [p for p in result.properties if p.verdict != "skipped"]
    summary = FUNCTION_SUMMARIES.get(result.verdict)
    if result.note and len({p.verdict for p in ran}) == 1 and not ran[0].passed:
        summary = summary or "not graded"  # one cause for every property: the note says it once
    if mode == "check":
        status = summary or f"{sum(p.passed for p in ran)}/{len(ran)} public properties hold"
    else:
        status = f"{_format_points(result.points)} / {_format_points(result.max_points)}"
        status += f"   {summary}" if summary else ""
    lines = [f"{result.name:<{width}}{status}" if width else f"{result.name}: {status}"]
    if result.note:
        lines.extend("    " + line for line in result.note.splitlines())
    if summary:
        return lines
    for prop in ran:
        if prop.passed:
            continue
        points = "" if mode == "check" else f" (-{_format_points(prop.max_points)})"
        lines.append(f"  x {prop.says}{points}")
        lines.extend("      " + line for line in prop.feedback.splitlines())
    skipped = [p for p in result.properties if p.verdict == "skipped"]
    if skipped and mode == "check" and result.verdict == "passed":
        more = "1 more property is" if len(skipped) == 1 else f"{len(skipped)} more properties are"
        lines.append(f"    ({more} checked when your work is graded)")
    return lines


def to_gradescope(report: Report) -> dict[str, Any]:
    """Gradescope's results.json, one test per property."""
    tests = []
    for result in report.functions:
        for prop in result.properties:
            output = prop.feedback or ("passed" if prop.passed else "")
            if result.note and not prop.passed:
                output = result.note + ("\n" + prop.feedback if prop.feedback else "")
            tests.append(
                {
                    "name": f"{prop.function}: {prop.says}",
                    "score": prop.points,
                    "max_score": prop.max_points,
                    "status": "passed" if prop.passed else "failed",
                    "output": output,
                    "visibility": "visible" if prop.public else "after_due_date",
                    "extra_data": {
                        "assignment": report.assignment,
                        "function": prop.function,
                        "property": prop.property,
                        "verdict": prop.verdict,
                    },
                }
            )
    return {
        "score": report.points,
        "execution_time": round(report.execution_time, 3),
        "output": render_text(report),
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
