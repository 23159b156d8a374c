"""Each assignment's planted bugs, ``tests/submissions/<id>/bugs.py``, loaded under a name of its own.

Every assignment's file is called ``bugs.py``; imported as ``bugs`` from several test modules in one
pytest run, the first one loaded would answer for all of them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


def load_bugs(assignment_id: str) -> ModuleType:
    """``tests/submissions/<assignment_id>/bugs.py`` as the module ``bugs_<assignment_id>`` (loaded once)."""
    name = f"bugs_{assignment_id}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SUBMISSIONS / assignment_id / "bugs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module
