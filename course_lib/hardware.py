"""What GPUs can do on paper: NVIDIA's published peak rates, to set beside a rate measured on this machine.

Notebook 05 measures how fast this machine multiplies matrices. Where it has no GPU, there is nothing to
measure one with, so the notebook sets the measured CPU rate beside the **published** peaks of three common
NVIDIA data-centre GPUs. These are vendor figures, not measurements: a peak counts every arithmetic unit
busy on every clock cycle, which real programs approach but do not reach.

Sources (NVIDIA's product datasheets, dense figures, that is without 2:4 structured sparsity, which NVIDIA
lists at twice these rates for the Tensor Cores):

* NVIDIA T4 Tensor Core GPU datasheet: single precision (FP32) 8.1 TFLOPS; mixed precision (FP16 products,
  FP32 sums) 65 TFLOPS.
* NVIDIA A100 Tensor Core GPU datasheet: FP32 19.5 TFLOPS; BFLOAT16 Tensor Core 312 TFLOPS.
* NVIDIA H100 Tensor Core GPU datasheet, H100 SXM: FP32 67 TFLOPS; BFLOAT16 Tensor Core 1,979 TFLOPS with
  sparsity, so 989 TFLOPS dense.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PUBLISHED_GPU_PEAKS", "PublishedPeak", "plot_rates", "published_rates"]


@dataclass(frozen=True)
class PublishedPeak:
    """One GPU's peak rates as its maker publishes them, in TFLOP/s (10**12 floating-point operations/s)."""

    name: str
    fp32_tflops: float  # float32 arithmetic on the ordinary cores
    tensor_tflops: float  # 16-bit matrix products on the Tensor Cores, dense
    tensor_format: str  # which 16-bit format that figure is for
    source: str


PUBLISHED_GPU_PEAKS: tuple[PublishedPeak, ...] = (
    PublishedPeak("NVIDIA T4", 8.1, 65.0, "FP16", "NVIDIA T4 Tensor Core GPU datasheet"),
    PublishedPeak("NVIDIA A100", 19.5, 312.0, "BF16", "NVIDIA A100 Tensor Core GPU datasheet"),
    PublishedPeak(
        "NVIDIA H100 SXM", 67.0, 989.0, "BF16", "NVIDIA H100 Tensor Core GPU datasheet (1,979 with sparsity)"
    ),
)


def published_rates(peaks: tuple[PublishedPeak, ...] = PUBLISHED_GPU_PEAKS) -> dict[str, float]:
    """``{label: FLOP/s}``: each GPU's FP32 and 16-bit Tensor Core peak, labelled as published figures."""
    rates = {}
    for peak in peaks:
        rates[f"{peak.name}, FP32 (published peak)"] = peak.fp32_tflops * 1e12
        rates[f"{peak.name}, {peak.tensor_format} Tensor Cores (published peak)"] = peak.tensor_tflops * 1e12
    return rates


def plot_rates(measured: Mapping[str, float], published: Mapping[str, float], *, title: str | None = None) -> Any:
    """Horizontal bars of FLOP/s on a log scale: measured rates solid, published peaks hatched and pale.

    Args:
        measured: ``{label: FLOP/s}`` measured on this machine.
        published: ``{label: FLOP/s}`` from vendors' datasheets (:func:`published_rates`).
        title: optional axes title.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    labels = [*measured, *published]
    values = [*measured.values(), *published.values()]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.4), constrained_layout=True)
    rows = range(len(labels))[::-1]  # the first label at the top
    bars = ax.barh(list(rows), values, color=["C0"] * len(measured) + ["0.85"] * len(published))
    for bar in bars[len(measured) :]:
        bar.set_hatch("//")
        bar.set_edgecolor("0.45")
    for row, value in zip(rows, values, strict=True):
        ax.text(value * 1.15, row, _rate_text(value), va="center", fontsize=8)
    ax.set_yticks(list(rows), labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(min(values) / 3, max(values) * 12)
    ax.set_xlabel("floating-point operations per second (log scale)")
    ax.legend(
        handles=[Patch(color="C0", label="measured here"), Patch(facecolor="0.85", hatch="//", label="published peak")],
        loc="upper right",
        fontsize=8,
    )
    if title is not None:
        ax.set_title(title)
    ax.grid(alpha=0.3, axis="x", which="both")
    return fig


def _rate_text(flops: float) -> str:
    if flops >= 1e12:
        return f"{flops / 1e12:.3g} TFLOP/s"
    return f"{flops / 1e9:.3g} GFLOP/s"
