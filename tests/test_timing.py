"""The timing verdict: decided only when the ratio is on one side of the limit beyond the noise measured.

These drive :class:`autograder.grading.timing.TimingResult` with chosen times; grading tests time real workers
(a Python loop fails, a correct solution passes) and ``bench/timing_reliability.py`` measures how often
the verdict is right on a busy machine.
"""

from __future__ import annotations

import pytest

from autograder.grading.timing import TimingResult, _net

MS = 1e-3


def result(student: list[float], reference: list[float], overheads: list[float]) -> TimingResult:
    return TimingResult(
        _net([t * MS for t in student], [o * MS for o in overheads]),
        _net([t * MS for t in reference], [o * MS for o in overheads]),
        len(student),
    )


def test_the_overhead_is_removed_from_both_sides_before_the_ratio() -> None:
    """A large result costs both sides the same to move: 12 ms and 6 ms with 4 ms of it is 8 / 2, not 12 / 6."""
    timed = result([12, 12.1, 13], [6, 6.1, 7], [4, 4.05, 5])
    assert timed.ratio == pytest.approx(4.0)
    assert timed.verdict(3.0) == "failed"


def test_twice_the_reference_s_work_passes_a_limit_of_three() -> None:
    timed = result([20.5, 21, 30], [10, 10.4, 25], [0.5, 0.6, 0.7])
    assert timed.ratio == pytest.approx(20 / 9.5)
    assert timed.verdict(3.0) == "passed"


def test_a_ratio_near_the_limit_with_noisy_times_is_undecided_not_a_coin_flip() -> None:
    timed = result([29, 36], [10, 11], [0.5, 0.6])
    low, high = timed.interval
    assert low < 3.0 < high
    assert timed.verdict(3.0) == "undecided"


def test_the_spread_of_the_overhead_widens_the_interval() -> None:
    steady = result([30, 30.2], [10, 10.1], [2, 2.01])
    shaky = result([30, 30.2], [10, 10.1], [2, 6])
    assert shaky.interval[0] < steady.interval[0]


def test_a_single_round_decides_only_when_no_noise_could_explain_it() -> None:
    """After one round least, best and most coincide; the caller decides only on a hopeless ratio."""
    timed = result([300], [2], [0.5])
    assert timed.student[0] == timed.student[1] == timed.student[2]
    assert timed.verdict(3.0) == "failed"


def test_a_side_faster_than_its_overhead_counts_as_one_microsecond_not_as_negative() -> None:
    timed = result([1.0, 1.1], [0.4, 0.5], [0.5, 0.6])
    assert timed.reference[0] > 0
