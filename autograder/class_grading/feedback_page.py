"""A student's feedback page: one self-contained HTML file per student and assignment.

The page shows the points of every function, each failed property with its smallest counterexample,
what was expected, what came back and the hint, and, for a failed function the catalogue can plot,
the student's curve against the correct one with the range where they differ shaded. Everything is
inline (CSS and SVG): the page opens from a file, offline, and can be mailed or uploaded as it is.

It is rendered from a stored report alone: the curves were sampled while grading
(:mod:`autograder.grading.curves`), so rendering runs no student code. Every text that came from a
submission (error messages, printed values) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

from autograder.exercises import load_assignment
from autograder.grading.catalogue import Assignment, Plot
from autograder.grading.curves import agreement, failing_ranges
from autograder.grading.report import FUNCTION_SUMMARIES, Curve, FunctionResult, PropertyResult, Report, Verdict

STUDENT_COLOUR = "#d62728"
REFERENCE_COLOUR = "#1f77b4"
SHADE_COLOUR = "#fdefc3"

Scale = Callable[[float], float]  # data coordinates to SVG pixels

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
.total { font-size: 1.25rem; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0 2rem; }
th, td { padding: 0.3rem 0.9rem; border-bottom: 1px solid #ddd; text-align: left; }
td.points { text-align: right; font-variant-numeric: tabular-nums; }
tr.full td { color: #2e7d32; }
tr.partial td { color: #b26a00; }
tr.none td { color: #c62828; }
section { border-top: 2px solid #eee; padding-top: 0.5rem; margin-top: 1.5rem; }
h2 { font-size: 1.25rem; }
h2 .points { font-weight: normal; color: #555; margin-left: 0.6rem; }
.note, .notes { background: #fff4e5; border-left: 4px solid #f0a030; padding: 0.4rem 0.8rem; }
.failure { margin: 0.8rem 0; }
.failure h3 { font-size: 1rem; margin: 0.2rem 0; }
.failure h3::before { content: "\\2717  "; color: #c62828; }
pre { background: #f6f8fa; padding: 0.6rem 0.8rem; overflow-x: auto; white-space: pre-wrap; margin: 0.3rem 0; }
.hint { font-style: italic; margin: 0.2rem 0 0; }
.passed { color: #2e7d32; }
figure { margin: 1rem 0; }
figcaption { font-size: 0.95rem; color: #333; max-width: 40rem; }
"""


def render_page(report: Report, student: str, assignment: Assignment | None = None) -> str:
    """The whole feedback page of ``student``'s ``report`` as one HTML document."""
    assignment = assignment or load_assignment(report.assignment)
    title = f"{report.assignment}: feedback for {student}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="total">Total: <strong>{_points(report.points)} / {_points(report.max_points)}</strong></p>',
    ]
    if report.notes:
        parts.append('<div class="notes">' + "".join(f"<p>{escape(note)}</p>" for note in report.notes) + "</div>")
    parts.append(_summary_table(report))
    for result in report.functions:
        parts.append(_function_section(result, assignment.plot_of(result.name)))
    parts.append(f'<p class="footer">Graded with seed {report.seed} by autograder {escape(report.grader_version)}.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _points(value: float) -> str:
    return f"{value:g}"


def _summary_table(report: Report) -> str:
    rows = ["<table><thead><tr><th>function</th><th>points</th><th>verdict</th></tr></thead><tbody>"]
    for result in report.functions:
        level = "full" if result.points == result.max_points else "none" if result.points == 0 else "partial"
        verdict = FUNCTION_SUMMARIES.get(
            result.verdict, "all properties hold" if result.verdict == Verdict.PASSED else ""
        )
        if result.verdict in (Verdict.FAILED, Verdict.ERROR):
            failed = sum(1 for p in result.properties if p.verdict in (Verdict.FAILED, Verdict.ERROR))
            verdict = f"{failed} {'property fails' if failed == 1 else 'properties fail'}"
        rows.append(
            f'<tr class="{level}"><td><a href="#{escape(result.name)}">{escape(result.name)}</a></td>'
            f'<td class="points">{_points(result.points)} / {_points(result.max_points)}</td>'
            f"<td>{escape(verdict)}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _function_section(result: FunctionResult, plot: Plot | None) -> str:
    parts = [
        f'<section id="{escape(result.name)}">',
        f'<h2>{escape(result.name)}<span class="points">{_points(result.points)} / '
        f"{_points(result.max_points)}</span></h2>",
    ]
    if result.note:
        parts.append(f'<p class="note">{escape(result.note)}</p>')
    failed = [p for p in result.properties if not p.passed and p.verdict != Verdict.SKIPPED]
    if not failed:
        parts.append('<p class="passed">Every property holds.</p>')
    one_cause = bool(result.note) and len({p.verdict for p in failed}) == 1 and failed[0].verdict != Verdict.FAILED
    if not one_cause:  # when one cause sank every property, the note above says it once
        parts.extend(_failure(prop) for prop in failed)
    if result.curve is not None and plot is not None:
        parts.append(_figure(result.name, result.curve, plot))
    parts.append("</section>")
    return "\n".join(parts)


def _failure(prop: PropertyResult) -> str:
    lines = prop.feedback.splitlines()
    hints = [line.removeprefix("hint: ") for line in lines if line.startswith("hint: ")]
    details = "\n".join(line for line in lines if not line.startswith("hint: "))
    html = [f'<div class="failure"><h3>{escape(prop.says)} (&minus;{_points(prop.max_points)})</h3>']
    if details:
        html.append(f"<pre>{escape(details)}</pre>")
    html.extend(f'<p class="hint">Hint: {escape(hint)}</p>' for hint in hints)
    html.append("</div>")
    return "".join(html)


# The plot: inline SVG, drawn here so the page needs nothing but a browser.

WIDTH, HEIGHT = 640, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44
MAX_MARKS = 40  # more wrong points than this, and the dashed line shows them well enough


def _figure(name: str, curve: Curve, plot: Plot) -> str:
    ranges = failing_ranges(curve)
    variable = escape(plot.variable)
    if ranges:
        where = ", ".join(f"[{low:g}, {high:g}]" if high > low else f"{low:g}" for low, high in ranges)
        caption = (
            f"Your {escape(name)} (red) against the correct curve (blue) for {variable} from {plot.low:g} to "
            f"{plot.high:g}. They differ where the band is shaded: {variable} in {escape(where)}."
        )
    else:
        caption = (
            f"Your {escape(name)} (red) against the correct curve (blue) for {variable} from {plot.low:g} to "
            f"{plot.high:g}: they agree on this range, so the failure above lies outside it or in what this "
            "plot cannot show (dtype, shape, warnings, the input left unchanged)."
        )
    return f"<figure>{_svg(name, curve, ranges, plot.variable)}<figcaption>{caption}</figcaption></figure>"


def _y_range(curve: Curve) -> tuple[float, float]:
    """The reference's range, widened to show the student's values but never by more than its own span."""
    reference = [v for v in curve.reference if v is not None] or [0.0]
    student = [v for v in curve.student if v is not None] or reference
    low, high = min(reference), max(reference)
    span = max(high - low, 1e-9)
    low = max(min(low, min(student)), low - span)
    high = min(max(high, max(student)), high + span)
    pad = 0.06 * (high - low or 1.0)
    return low - pad, high + pad


def _svg(name: str, curve: Curve, ranges: list[tuple[float, float]], variable: str) -> str:
    x_low, x_high = curve.x[0], curve.x[-1]
    y_low, y_high = _y_range(curve)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * inner_w

    def sy(y: float) -> float:
        return TOP + (y_high - y) / (y_high - y_low) * inner_h

    step = (x_high - x_low) / max(len(curve.x) - 1, 1)
    shades = "".join(
        f'<rect x="{sx(low - step / 2):.1f}" y="{TOP}" width="{max(sx(high + step / 2) - sx(low - step / 2), 2):.1f}" '
        f'height="{inner_h}" fill="{SHADE_COLOUR}"/>'
        for low, high in ranges
    )
    axes = _axes(x_low, x_high, y_low, y_high, sx, sy, variable)
    reference = _polylines(curve.x, curve.reference, sx, sy, REFERENCE_COLOUR, "")
    student = _polylines(curve.x, curve.student, sx, sy, STUDENT_COLOUR, ' stroke-dasharray="7 4"')
    # A wrong value at a few points (a kink) would vanish in the line: mark each of them.
    wrong = [
        (x, y) for x, y, ok in zip(curve.x, curve.student, agreement(curve), strict=True) if not ok and y is not None
    ]
    marks = (
        "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{STUDENT_COLOUR}"/>' for x, y in wrong)
        if len(wrong) <= MAX_MARKS
        else ""
    )
    legend = (
        f'<g font-size="13"><line x1="{LEFT + 14}" y1="{TOP + 14}" x2="{LEFT + 44}" y2="{TOP + 14}" '
        f'stroke="{REFERENCE_COLOUR}" stroke-width="3"/><text x="{LEFT + 50}" y="{TOP + 18}">correct</text>'
        f'<line x1="{LEFT + 14}" y1="{TOP + 34}" x2="{LEFT + 44}" y2="{TOP + 34}" stroke="{STUDENT_COLOUR}" '
        f'stroke-width="3" stroke-dasharray="7 4"/><text x="{LEFT + 50}" y="{TOP + 38}">your {escape(name)}</text></g>'
    )
    clip = f"clip-{escape(name)}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="plot of {escape(name)} against the correct curve">'
        f'<defs><clipPath id="{clip}"><rect x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}"/>'
        "</clipPath></defs>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>{shades}{axes}'
        f'<g clip-path="url(#{clip})" fill="none" stroke-width="2.5">{reference}{student}</g>'
        f'<g clip-path="url(#{clip})">{marks}</g>{legend}</svg>'
    )


def _polylines(xs: list[float], ys: list[float | None], sx: Scale, sy: Scale, colour: str, extra: str) -> str:
    """One polyline per run of finite values (NaN and infinity break the line)."""
    runs: list[list[str]] = [[]]
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            runs.append([])
        else:
            runs[-1].append(f"{sx(x):.1f},{sy(y):.1f}")
    return "".join(f'<polyline points="{" ".join(run)}" stroke="{colour}"{extra}/>' for run in runs if len(run) > 1)


def _ticks(low: float, high: float, count: int = 6) -> list[float]:
    """About ``count`` round numbers between ``low`` and ``high``."""
    raw = (high - low) / count
    magnitude = 10.0 ** (math.floor(math.log10(raw)) if raw > 0 else 0)
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=magnitude * 10)
    first = -(-low // step) * step
    ticks = []
    value = first
    while value <= high + 1e-12:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _axes(x_low: float, x_high: float, y_low: float, y_high: float, sx: Scale, sy: Scale, variable: str) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [
        f'<g stroke="#999" stroke-width="1"><line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/></g><g font-size="12" fill="#444">',
    ]
    for x in _ticks(x_low, x_high):
        parts.append(
            f'<line x1="{sx(x):.1f}" y1="{bottom}" x2="{sx(x):.1f}" y2="{bottom + 5}" stroke="#999"/>'
            f'<text x="{sx(x):.1f}" y="{bottom + 18}" text-anchor="middle">{x:g}</text>'
        )
    for y in _ticks(y_low, y_high, 5):
        parts.append(
            f'<line x1="{LEFT - 5}" y1="{sy(y):.1f}" x2="{right}" y2="{sy(y):.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 8}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>'
        )
    parts.append(
        f'<text x="{(LEFT + right) / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">{escape(variable)}</text></g>'
    )
    return "".join(parts)
