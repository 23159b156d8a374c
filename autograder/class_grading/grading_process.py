"""One submission graded in a process of its own: what a batch runs for every submission.

``python -m autograder.class_grading.grading_process`` reads a job as JSON on standard input (the
assignment, the seed, and the submission file's name and content), writes the file into a private
temporary folder, grades it with :func:`autograder.grade.grade_path` and prints the report
(:func:`autograder.grading.report.report_to_dict`) as JSON on standard output. Student code still runs
only in the sandbox workers that the grading starts; this
process exists so that one submission that brings the grader down (a crash, a hang past every limit)
costs that submission alone, and so that a batch can hand a job to another machine as plain data.

It ends with its parent: a batch killed with ``kill -9`` leaves no grading behind.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from autograder.exercises import UnknownAssignment
from autograder.grade import UsageError, grade_path
from autograder.grading.calls import GraderError
from autograder.grading.references import ReferenceUnusable
from autograder.grading.report import report_to_dict
from autograder.grading.runner import GRADE, quiet_stderr

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
GRADER_ERROR_STATUS = 2  # the grader itself could not run, as for ``autograder grade``


def main() -> int:
    job = json.load(sys.stdin)
    _end_with_parent(int(job["parent"]))
    signal.signal(signal.SIGTERM, _exit_cleanly)
    name = Path(str(job["name"])).name or "submission"
    with tempfile.TemporaryDirectory(prefix="autograder-batch-") as folder:
        path = Path(folder) / name
        path.write_bytes(base64.b64decode(job["content"]))
        try:
            with quiet_stderr():
                report = grade_path(path, str(job["assignment"]), GRADE, int(job["seed"]))
        except (UsageError, UnknownAssignment, ReferenceUnusable, GraderError) as error:
            print(error, file=sys.stderr)
            return GRADER_ERROR_STATUS
    # The temporary folder means nothing to the people who read the report: name the file alone.
    report.notes = [note.replace(str(path), name) for note in report.notes]
    json.dump(report_to_dict(report), sys.stdout)
    return 0


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through the grader's context managers, which kill the sandbox workers.
    raise SystemExit(128 + signum)


def _end_with_parent(parent: int) -> None:
    """Ask Linux for SIGTERM when the parent dies; if it already has, stop now."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the batch's own clean-up has to do
        return
    if os.getppid() != parent:
        raise SystemExit(128 + signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
