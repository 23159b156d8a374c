"""What a worker runs of a submission: its top-level code, cut into chunks that each define some names.

The grader reads a submission into chunks (:mod:`autograder.grading.submission`); a worker runs them in
order, and the launcher leaves out one that kills or hangs its worker (:mod:`autograder.sandbox.launcher`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """A top-level statement group: its source, where it came from, and the names it defines."""

    source: str
    location: str  # e.g. "activations.ipynb, code cell 4 `def tanh(z):`"
    line: int  # the line of the chunk's first line within its location
    defines: tuple[str, ...]

    @property
    def origin(self) -> str:
        return f"{self.location}, line {self.line}"
