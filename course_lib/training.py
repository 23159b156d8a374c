"""What the training-loop notebook needs besides the lesson: its data sets, a progress bar and its plots.

* :func:`digits_split`: scikit-learn's 8x8 handwritten digits (shipped with scikit-learn, nothing is
  downloaded), scaled to [0, 1] and split into training, validation and test sets.
* :func:`teacher_dataset`: a synthetic classification task whose labels come from a fixed, randomly
  initialised deep "teacher" network. The true decision boundary is a deep network's, so a linear model
  plateaus while a large enough network keeps improving as labelled data grows: the capstone's point.
* :func:`epoch_bar`: a progress bar over epochs (tqdm) that a training loop can switch off.
* :func:`plot_accuracy_vs_size`, :func:`plot_accuracy_by_model` and :func:`plot_loss_curves`: the capstone's
  pictures.

Inputs come back as float32 (what PyTorch layers expect) and labels as int64 (what
``torch.nn.CrossEntropyLoss`` expects). Everything is deterministic from its seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "TeacherNetwork",
    "digits_split",
    "epoch_bar",
    "plot_accuracy_by_model",
    "plot_accuracy_vs_size",
    "plot_loss_curves",
    "teacher_dataset",
]

# Inputs are drawn in blocks of this many rows, each from its own seeded stream, so the first n
# examples of a large data set are exactly the data set of size n (nested training sets).
_BLOCK = 1 << 16


def digits_split(
    seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 1797 digits of ``sklearn.datasets.load_digits``, shuffled with ``seed`` and split three ways.

    Returns ``(x_train, y_train, x_val, y_val, x_test, y_test)``: inputs ``(n, 64)`` float32 (the 8x8
    images flattened, each pixel standardised with the training set's mean and standard deviation, as
    scikit-learn's ``StandardScaler`` does), labels ``(n,)`` int64 in 0 … 9.
    """
    from sklearn.datasets import load_digits

    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be non-negative and sum to less than 1")
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    n_val = int(round(val_fraction * len(x)))
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    x = ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)  # pixels that never vary stay at 0
    return x[train], y[train], x[val], y[val], x[test], y[test]


@dataclass(frozen=True)
class TeacherNetwork:
    """A fixed random ReLU network that labels inputs: ``label(x) = argmax(f(x))``.

    ``f`` has ``depth`` hidden layers of ``width`` ReLU units, weights ``W ~ N(0, gain**2 / d_in)`` and
    biases ``b ~ N(0, bias_std**2)``, all drawn from ``teacher_seed``. Its output layer is rescaled and
    shifted on a fixed reference sample so that every class is common (no class below about 15%).
    """

    d_in: int = 10
    n_classes: int = 4
    width: int = 64
    depth: int = 3
    gain: float = 1.5
    bias_std: float = 0.5
    teacher_seed: int = 0

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The teacher's layers ``[(W, b), …]``, ``W: (d_in, d_out)``, first layer first (float64)."""
        return _teacher_weights(self)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``f(x)`` for ``x: (n, d_in)``: shape ``(n, n_classes)``, float64."""
        return _forward(self.weights(), np.asarray(x, dtype=np.float64))

    def labels(self, x: np.ndarray) -> np.ndarray:
        """The teacher's class for each row of ``x: (n, d_in)``: shape ``(n,)``, int64."""
        return np.asarray(np.argmax(self.logits(x), axis=1), dtype=np.int64)


_WEIGHTS: dict[TeacherNetwork, list[tuple[np.ndarray, np.ndarray]]] = {}


def _teacher_weights(teacher: TeacherNetwork) -> list[tuple[np.ndarray, np.ndarray]]:
    if teacher not in _WEIGHTS:
        rng = np.random.default_rng(teacher.teacher_seed)
        layers = []
        d = teacher.d_in
        for _ in range(teacher.depth):
            w = rng.standard_normal((d, teacher.width)) * teacher.gain / np.sqrt(d)
            layers.append((w, rng.standard_normal(teacher.width) * teacher.bias_std))
            d = teacher.width
        w_out = rng.standard_normal((d, teacher.n_classes)) / np.sqrt(d)
        reference = _forward(
            layers + [(w_out, np.zeros(teacher.n_classes))], rng.standard_normal((20_000, teacher.d_in))
        )
        scale = reference.std()
        # Centre each class's logit on the reference sample: otherwise one class can swallow the rest.
        layers.append((w_out / scale, -reference.mean(axis=0) / scale))
        _WEIGHTS[teacher] = layers
    return _WEIGHTS[teacher]


def _forward(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    h = x
    for w, b in layers[:-1]:
        h = np.maximum(h @ w + b, 0.0)
    w, b = layers[-1]
    return np.asarray(h @ w + b)


def teacher_dataset(n: int, seed: int, teacher: TeacherNetwork | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` examples labelled by ``teacher`` (the default :class:`TeacherNetwork` if ``None``).

    Inputs are standard normal, ``x: (n, d_in)`` float32; labels ``y: (n,)`` int64 in
    ``0 … n_classes - 1``. The same ``seed`` gives the same examples, and a larger ``n`` extends a smaller
    one (its first ``n`` rows are the smaller data set), so a learning curve trains on nested sets. Use a
    different seed for a test set. Memory is linear in ``n`` (labels are computed block by block), so
    millions of examples are fine.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    teacher = teacher or TeacherNetwork()
    x = np.empty((n, teacher.d_in), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        block = np.random.default_rng([seed, start // _BLOCK]).standard_normal((_BLOCK, teacher.d_in))
        x[start:stop] = block[: stop - start]
        y[start:stop] = teacher.labels(x[start:stop])
    return x, y


def epoch_bar(epochs: int, enabled: bool = True, desc: str = "epochs") -> Any:
    """``range(epochs)`` with a progress bar (tqdm; a widget in Jupyter) when ``enabled``.

    Call ``bar.set_postfix(val_loss=…)`` to show numbers beside it. The bar writes to the standard error
    stream of the moment it is made; disabled, it is a silent ``range``.
    """
    from tqdm.auto import trange

    return trange(epochs, desc=desc, disable=not enabled, leave=True)


def plot_accuracy_vs_size(
    sizes: Sequence[int], accuracies: Mapping[str, Sequence[float]], *, title: str | None = None
) -> Any:
    """Test accuracy against training-set size (log scale), one curve per model.

    Args:
        sizes: the training-set sizes, shape ``(m,)``.
        accuracies: maps a model's name to its test accuracy at each size, shape ``(m,)``.
        title: optional axes title.

    Returns:
        The matplotlib figure.
    """
    curves = {label: (np.asarray(sizes), np.asarray(values)) for label, values in accuracies.items()}
    fig, ax = _line_plot(curves, "number of labelled training examples (log scale)", "test accuracy", title, marker="o")
    ax.set_xscale("log")
    return fig


def plot_accuracy_by_model(panels: Mapping[str, Mapping[str, Sequence[float]]], *, title: str | None = None) -> Any:
    """Test accuracy of each model, one dot per training set drawn, one panel per setting side by side.

    Args:
        panels: maps a panel's title (say, "300 examples") to ``{model: [accuracy on each draw]}``. A model
            missing from a panel gets the words "not run" in its row there.
        title: optional title of the whole figure.

    Returns:
        The matplotlib figure: models down the shared vertical axis, accuracy along the shared horizontal
        one, a short bar at each model's mean.
    """
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(name for results in panels.values() for name in results))
    rows = {name: len(models) - 1 - i for i, name in enumerate(models)}  # the first model at the top
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(4 * len(panels) + 2.5, 0.45 * len(models) + 1.6),
        sharex=True,
        sharey=True,
        constrained_layout=True,
        squeeze=False,
    )
    values = [v for results in panels.values() for vs in results.values() for v in vs]
    low, high = min(values), max(values)
    for ax, (panel, results) in zip(axes[0], panels.items(), strict=True):
        for i, name in enumerate(models):
            row = rows[name]
            if name not in results:
                ax.text((low + high) / 2, row, "not run", ha="center", va="center", fontsize=8, color="0.4")
                continue
            accuracies = np.asarray(results[name], dtype=float)
            ax.plot(accuracies, np.full(len(accuracies), row), "o", color=f"C{i}", alpha=0.7, ms=5)
            ax.plot([accuracies.mean()] * 2, [row - 0.3, row + 0.3], color=f"C{i}", linewidth=2)
        ax.set_title(panel)
        ax.set_xlabel("test accuracy")
        ax.grid(alpha=0.3)
    margin = 0.05 * (high - low)
    axes[0][0].set_xlim(low - margin, high + margin)
    axes[0][0].set_yticks(list(rows.values()), list(rows))
    axes[0][0].set_ylim(-0.6, len(models) - 0.4)
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_loss_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    ylabel: str,
    xlabel: str = "epoch",
    title: str | None = None,
    logy: bool = True,
) -> Any:
    """Losses against time (epochs from 1), one curve per label (log scale by default).

    ``ylabel`` says which loss the curves are (training, validation, both): it has no default, because a
    figure whose axis names the wrong loss misleads.
    """
    points = {label: (np.arange(1, len(values) + 1), np.asarray(values)) for label, values in curves.items()}
    fig, ax = _line_plot(points, xlabel, ylabel + (" (log scale)" if logy else ""), title)
    if logy:
        ax.set_yscale("log")
    return fig


def _line_plot(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], xlabel: str, ylabel: str, title: str | None, marker: str = ""
) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for label, (x, y) in curves.items():
        ax.plot(x, y, marker=marker or None, linewidth=2, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig, ax
