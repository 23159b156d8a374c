"""The timing verdict: decided only when the ratio is on one side of the limit beyond the noise measured.

These drive :class:`autograder.grading.timing.TimingResult` with chosen times; grading tests time real workers
(a Python loop fails, a correct solution passes) and ``bench/timing_reliability.py`` measures how often
the verdict is right on a busy machine.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder.grading.checks import PropertyFailure
from autograder.grading.timing import TimingResult, _net, _same_answer
from autograder.sandbox.callables import DIGEST_SAMPLE, digest

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


def test_a_large_answer_comes_back_as_its_shape_a_sample_and_its_mean_in_its_own_dtype() -> None:
    z = np.linspace(-1, 1, 4096, dtype=np.float32).reshape(64, 64)
    shape, sample, mean = digest(z)
    assert shape.tolist() == [64, 64]
    assert sample.dtype == mean.dtype == np.float32 and sample.size == DIGEST_SAMPLE
    assert mean == pytest.approx(float(np.mean(np.abs(z))), rel=1e-6)
    small = np.ones(3)
    assert digest((small, 2.0, [z]))[0] is small and digest((small, 2.0))[1] == 2.0  # small answers come back whole


def test_a_fast_wrong_answer_shows_in_its_digest() -> None:
    """What timing compares: a right answer's digest agrees with the reference's; zeros, one wrong sampled
    element, a wrong scale or a wrong shape do not."""
    want = np.sin(np.arange(1 << 16, dtype=np.float64))
    _same_answer("f", digest(want + 1e-12), digest(want))
    for wrong in (np.zeros_like(want), want * 1.01, want.reshape(256, 256)):
        with pytest.raises(PropertyFailure):
            _same_answer("f", digest(wrong), digest(want))
    one_off = want.copy()
    one_off[0] += 1.0
    with pytest.raises(PropertyFailure):
        _same_answer("f", digest(one_off), digest(want))
