"""Small matplotlib helpers shared by the course notebooks.

These helpers draw the pictures; they are not the lesson. Each returns the
:class:`~matplotlib.figure.Figure` it made so a notebook can save or tweak it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

ArrayFn = Callable[[np.ndarray], np.ndarray]

# Distinct dashes keep coinciding curves (relu, leaky relu for z > 0) visible.
_LINESTYLES = ("-", "--", "-.", ":")


def plot_functions_and_derivatives(
    z: np.ndarray,
    functions: Mapping[str, tuple[ArrayFn, ArrayFn]],
    *,
    title: str | None = None,
) -> Figure:
    """Plot several elementwise functions and their derivatives side by side.

    Args:
        z: 1-D grid of inputs, shape ``(m,)``.
        functions: maps a label to ``(f, df)``, two elementwise callables
            taking and returning arrays of shape ``(m,)``.
        title: optional title for the whole figure.

    Returns:
        A figure with two axes: ``f(z)`` on the left, ``df/dz`` on the right.
    """
    z = np.asarray(z)
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for i, (label, (f, df)) in enumerate(functions.items()):
        style = _LINESTYLES[i % len(_LINESTYLES)]
        ax_f.plot(z, f(z), linestyle=style, linewidth=2, label=label)
        ax_d.plot(z, df(z), linestyle=style, linewidth=2, label=label)
    for ax, name, heading in ((ax_f, "$g(z)$", "the activation"), (ax_d, "$g'(z)$", "its derivative")):
        ax.axhline(0.0, color="0.7", linewidth=0.8)
        ax.axvline(0.0, color="0.7", linewidth=0.8)
        ax.set_xlabel("$z$")
        ax.set_ylabel(name)
        ax.set_title(heading)
        ax.grid(alpha=0.3)
        ax.legend()
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_curves_vs_depth(
    depths: np.ndarray,
    curves: Mapping[str, np.ndarray],
    *,
    ylabel: str = "gradient factor",
    title: str | None = None,
    logy: bool = True,
) -> Figure:
    """Plot one curve per label against network depth (log scale by default).

    Args:
        depths: 1-D array of depths, shape ``(L,)``.
        curves: maps a label to values at each depth, shape ``(L,)``.
            Zeros are fine with ``logy`` (they are simply not drawn).
        ylabel: label of the vertical axis.
        title: optional axes title.
        logy: use a logarithmic vertical axis.

    Returns:
        A figure with a single axes.
    """
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for label, values in curves.items():
        ax.plot(depths, values, marker="o", label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("depth (number of layers)")
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig
