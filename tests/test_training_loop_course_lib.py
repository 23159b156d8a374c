"""What notebook 05 imports from course_lib: the digits split, the teacher-network data set, the progress bar."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from course_lib.training import TeacherNetwork, digits_split, epoch_bar, teacher_dataset

pytestmark = pytest.mark.training_loop


def test_digits_are_split_three_ways_without_overlap_and_standardised() -> None:
    x_train, y_train, x_val, y_val, x_test, y_test = digits_split(seed=0)
    assert [len(a) for a in (x_train, x_val, x_test)] == [1079, 359, 359]
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64 and x_train.shape[1] == 64
    rows = {row.tobytes() for row in x_train} | {row.tobytes() for row in x_val} | {row.tobytes() for row in x_test}
    assert len(rows) > 1790  # a handful of digits in load_digits are exact duplicates of others
    assert np.allclose(x_train.mean(axis=0), 0, atol=1e-5)
    assert set(np.unique(np.concatenate([y_train, y_val, y_test]))) == set(range(10))
    again = digits_split(seed=0)
    assert all(
        np.array_equal(a, b) for a, b in zip(again, (x_train, y_train, x_val, y_val, x_test, y_test), strict=True)
    )


def test_teacher_data_are_deterministic_nested_and_balanced() -> None:
    x, y = teacher_dataset(3000, seed=5)
    x_small, y_small = teacher_dataset(1000, seed=5)
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (3000, 10)
    assert np.array_equal(x[:1000], x_small) and np.array_equal(y[:1000], y_small)
    assert not np.array_equal(teacher_dataset(1000, seed=6)[0], x_small)
    shares = np.bincount(y, minlength=4) / len(y)
    assert shares.min() > 0.15, shares


def test_teacher_data_span_blocks_and_the_labels_are_the_teachers() -> None:
    n = (1 << 16) + 10  # past the first block of rows
    x, y = teacher_dataset(n, seed=0)
    assert np.array_equal(y, TeacherNetwork().labels(x))
    assert not np.array_equal(x[1 << 16 :], x[:10])  # the second block is not a copy of the first


def test_a_linear_model_cannot_imitate_the_teacher() -> None:
    """The capstone's premise: the classes are not linearly separable, so logistic regression plateaus."""
    from sklearn.linear_model import LogisticRegression

    x, y = teacher_dataset(20_000, seed=0)
    x_test, y_test = teacher_dataset(5_000, seed=1)
    accuracy = LogisticRegression(max_iter=1000).fit(x, y).score(x_test, y_test)
    assert 0.4 < accuracy < 0.75


def test_epoch_bar_is_a_range_that_shows_a_bar_only_when_enabled() -> None:
    for enabled in (True, False):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert list(epoch_bar(3, enabled=enabled)) == [0, 1, 2]
        assert bool(err.getvalue().strip()) == enabled


def test_plot_loss_curves_names_the_loss_it_was_given() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.training import plot_loss_curves

    with pytest.raises(TypeError):
        plot_loss_curves({"validation": [1.0, 0.5]})  # type: ignore[call-arg]  # the axis must be named
    fig = plot_loss_curves({"training": [1.0, 0.5], "validation": [1.2, 0.9]}, ylabel="cross-entropy loss")
    assert fig.axes[0].get_ylabel() == "cross-entropy loss (log scale)"
    plt.close(fig)


def test_accuracy_by_model_marks_the_models_a_panel_did_not_run() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.training import plot_accuracy_by_model

    fig = plot_accuracy_by_model({"300": {"a": [0.6, 0.7], "b": [0.65]}, "100000": {"a": [0.9]}})
    assert [ax.get_title() for ax in fig.axes] == ["300", "100000"]
    assert [t.get_text() for t in fig.axes[1].texts] == ["not run"]
    assert all(ax.get_xlabel() == "test accuracy" for ax in fig.axes)
    plt.close(fig)


def test_published_gpu_peaks_are_labelled_as_published_and_dense() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.hardware import PUBLISHED_GPU_PEAKS, plot_rates, published_rates

    rates = published_rates()
    assert all(label.endswith("(published peak)") for label in rates)
    assert rates["NVIDIA H100 SXM, BF16 Tensor Cores (published peak)"] == 989e12  # 1,979 with sparsity, halved
    assert rates["NVIDIA A100, FP32 (published peak)"] == 19.5e12
    assert all(peak.source.startswith("NVIDIA") for peak in PUBLISHED_GPU_PEAKS)
    fig = plot_rates({"this CPU": 5e10}, rates)
    bars = fig.axes[0].patches
    assert [bar.get_hatch() for bar in bars] == [None] + ["//"] * len(rates)  # measured solid, published hatched
    assert "log scale" in fig.axes[0].get_xlabel()
    plt.close(fig)
