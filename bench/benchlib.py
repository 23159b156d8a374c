"""What every benchmark script shares: where the course is, what machine ran it, and a plain table.

The scripts in ``bench/`` print figures, they never fail because a machine is busy; ``BENCHMARKS.md`` keeps the
latest figures with the machine and the command that produced them.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def machine_summary() -> str:
    """One line naming the machine and the versions that move the figures."""
    import numpy

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import torch

        torch_version = str(torch.__version__)
    except ImportError:
        torch_version = "absent"
    today = datetime.date.today().isoformat()
    return (
        f"{today} · {cpu} · {cores} cores · Python {platform.python_version()} · NumPy {numpy.__version__}"
        f" · PyTorch {torch_version}"
    )


def correct_source(assignment_id: str) -> str:
    """The correct submission the tests grade (``tests/bug_suite.py``): the reference's code, then the functions
    of ``tests/submissions/<id>/correct.py``, which a student wrote differently."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    from bug_suite import BugSuite

    return str(BugSuite(assignment_id).correct_source)


def planted_bugs(assignment_id: str) -> list[tuple[str, str]]:
    """``(name, source)`` of the classic mistakes kept in the tests for ``assignment_id`` (none if absent)."""
    path = ROOT / "tests" / "submissions" / assignment_id / "bugs.py"
    if not path.exists():
        return []
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    from bug_files import load_bugs

    module = load_bugs(assignment_id)
    bugs: dict[str, Any] = module.BUGS
    correct = correct_source(assignment_id)
    # A bug is its source, or edits of the correct function that it applies itself.
    return [(name, bug.definition(correct)) for name, bug in bugs.items()]


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, so that a run can be pasted into BENCHMARKS.md as it is."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        print("| " + " | ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    sys.stdout.flush()
