"""The training-speed benchmark runs in its quick mode and prints its side-by-side figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.bench, pytest.mark.training_loop]

ROOT = Path(__file__).resolve().parents[1]


def test_training_speed_quick_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "training_speed.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    for figure in (
        "reference loop (in-memory batches)",
        "scikit-learn MLPClassifier",
        "MLPClassifier time / reference time",
        "DataLoader time / make_loader time",
        "samples/s",
    ):
        assert figure in done.stdout, figure
