"""Drawing the public checks' examples when the package is built, so that no check ever draws them.

``autograder check`` runs every public property of an assignment on examples that Hypothesis draws from
:data:`autograder.grading.runner.PUBLIC_SEED`, a fixed seed. Drawing is most of a first check's time (seconds, where
checking them takes milliseconds), so the build draws them once (``setup.py``'s ``build_shipped_examples``
step, a sub-command of ``build`` that ``pip install`` and ``pip install -e`` both run) and writes them to
``autograder/shipped/``: one file per property in the example bank's payload format, and a manifest
(``MANIFEST.json``) that lists, for each file, what it is for (the same binding as a bank file: property,
seed, number of examples, grader version, digest of the catalogues and of the NumPy and Hypothesis
versions), its number of examples, its size and its SHA-256. :func:`autograder.grading.example_bank.read_shipped`
reads them as data and uses a file only when the manifest lists it for exactly the draw asked for and its
checksum matches; anything else is drawn as before and kept in the per-user bank.

Why they are drawn in the install, never committed or drawn on another machine: for the same seed,
Hypothesis draws different examples in different environments. Its choices depend on the NumPy and
Hypothesis versions (both in the binding) and on the "local constants" it collects from the source files of
the modules loaded that are neither in site-packages nor in the standard library: the grader's own modules
when it is installed from a checkout (``pip install -e``), none when it is installed into site-packages.
So the build draws with the package as it will be imported: from the checkout in an editable install,
from a ``site-packages`` folder otherwise, each assignment in a fresh interpreter that has imported what a
check imports before it draws (:mod:`autograder.cli`). Examples drawn elsewhere would still be valid
examples, but the shrinking that follows a failure (which Hypothesis draws afresh, in the check's own
process) would not meet them first. The NumPy and Hypothesis of the build are those pip installs for the
build (``[build-system] requires``); where they are not the versions installed for the grader, the
binding differs and the shipped examples are never used: every check draws, as without them.

The build never fails because of this step: where the examples cannot be drawn (no NumPy, a catalogue
that does not load) it says so and ships none.

    python -m autograder.shipped_examples build FOLDER     # what the build step runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from autograder.grading import example_bank

# Each assignment is drawn in its own interpreter; the slowest (03) takes about 3 s on a quiet machine.
_ASSIGNMENT_SECONDS = 300.0
# What that interpreter runs: it loads what a check loads (the command, then the grader), and nothing
# more of this package, since every module of a checkout loaded adds its constants to what Hypothesis
# draws from. It prints the manifest entries of the files it wrote.
_DRAW = (
    "import sys, json, autograder.command, autograder.cli, autograder.grading.example_bank as bank;"
    "from pathlib import Path;"
    "from autograder.exercises import load_assignment;"
    "from autograder.grading.runner import CHECK, PUBLIC_SEED, examples_per_property, property_seed;"
    "assignment = load_assignment(sys.argv[1]);"
    "count = examples_per_property(assignment, CHECK);"
    "seed_of = lambda prop: property_seed(PUBLIC_SEED, prop);"
    "sys.stdout.write(json.dumps(bank.ship_public_examples(assignment, count, seed_of, Path(sys.argv[2]))))"
)


def build(
    folder: Path, installed: bool = False, assignments: list[str] | None = None, python: str = sys.executable
) -> int:
    """Draw the public examples of ``assignments`` (all) into ``folder`` (emptied first), and its manifest.

    The examples are drawn with this package: in place, as an editable install imports it, or, when
    ``installed``, from a ``site-packages`` folder, as an installed package is imported. Returns how many
    files were shipped; the manifest is written last, so an interrupted build ships nothing.
    """
    from autograder.exercises import known_assignments

    package = Path(__file__).resolve().parent
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    files: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="autograder-build-") as scratch:
        search_path = package.parent
        if installed:
            search_path = Path(scratch) / "site-packages"
            search_path.mkdir()
            (search_path / package.name).symlink_to(package, target_is_directory=True)
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(search_path), os.environ.get("PYTHONPATH", "")]),
            "AUTOGRADER_CACHE": str(Path(scratch) / "cache"),  # Hypothesis' files, not the user's cache
            "AUTOGRADER_SERVICE": "off",
        }
        # One interpreter per assignment (what a check loads, and no other assignment's catalogue), all at once.
        drawing = {
            assignment_id: subprocess.Popen(
                [python, "-c", _DRAW, assignment_id, str(folder)],
                env=environment,
                cwd=scratch,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for assignment_id in (known_assignments() if assignments is None else assignments)
        }
        for assignment_id, process in drawing.items():
            try:
                out, err = process.communicate(timeout=_ASSIGNMENT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"drawing {assignment_id}'s examples failed:\n{err[-2000:]}")
            files.update(json.loads(out))
    write_manifest(folder, files)
    return len(files)


def write_manifest(folder: Path, files: dict[str, dict[str, Any]]) -> None:
    """The manifest of the shipped files ``files`` (their entries, by name), in ``folder``."""
    manifest = {"format": example_bank.MANIFEST_FORMAT, "files": files}
    (folder / example_bank.MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.shipped_examples", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    everything = commands.add_parser("build", help="draw every assignment's public examples into FOLDER")
    everything.add_argument("folder", type=Path)
    everything.add_argument(
        "--installed", action="store_true", help="draw as an installed package (from site-packages), not in place"
    )
    options = parser.parse_args(argv)
    shipped = build(options.folder, options.installed)
    print(f"shipped the examples of {shipped} public properties in {options.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
