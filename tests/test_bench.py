"""The benchmarks' quick modes run and print their figures, so that `bench/` cannot rot.

These assert no speed: a busy machine must never fail CI. The figures themselves live in BENCHMARKS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[1]

# Each benchmark's quick mode, and a line its output must contain.
QUICK_RUNS = {
    "feedback_latency.py": "| 02_activations | correct (solution)",
    "timing_reliability.py": "false alarms:",
    "sandbox_overhead.py": "isolation on vs off",
    "class_throughput.py": "throughput ratio, grade-batch over nbgrader",
    "grade_class.py": "speed-up, jobs",
    "notebook_runtime.py": "| 02_activations |",
    # training_speed.py: tests/test_training_loop_bench.py checks each of its figures.
}


@pytest.mark.parametrize("script", sorted(QUICK_RUNS))
def test_quick_mode_prints_its_figures(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick"], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert QUICK_RUNS[script] in done.stdout, done.stdout
