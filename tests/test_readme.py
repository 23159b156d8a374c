"""The README's commands are the ones CI runs, so a missing install step fails in CI first."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    # The Quickstart's own commands: those before its first subsection (which may hold commands of its own).
    section = readme.split("## Quickstart", 1)[1].split("\n#", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)]


def test_quickstart_has_an_install_and_grade_command_and_an_install_and_test_command() -> None:
    grade, test = quickstart_commands()
    assert "pip install" in grade and "autograder grade examples/" in grade
    assert "pip install" in test and "pytest" in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, test = quickstart_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test in ci_lines


def test_torch_is_pinned_for_ci_in_the_constraints_not_in_the_package() -> None:
    assert "torch==2.13.0" in (ROOT / "constraints" / "ci.txt").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"torch>=' in pyproject and "torch==" not in pyproject
