"""The zip that Gradescope's autograder expects (``autograder gradescope-bundle --assignment ID``).

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once to build its image, then
runs ``run_autograder`` for every submission, with the student's files in ``/autograder/submission``;
the grade must end up in ``/autograder/results/results.json``. The zip holds this package (grader,
catalogues, ``course_lib``), the assignment's solution notebook for the hidden properties, and the
two scripts. It is for the instructor's Gradescope account only: it contains the solutions.

What students see: the ``output`` of results.json and its ``visible`` tests (public properties) at once,
hidden properties' tests once grades are published (:func:`autograder.grading.report.to_gradescope`). When the
grader itself fails, students get one plain line and the traceback goes to a ``hidden`` test and to
``run_autograder``'s stdout, which Gradescope shows the instructor alone. The package is installed into
a venv the workers can see, so the sandbox hides every copy of it (:func:`autograder.sandbox.launcher._secrets`),
and ``setup.sh`` also takes every permission on it and on the unpacked bundle away from other users (the
workers of a grader that runs as root each run as a user of their own).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from autograder.grading.catalogue import Assignment

# Files of the package, relative to the course root, that the bundle carries besides the solutions.
PACKAGE_PATTERNS = ("autograder/**/*.py", "course_lib/**/*.py", "pyproject.toml", "README.md", "constraints/*.txt")

# PyTorch's index of CPU-only wheels, as PyTorch's install instructions give it.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder image; the zip is in /autograder/source.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv python3-pip
python3 -m venv /autograder/venv
# PyTorch's CPU build, from PyTorch's own CPU wheel index: PyPI's Linux wheel of the same version brings
# gigabytes of CUDA libraries that Gradescope's machines (no GPU) never use.
/autograder/venv/bin/pip install -c /autograder/source/constraints/ci.txt torch --index-url {torch_cpu_index}
/autograder/venv/bin/pip install -c /autograder/source/constraints/ci.txt /autograder/source
# The grader runs as root; its workers do not: nothing of the grader or the solutions is theirs to read.
PACKAGE="$(/autograder/venv/bin/python -I -c 'import autograder, os; print(os.path.dirname(autograder.__file__))')"
chmod -R go-rwx /autograder/source "$PACKAGE"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission: the student's files are in /autograder/submission, and the
# grade goes to /autograder/results/results.json. GRADESCOPE_ROOT and AUTOGRADER_PYTHON let the
# same layout be tried anywhere else. Python runs isolated (-I): the installed grader runs, never a
# copy in the working folder.
set -uo pipefail
ROOT="${{GRADESCOPE_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
RESULTS="$ROOT/results/results.json"
ERRORS="$ROOT/results/errors.txt"
mkdir -p "$ROOT/results"
cd "$ROOT/source"
export AUTOGRADER_COURSE_ROOT="$ROOT/source"
export AUTOGRADER_SEED={seed}
if ! "$PYTHON" -I -m autograder grade "$ROOT/submission" --assignment {assignment} --format gradescope \\
        --out "$RESULTS" 2> "$ERRORS"; then
    # The grader could not run. Students see one plain line; the reason (a traceback, perhaps) goes to
    # a hidden test and to this script's stdout, which Gradescope shows the instructor alone.
    "$PYTHON" -I - "$ERRORS" "$RESULTS" <<'EOF'
import json, sys
reason = open(sys.argv[1], encoding="utf-8", errors="replace").read().strip()[-20000:] or "no message"
print(reason)
hidden = {{"name": "Autograder error (instructor only)", "score": 0, "max_score": 0, "status": "failed",
          "output": reason, "visibility": "hidden"}}
output = "The autograder could not grade this submission. Your instructor has been told."
results = {{"score": 0, "output": output, "stdout_visibility": "hidden", "tests": [hidden]}}
json.dump(results, open(sys.argv[2], "w", encoding="utf-8"))
EOF
fi
"""


def write_bundle(assignment: Assignment, course_root: Path, seed: int, out: Path) -> Path:
    """Write the Gradescope zip of ``assignment`` from the course at ``course_root`` to ``out``."""
    solutions = course_root / "solutions" / assignment.id
    if not (solutions / assignment.notebook).is_file():
        raise FileNotFoundError(f"{solutions / assignment.notebook}: the bundle needs the solution notebook")
    files = sorted(
        {path for pattern in PACKAGE_PATTERNS for path in course_root.glob(pattern) if "__pycache__" not in path.parts}
        | {solutions / assignment.notebook}
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        _add_script(bundle, "setup.sh", SETUP.format(torch_cpu_index=TORCH_CPU_INDEX))
        _add_script(bundle, "run_autograder", RUN.format(seed=seed, assignment=assignment.id))
        for path in files:
            bundle.write(path, path.relative_to(course_root).as_posix())
    return out


def _add_script(bundle: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16  # a regular file, executable
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, text)
