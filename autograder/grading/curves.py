"""Sampling a failed function beside the reference, for the plot on a feedback page.

Student code runs only in sandbox workers, so the values a page plots are taken while grading, in the
worker that graded the function, and carried in the report (:class:`autograder.grading.report.Curve`). The
page is rendered later from the gradebook without running anything.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from autograder.grading.catalogue import Plot
from autograder.grading.checks import as_array
from autograder.grading.report import Curve, finite_or_none

if TYPE_CHECKING:
    from autograder.grading.calls import Calls


def grid(plot: Plot) -> np.ndarray:
    """``plot.samples`` evenly spaced float64 points from ``plot.low`` to ``plot.high``, shape ``(samples,)``."""
    return np.linspace(plot.low, plot.high, plot.samples, dtype=np.float64)


def sample_curve(plot: Plot, calls: Calls) -> Curve | None:
    """The student's and the reference's values on the plot's grid, or ``None`` for a result of another shape.

    Raises what ``calls.student`` raises when the student's function raises, hangs or crashes.
    """
    x = grid(plot)
    student = as_array(calls.student(x), plot.function)
    reference = np.asarray(calls.reference(x), dtype=np.float64)
    if student.shape != x.shape or reference.shape != x.shape:
        return None
    with np.errstate(all="ignore"):
        values = student.astype(np.float64)
    return Curve(x=[float(v) for v in x], student=finite_or_none(values), reference=finite_or_none(reference))


def agreement(curve: Curve, rtol: float = 1e-4, atol: float = 1e-6) -> list[bool]:
    """For each grid point, whether the student's value is the reference's (NaN and inf must match too)."""
    return [_close(got, want, rtol, atol) for got, want in zip(curve.student, curve.reference, strict=True)]


def failing_ranges(curve: Curve) -> list[tuple[float, float]]:
    """The intervals of ``x`` where the student's curve leaves the reference (or is not finite).

    Each interval runs from the first to the last grid point of a run of disagreeing points; a single
    disagreeing point (a wrong value at a kink) is an interval of width 0.
    """
    ranges: list[tuple[float, float]] = []
    start: float | None = None
    previous = 0.0
    for x, ok in zip(curve.x, agreement(curve), strict=True):
        if not ok and start is None:
            start = x
        if ok and start is not None:
            ranges.append((start, previous))
            start = None
        previous = x
    if start is not None:
        ranges.append((start, previous))
    return ranges


def _close(got: float | None, want: float | None, rtol: float, atol: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return math.isclose(got, want, rel_tol=rtol, abs_tol=atol)
