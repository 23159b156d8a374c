"""Shared fixtures: the course root, and grading helpers that run the real grader end to end."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

# The shared grading tests' assertions say what differed, whichever test module imports them first.
pytest.register_assert_rewrite("bug_suite")

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"

# nbgrader runs helper commands (alembic) found on PATH: use the ones next to this interpreter.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
os.environ["AUTOGRADER_COURSE_ROOT"] = str(ROOT)
os.environ.pop("AUTOGRADER_SEED", None)
# Every check grades in its own process, so that no test leaves a warm service behind; tests/test_service.py
# starts and stops its own.
os.environ["AUTOGRADER_SERVICE"] = "off"
# A fresh example bank per test session: hermetic, yet each property's examples are drawn only once.
os.environ["AUTOGRADER_CACHE"] = tempfile.mkdtemp(prefix="autograder-test-cache-")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
