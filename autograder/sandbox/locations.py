"""Where the grader keeps its own files and finds the course: light enough for the thin check client."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_VARIABLE = "AUTOGRADER_CACHE"
COURSE_ROOT_VARIABLE = "AUTOGRADER_COURSE_ROOT"


def cache_folder() -> Path:
    """``$AUTOGRADER_CACHE``, else ``$XDG_CACHE_HOME/autograder``, else ``~/.cache/autograder``."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autograder"


def find_course_root() -> Path | None:
    """``$AUTOGRADER_COURSE_ROOT``, else the checkout this package was installed from, else none."""
    configured = os.environ.get(COURSE_ROOT_VARIABLE)
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "solutions").is_dir():
        return checkout
    return None
