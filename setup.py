"""The build step that ships the public checks' examples: ``build_shipped_examples``, a sub-command of
``build``, so that ``pip install .`` (a wheel) and ``pip install -e .`` (an editable wheel: setuptools runs
every ``build`` sub-command there too, with ``editable_mode`` set) both run it. Why the examples are drawn
here, in the install, and how they are checked when read: :mod:`autograder.shipped_examples`.

Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from setuptools import Command, setup
from setuptools.command.build import build

SOURCE = Path(__file__).resolve().parent
SHIPPED = Path("autograder") / "shipped"


class build_shipped_examples(Command):  # noqa: N801 - setuptools names commands this way
    """Draw the public properties' examples into ``autograder/shipped/`` of the package being built.

    In an editable install the package is the checkout, so they are drawn in place (and ignored by git);
    otherwise into the build folder, with the package copy that goes into the wheel. A failure never
    fails the install: it says why and ships nothing, and checks draw their examples as before.
    """

    description = "draw the public checks' examples into autograder/shipped/"
    user_options: list[tuple[str, str | None, str]] = []

    def initialize_options(self) -> None:
        self.editable_mode = False
        self.build_lib: str | None = None

    def finalize_options(self) -> None:
        self.set_undefined_options("build_py", ("build_lib", "build_lib"))

    def _root(self) -> Path:
        """Where the package being built lies: the checkout (editable) or the build folder."""
        return SOURCE if self.editable_mode or self.build_lib is None else Path(self.build_lib)

    def run(self) -> None:
        root = self._root()
        command = [sys.executable, "-m", "autograder.shipped_examples", "build", str(root / SHIPPED)]
        if not self.editable_mode:
            command.append("--installed")
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        started = time.perf_counter()
        done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            print(f"{done.stdout.strip()} ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        else:
            print(
                "warning: the public examples were not drawn (checks will draw them):\n" + done.stderr[-2000:],
                file=sys.stderr,
            )

    def get_outputs(self) -> list[str]:
        folder = self._root() / SHIPPED
        return [str(path) for path in sorted(folder.glob("*.json"))] if folder.is_dir() else []

    def get_output_mapping(self) -> dict[str, str]:
        return {}  # generated files only: none is a copy of a source file

    def get_source_files(self) -> list[str]:
        return []


class build_with_examples(build):  # noqa: N801
    sub_commands = [*build.sub_commands, ("build_shipped_examples", None)]


setup(cmdclass={"build": build_with_examples, "build_shipped_examples": build_shipped_examples})
