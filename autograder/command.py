"""The ``autograder`` command: a check goes to the warm service (:mod:`autograder.service`) before the
grader's own imports; everything else, and a check the service cannot answer, runs :func:`autograder.cli.main`."""

from __future__ import annotations

import sys

from autograder import service


def main(argv: list[str] | None = None) -> int:
    answered = service.quick_check(sys.argv[1:] if argv is None else argv)
    if answered is not None:
        return answered
    from autograder.cli import main as full

    return full(argv)
