"""``autograder export`` (CSV, Gradescope, nbgrader) and ``autograder gradescope-bundle``, from a graded class."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import (
    ASSIGNMENT,
    CONTRACT_VERDICTS,
    EXPECTED_POINTS,
    FUNCTIONS,
    ROOT,
    GradedClass,
    autograder,
    graded_class,
)
from test_batch import read_only

from autograder.exercises import load_assignment
from autograder.grading.catalogue import Property
from autograder.grading.report import FunctionResult, PropertyResult, Report, render_text, to_gradescope

pytestmark = pytest.mark.batch

STUDENTS = ["alex", "bob", "carol", "dan", "eve", "kim", "sam"]
VERDICTS = CONTRACT_VERDICTS


@pytest.fixture(scope="module")
def graded() -> GradedClass:
    return graded_class()


def export(graded: GradedClass, fmt: str, out: Path) -> subprocess.CompletedProcess[str]:
    done = autograder(
        "export", "--assignment", ASSIGNMENT, "--gradebook", str(graded.gradebook), "--to", fmt, "--out", str(out)
    )
    return done


def test_csv_has_a_row_per_student_a_column_per_function_and_the_total(graded: GradedClass, tmp_path: Path) -> None:
    done = export(graded, "csv", tmp_path / "grades.csv")
    assert done.returncode == 0, done.stderr
    with (tmp_path / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["student_id"] for row in rows] == STUDENTS
    assert list(rows[0])[:2] == ["student_id", "assignment"]
    assert list(rows[0])[2:12] == list(FUNCTIONS)
    sam = next(row for row in rows if row["student_id"] == "sam")
    assert {f: float(sam[f]) for f in FUNCTIONS} == EXPECTED_POINTS["sam"]
    assert (sam["score"], sam["max_score"], sam["status"]) == ("88", "100", "graded")
    carol = next(row for row in rows if row["student_id"] == "carol")
    assert carol["status"] == "unreadable" and "not a valid notebook" in carol["message"]


def test_gradescope_export_writes_a_valid_results_json_per_student(graded: GradedClass, tmp_path: Path) -> None:
    done = export(graded, "gradescope", tmp_path / "gradescope")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "gradescope").iterdir()) == STUDENTS
    for student in STUDENTS:
        results = json.loads((tmp_path / "gradescope" / student / "results.json").read_text())
        assert_gradescope_format(results)
        assert results["extra_data"]["student"] == student
    sam = json.loads((tmp_path / "gradescope" / "sam" / "results.json").read_text())
    assert sam["score"] == 88
    assert set(sam["extra_data"]["curves"]) == {"relu", "tanh_grad"}  # the failed plottable functions


def assert_gradescope_format(results: dict[str, Any]) -> None:
    """The fields docs/GRADING.md promises, with the values Gradescope accepts; students see public feedback only."""
    assert {"score", "execution_time", "output", "tests", "extra_data"} <= set(results)
    assert {"assignment", "grader_version", "seed", "environment_hash"} <= set(results["extra_data"])
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility", "extra_data"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] == ("visible" if catalogued(test).public else "after_published")
        assert test["extra_data"]["verdict"] in VERDICTS
    assert results["score"] == pytest.approx(sum(test["score"] for test in results["tests"]))
    assert_public_output(results)


def catalogued(test: dict[str, Any]) -> Property:
    key = f"{test['extra_data']['function']}.{test['extra_data']['property']}"
    return next(p for p in load_assignment(test["extra_data"]["assignment"]).properties if p.key == key)


def assert_public_output(results: dict[str, Any]) -> None:
    """What students see at once holds no hidden property's words, inputs, expected values or hint, no seed."""
    output = results["output"]
    assert f"seed {results['extra_data']['seed']}" not in output and "Traceback" not in output
    public_lines = {line for t in results["tests"] if t["visibility"] == "visible" for line in t["output"].splitlines()}
    for test in results["tests"]:
        if test["visibility"] == "visible":
            continue
        prop = catalogued(test)
        assert prop.says not in output and prop.hint not in output
        assert not [
            line for line in test["output"].splitlines() if line.strip() and line not in public_lines and line in output
        ]


@pytest.mark.slow
def test_nbgrader_export_sees_the_scores_exported_into_its_gradebook(graded: GradedClass, tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    done = export(graded, "nbgrader", course / "gradebook.db")
    assert done.returncode == 0, done.stderr
    nbgrader = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export"], cwd=course, capture_output=True, text=True, timeout=600
    )
    assert nbgrader.returncode == 0, nbgrader.stderr
    with (course / "grades.csv").open(newline="") as handle:
        scores = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)}
    assert scores == {"alex": 81, "bob": 0, "carol": 0, "dan": 0, "eve": 100, "kim": 80, "sam": 88}

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook("activations", ASSIGNMENT, "kim")
        by_cell = {grade.name.removeprefix("test_"): grade.score for grade in notebook.grades}
    assert by_cell == EXPECTED_POINTS["kim"]


def test_export_to_a_read_only_folder_says_so_and_changes_nothing(graded: GradedClass, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    before = graded.gradebook.read_bytes()
    with read_only(locked):
        done = export(graded, "csv", locked / "grades.csv")
    assert done.returncode == 2
    assert f"autograder: cannot write {locked}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert graded.gradebook.read_bytes() == before


def test_export_without_a_gradebook_says_what_to_do(tmp_path: Path) -> None:
    done = autograder("export", "--assignment", ASSIGNMENT, "--to", "csv", "--gradebook", str(tmp_path / "none.db"))
    assert done.returncode == 2
    assert "no gradebook at" in done.stderr and "grade the class first with `autograder grade-batch`" in done.stderr


def test_a_hidden_propertys_input_never_reaches_what_students_see_at_once() -> None:
    """A function note names the input a worker failed on; when a hidden property met it, only its test does."""
    public = PropertyResult("relu", "within_range", "relu is never negative", 5, True, "passed", 5)
    hidden = PropertyResult("relu", "agrees_with_reference", "relu agrees with the reference", 5, False, "timeout")
    note = "relu took longer than the time limit of 10 s\non the input: z = array([1.2345e+300])"
    gated = PropertyResult("relu", "keeps_shape", "relu keeps the shape", 0, True, "gated")
    gated.feedback = (
        "held, but does not count yet: relu must agree with the reference first (agrees_with_reference did not hold)"
    )
    relu = FunctionResult("relu", [public, hidden, gated], note)
    report = Report(ASSIGNMENT, "activations.py", "grade", 11, "0", [relu])
    report.notes.append("the sandbox lacks some protections on this machine: network (see docs/SANDBOX.md)")
    results = to_gradescope(report)
    assert "1.2345e+300" not in results["output"] and "relu took longer than the time limit" in results["output"]
    assert "sandbox" not in results["output"] and "agrees with the reference" not in results["output"]
    assert (
        "agrees_with_reference" not in results["output"] and "relu must agree with the reference" in results["output"]
    )
    by_property = {t["extra_data"]["property"]: t for t in results["tests"]}
    assert "1.2345e+300" in by_property["agrees_with_reference"]["output"]
    assert by_property["agrees_with_reference"]["visibility"] == "after_published"
    assert by_property["within_range"]["visibility"] == "visible"
    assert "agrees_with_reference" not in by_property["keeps_shape"]["output"]
    assert "1.2345e+300" in render_text(report)  # the instructor's text report keeps everything


# The correct sigmoid alone: a student who has done the first function, graded in seconds.
SIGMOID_ONLY = (
    (ROOT / "tests" / "submissions" / ASSIGNMENT / "correct.py").read_text().split("\n\n\ndef sigmoid_grad")[0]
)


def unpack_bundle(tmp_path: Path) -> Path:
    """The bundle (seed 11) unpacked as Gradescope unpacks it; the folder that stands for /autograder."""
    bundle = tmp_path / "bundle.zip"
    done = autograder("gradescope-bundle", "--assignment", ASSIGNMENT, "--out", str(bundle), "--seed", "11")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "pyproject.toml", "autograder/cli.py"} <= names
        assert f"solutions/{ASSIGNMENT}/activations.ipynb" in names
        assert not any(name.startswith(("tests/", "assignments/", "examples/")) for name in names)
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    (root / "submission").mkdir(parents=True)
    return root


def run_bundle(root: Path, python: Path | str, **variables: str) -> tuple[dict[str, Any], str]:
    """Run ``run_autograder`` on ``root/submission``: results.json, and the stdout only the instructor sees."""
    environment = {**os.environ, "GRADESCOPE_ROOT": str(root), "AUTOGRADER_PYTHON": str(python), **variables}
    environment.pop("AUTOGRADER_COURSE_ROOT", None)  # the bundle must carry its own solutions
    run = subprocess.run(
        [str(root / "source" / "run_autograder")], env=environment, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text()), run.stdout


def test_gradescope_bundle_runs_in_gradescopes_layout(tmp_path: Path) -> None:
    root = unpack_bundle(tmp_path)
    (root / "submission" / "activations.py").write_text(SIGMOID_ONLY + "\n")
    results, _ = run_bundle(root, sys.executable)
    assert_gradescope_format(results)
    assert results["score"] == 10
    assert results["extra_data"]["seed"] == 11
    by_function = {t["extra_data"]["function"] for t in results["tests"] if t["score"] > 0}
    assert by_function == {"sigmoid"}
    hidden = {t["extra_data"]["property"] for t in results["tests"] if t["visibility"] == "after_published"}
    assert {"agrees_with_reference", "as_fast_as_reference"} <= hidden


def test_the_bundles_setup_installs_pytorchs_cpu_build_before_the_package(tmp_path: Path) -> None:
    from autograder.class_grading.gradescope_bundle import write_bundle

    bundle = write_bundle(load_assignment(ASSIGNMENT), ROOT, 11, tmp_path / "bundle.zip")
    with zipfile.ZipFile(bundle) as archive:
        setup = archive.read("setup.sh").decode().splitlines()
    installs = [line for line in setup if "bin/pip install " in line]
    assert installs[0].endswith(" torch --index-url https://download.pytorch.org/whl/cpu"), installs
    assert "-c /autograder/source/constraints/ci.txt" in installs[0]  # the version the course is tested with
    assert installs[1].endswith(" /autograder/source")  # the package, with the torch already there


def test_a_grader_crash_shows_students_one_plain_line_and_the_instructor_the_traceback(tmp_path: Path) -> None:
    root = unpack_bundle(tmp_path)
    (root / "submission" / "activations.py").write_text(SIGMOID_ONLY + "\n")
    # A Python whose grading run dies with a traceback; run_autograder's own use of it is the real one.
    crashing = tmp_path / "python"
    crashing.write_text(
        f'#!/bin/sh\nif [ "$2" = "-m" ]; then exec {sys.executable} -I -c "raise RuntimeError(\'secret detail\')"; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    crashing.chmod(0o755)
    results, stdout = run_bundle(root, crashing)
    assert results["output"] == "The autograder could not grade this submission. Your instructor has been told."
    assert results["score"] == 0 and results["stdout_visibility"] == "hidden"
    (instructor,) = results["tests"]
    assert instructor["visibility"] == "hidden" and instructor["max_score"] == 0
    assert "Traceback" in instructor["output"] and "RuntimeError: secret detail" in instructor["output"]
    assert "RuntimeError: secret detail" in stdout


LOOK_FOR_THE_GRADER = """

PLANTED = {planted!r}


def _look_for_the_grader():
    \"\"\"The installed grader's hidden checks, the bundle's solutions, the bank's key: whatever can be read.\"\"\"
    import os, site, sys

    places = set(PLANTED)
    module = sys.modules.get("autograder")
    if getattr(module, "__file__", None):
        places.add(os.path.join(os.path.dirname(module.__file__), "exercises", "activations.py"))
    for entry in sys.path + site.getsitepackages():
        places.add(os.path.join(entry or ".", "autograder", "exercises", "activations.py"))
    found = []
    for place in sorted(places):
        try:
            found.append(place + ": " + (str(os.listdir(place)) if os.path.isdir(place) else open(place).read(300)))
        except OSError:
            pass
    return "\\n".join(found)


LEAKED = _look_for_the_grader()


def sigmoid(z):
    if LEAKED:
        raise ValueError(LEAKED)  # the feedback would carry it to the student
    return honest_sigmoid(z)
"""


def install_like_setup_sh(root: Path) -> Path:
    """setup.sh's venv, made offline: this test's venv hard-linked (so never copied and never changed), less
    the editable install of this checkout, and the bundle pip-installed into it as setup.sh installs it."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("the tests do not run in a venv that could stand for setup.sh's")
    venv = root / "venv"
    linked = subprocess.run(["cp", "-al", sys.prefix, str(venv)], capture_output=True, text=True)
    if linked.returncode != 0:
        pytest.skip(f"the test venv cannot be hard-linked here: {linked.stderr.strip()}")
    site_packages = venv / Path(sysconfig.get_paths()["purelib"]).relative_to(sys.prefix)
    for editable in [*site_packages.glob("__editable__*"), *site_packages.glob("deep_learning_from_the_neuron_up-*")]:
        shutil.rmtree(editable) if editable.is_dir() else editable.unlink()
    (venv / "bin" / "autograder").unlink(missing_ok=True)
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run([*install, "--no-index", str(root / "source")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (site_packages / "autograder" / "exercises" / "activations.py").is_file()
    return venv


@pytest.mark.sandbox
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux-only")
def test_a_submission_finds_nothing_of_the_grader_installed_in_the_bundles_venv(tmp_path: Path) -> None:
    """Gradescope's layout: the package pip-installed into a venv the workers see, the bundle unpacked beside it."""
    root = unpack_bundle(tmp_path)
    venv = install_like_setup_sh(root)
    site_packages = venv / Path(sysconfig.get_paths()["purelib"]).relative_to(sys.prefix)
    cache = venv / "autograder-cache"  # a cache inside a folder the workers see: hidden all the same
    planted = [
        str(site_packages / "autograder" / "exercises" / "activations.py"),
        str(root / "source" / "autograder" / "exercises" / "activations.py"),
        str(root / "source" / "solutions" / ASSIGNMENT / "activations.ipynb"),
        str(cache / "bank.key"),
        str(cache / "examples"),
    ]
    attack = SIGMOID_ONLY.replace("def sigmoid(", "def honest_sigmoid(") + LOOK_FOR_THE_GRADER.format(planted=planted)
    (root / "submission" / "activations.py").write_text(attack)
    results, _ = run_bundle(root, venv / "bin" / "python", AUTOGRADER_CACHE=str(cache))
    assert_gradescope_format(results)
    sigmoid = {t["extra_data"]["property"]: t["extra_data"]["verdict"] for t in results["tests"] if t["score"] > 0}
    drawn = {p.name for p in load_assignment(ASSIGNMENT).properties_of("sigmoid") if p.timing is None}
    assert {name for name, verdict in sigmoid.items() if verdict == "passed"} >= drawn  # it read nothing
    assert results["score"] <= 10  # and earned nothing more than an honest sigmoid
    text = json.dumps(results)
    assert (cache / "bank.key").is_file() and "exercises/activations.py:" not in text and "Assignment(" not in text
    # Whichever copy the grader runs from, every copy is hidden: here, the one in the unpacked bundle.
    show = "import autograder, autograder.sandbox.launcher as s; print(autograder.__file__, *s._secrets(), sep='\\n')"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", show], cwd=root / "source", capture_output=True, text=True, timeout=60
    )
    loaded, *secrets = done.stdout.splitlines()
    assert loaded == str(root / "source" / "autograder" / "__init__.py"), done.stderr
    assert {str(site_packages / "autograder"), str(root / "source" / "autograder")} <= set(secrets)
