"""``plt``: matplotlib.pyplot, imported the first time a notebook cell draws with it.

The autograder rebuilds a notebook's functions in fresh worker processes, and runs every top-level
import of the notebook there. ``import matplotlib.pyplot as plt`` costs each of those processes about
a second; ``from course_lib.lazy_pyplot import plt`` costs nothing until a cell calls ``plt.subplots``
or any other pyplot function, which only happens in the notebook itself.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["plt"]


class _LazyPyplot:
    """Stands for ``matplotlib.pyplot``: the first attribute looked up imports it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("matplotlib.pyplot"), name)

    def __repr__(self) -> str:
        return "<matplotlib.pyplot, imported on first use>"


plt = _LazyPyplot()
