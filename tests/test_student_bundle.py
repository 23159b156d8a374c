"""``autograder student-bundle``: what a course hands its students, and nothing it must keep.

The bundle is built once, with the real command, then used as a student would: the grader imported
from the bundle alone (``PYTHONPATH``), no solutions anywhere, a fresh example bank.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from batch_helpers import ASSIGNMENT, ROOT, notebook_with

from autograder.class_grading.student_bundle import BundleError, hidden_texts, public_catalogue
from autograder.exercises import known_assignments, load_assignment

SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def autograder(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("course") / "student-bundle"
    done = autograder("student-bundle", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "no solutions, no hidden checks" in done.stdout
    return out


def as_a_student(bundle: Path, cache: Path) -> dict[str, str]:
    """The environment of a student who has the bundle alone: its grader first on the path, no course."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AUTOGRADER_")}
    # Checks grade in their own process: a warm service started here would outlive the test.
    return {**environment, "PYTHONPATH": str(bundle), "AUTOGRADER_CACHE": str(cache), "AUTOGRADER_SERVICE": "off"}


def bundle_texts(bundle: Path) -> dict[str, str]:
    return {
        path.relative_to(bundle).as_posix(): path.read_text(encoding="utf-8", errors="replace")
        for path in bundle.rglob("*")
        if path.is_file()
    }


def test_the_bundle_holds_the_notebooks_course_lib_and_the_public_grader(bundle: Path) -> None:
    top = {path.name for path in bundle.iterdir()}
    assert top == {"README.md", "pyproject.toml", "constraints", "assignments", "autograder", "course_lib"}
    for assignment_id in known_assignments():
        assert (bundle / "assignments" / assignment_id / load_assignment(assignment_id).notebook).is_file()
    assert not list(bundle.rglob("__pycache__"))


def test_nothing_hidden_and_no_solution_is_in_the_bundle(bundle: Path) -> None:
    texts = bundle_texts(bundle)
    secrets = hidden_texts()
    assert {"agrees_with_reference", "as_fast_as_reference"} <= secrets  # the hidden properties' names...
    hints = {p.hint for a in known_assignments() for p in load_assignment(a).properties if not p.public}
    assert "Try a row such as [0, 1000]: the true answer is finite." in secrets & hints  # ...and hints
    for name, text in texts.items():
        assert not [secret for secret in secrets if secret in text], name
        assert not name.endswith(".ipynb") or "### BEGIN SOLUTION" not in text, name  # student notebooks only
    # No solution cell's code, from any solution notebook; and not one line of 02_activations' references.
    blocks = []
    for notebook in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            blocks += [textwrap.dedent(b).strip() for b in SOLUTION_BLOCK.findall("".join(cell["source"]))]
    assert len(blocks) >= 40 and all(blocks)
    for name, text in texts.items():
        assert not [block for block in blocks if block in text], name
    sigmoid = "return np.exp(-np.logaddexp(0, -z)).astype(z.dtype, copy=False)"
    activations = (ROOT / "solutions" / ASSIGNMENT / "activations.ipynb").read_text()
    assert sigmoid in activations
    reference = [
        line.strip()
        for cell in json.loads(activations)["cells"]
        for block in SOLUTION_BLOCK.findall("".join(cell["source"]))
        for line in block.splitlines()
        if len(line.strip()) >= 20 and not line.strip().startswith("#")
    ]
    assert sigmoid in reference
    for name, text in texts.items():
        assert not [line for line in reference if line in text], name


def test_check_works_from_the_bundle_alone(bundle: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    notebook = work / "activations.ipynb"
    notebook.write_text(json.dumps(notebook_with(("relu_in_place",))))  # every function right but relu
    environment = as_a_student(bundle, tmp_path / "cache")
    where = subprocess.run(
        [sys.executable, "-c", "import autograder; print(autograder.__file__)"],
        env=environment,
        capture_output=True,
        text=True,
        cwd=work,
    )
    assert Path(where.stdout.strip()).is_relative_to(bundle)  # the bundle's grader, not the course's
    done = autograder("check", str(notebook), cwd=work, env=environment)
    assert done.returncode == 0, done.stderr
    public = [p for p in load_assignment(ASSIGNMENT).properties_of("sigmoid") if p.public]
    assert f"sigmoid          {len(public)}/{len(public)} public properties hold" in done.stdout
    assert "x relu leaves its input unchanged" in done.stdout
    assert "relu modified its argument z in place" in done.stdout
    assert "9 of 10 functions pass every public check." in done.stdout
    assert sorted(path.name for path in work.iterdir()) == ["activations.ipynb"]
    # Grading needs the solutions, which the bundle does not have; a points cell says who gives the points.
    graded = autograder("grade", str(notebook), cwd=work, env=environment)
    assert graded.returncode == 2 and "needs the instructor's solutions" in graded.stderr
    checks = 'from autograder.notebook import AssignmentChecks\nchecks = AssignmentChecks("02_activations")\n'
    cell = checks + 'print(repr(checks.points("sigmoid")))'
    shown = subprocess.run([sys.executable, "-c", cell], env=environment, capture_output=True, text=True, cwd=work)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "sigmoid: your points are given by your instructor when you hand in your work; "
        "for feedback now, run autograde.check(sigmoid)",
        "None",  # no number: nbgrader would read one as the cell's points
    ]


def test_the_bundle_builds_as_a_package(bundle: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(bundle, source)  # setuptools builds in the source folder
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        catalogue = archive.read("autograder/exercises/activations.py").decode()
    assert "autograder/cli.py" in names and "course_lib/__init__.py" in names
    assert "agrees_with_reference" not in catalogue


def test_a_zip_is_written_when_asked_and_an_existing_folder_is_never_overwritten(bundle: Path, tmp_path: Path) -> None:
    done = autograder("student-bundle", "--out", str(tmp_path / "course.zip"))
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "course.zip") as archive:
        names = set(archive.namelist())
    assert names == {path.relative_to(bundle).as_posix() for path in bundle.rglob("*") if path.is_file()}
    again = autograder("student-bundle", "--out", str(bundle))
    assert again.returncode == 2 and "already exists" in again.stderr


CATALOGUE = '''
"""A catalogue with a hidden property among public ones."""
from autograder.grading.catalogue import Assignment, Property


def _secret_check(calls, example):
    return "a check only the hidden property uses"


def _shared(calls, example):
    return None


SECRET = Property(function="f", name="secret_property", says="f is secret",
                  hint="a hint only the hidden property has", points=1.0, public=False, test=_secret_check)
PROPERTIES = (
    Property(function="f", name="shown", says="f is shown", hint="a public hint", points=1.0, test=_shared),
    SECRET,
    Property(function="f", name="inline_secret", says="f is secret too", hint="another hidden hint", points=1.0,
             public=False, test=_shared),
)
ASSIGNMENT = Assignment("99_fake", "fake.ipynb", PROPERTIES)
'''


def load_module(path: Path, source: str) -> object:
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_catalogue_loses_its_hidden_properties_and_all_that_only_they_use(tmp_path: Path) -> None:
    module = load_module(tmp_path / "fake_catalogue.py", CATALOGUE)
    public = public_catalogue(module)  # type: ignore[arg-type]
    for secret in ("secret_property", "_secret_check", "a hint only", "inline_secret", "another hidden hint"):
        assert secret not in public
    rebuilt = load_module(tmp_path / "public_catalogue.py", public)
    assert [p.name for p in rebuilt.ASSIGNMENT.properties] == ["shown"]  # type: ignore[attr-defined]


def test_a_catalogue_whose_properties_cannot_be_told_apart_is_refused(tmp_path: Path) -> None:
    source = CATALOGUE + "\nALL = (*PROPERTIES, SECRET)\n"
    module = load_module(tmp_path / "starred_catalogue.py", source)
    with pytest.raises(BundleError, match="one to one"):
        public_catalogue(module)  # type: ignore[arg-type]
