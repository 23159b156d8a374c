"""The shared strategies keep the bounds they are given: a property that asks for values up to ``max_abs``
never sees a larger one, whichever scale Hypothesis draws (small integers, moderate values, extremes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.exercises import strategies as draw


@pytest.mark.parametrize("max_abs", [0.5, 2.0, 30.0, 1e4])
def test_seeded_arrays_stay_within_max_abs(max_abs: float) -> None:
    @settings(max_examples=60, deadline=None, database=None)
    @given(draw.seeded_arrays(2, max_abs=max_abs), draw.logits_and_labels(max_abs=max_abs))
    def bounded(arrays: tuple[np.ndarray, ...], logits_and_labels: tuple[np.ndarray, np.ndarray]) -> None:
        for values in (*arrays, logits_and_labels[0]):
            assert np.all(np.abs(values.astype(np.float64)) <= max_abs), (max_abs, values)

    bounded()


@pytest.mark.parametrize("scale", draw.SCALES)
def test_each_scale_keeps_max_abs(scale: str) -> None:
    @settings(max_examples=30, deadline=None, database=None)
    @given(st.integers(0, 2**32 - 1), st.sampled_from([0.25, 1.0, 5.0]))
    def bounded(seed: int, max_abs: float) -> None:
        values = draw.seeded_values(np.random.default_rng(seed), (4, 5), scale, max_abs)
        assert np.all(np.abs(values) <= max_abs)

    bounded()
