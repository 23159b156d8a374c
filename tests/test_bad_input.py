"""Bad submissions get a clear message naming the file and the function; the rest is still graded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import CONTRACT_VERDICTS
from test_export import assert_public_output

pytestmark = pytest.mark.activations

ROOT = Path(__file__).resolve().parents[1]
CORRECT = ROOT / "tests" / "submissions" / "02_activations" / "correct.py"


def autograder(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], capture_output=True, text=True, timeout=600, cwd=ROOT
    )


def grade_json(path: Path, *extra: str) -> dict[str, Any]:
    done = autograder("grade", str(path), "--format", "gradescope", *extra)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def points(results: dict[str, Any]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for test in results["tests"]:
        function = test["extra_data"]["function"]
        totals[function] = totals.get(function, 0.0) + test["score"]
    return totals


def outputs_of(results: dict[str, Any], function: str) -> str:
    return "\n".join(t["output"] for t in results["tests"] if t["extra_data"]["function"] == function)


def verdicts_of(results: dict[str, Any], function: str) -> set[str]:
    return {t["extra_data"]["verdict"] for t in results["tests"] if t["extra_data"]["function"] == function}


BROKEN = """
def sigmoid(z)
    return 1 / (1 + np.exp(-z))


def relu(z):
    raise ValueError("I give up")


def softmax(z, axis=-1):
    return [0.5, 0.5]


def log_softmax(z, axis=-1):
    return np.zeros(3)


def tanh_grad(z):
    while True:
        pass
"""


@pytest.fixture(scope="module")
def broken_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One .py submission with a syntax error, a missing function, a raise, a list and a wrong shape."""
    source = CORRECT.read_text()
    source = source.replace("def tanh(z):\n    return np.tanh(z)\n", "")  # tanh is missing
    for name in ("sigmoid", "relu", "softmax", "log_softmax", "tanh_grad"):  # replaced by the broken versions below
        start = source.index(f"def {name}(")
        end = source.find("\n\ndef ", start)
        source = source[:start] + source[end + 2 :] if end != -1 else source[:start]
    path = tmp_path_factory.mktemp("broken") / "broken.py"
    path.write_text(source + BROKEN)
    return grade_json(path, "--assignment", "02_activations")


def test_syntax_error_names_file_line_and_costs_that_function_only(broken_results: dict[str, Any]) -> None:
    assert points(broken_results)["sigmoid"] == 0
    assert verdicts_of(broken_results, "sigmoid") == {"error"}
    assert "sigmoid could not be read: SyntaxError" in outputs_of(broken_results, "sigmoid")
    assert "broken.py, line" in outputs_of(broken_results, "sigmoid")


def test_a_function_that_hangs_times_out_and_costs_only_itself(broken_results: dict[str, Any]) -> None:
    assert points(broken_results)["tanh_grad"] == 0
    assert verdicts_of(broken_results, "tanh_grad") == {"timeout"}
    assert "tanh_grad took longer than the time limit of 10 s" in outputs_of(broken_results, "tanh_grad")


def test_missing_function_is_named(broken_results: dict[str, Any]) -> None:
    assert verdicts_of(broken_results, "tanh") == {"missing"}
    assert "no function named tanh was found in broken.py" in outputs_of(broken_results, "tanh")


def test_function_that_raises_gets_error_with_its_message(broken_results: dict[str, Any]) -> None:
    assert points(broken_results)["relu"] == 0
    assert "error" in verdicts_of(broken_results, "relu")
    assert "relu raised ValueError: I give up (at broken.py, line" in outputs_of(broken_results, "relu")
    assert "Traceback" not in outputs_of(broken_results, "relu")


def test_returning_a_list_or_wrong_shape_is_explained(broken_results: dict[str, Any]) -> None:
    assert points(broken_results)["softmax"] == 0  # "leaves its input unchanged" holds, but softmax is wrong
    assert "gated" in verdicts_of(broken_results, "softmax")
    assert "softmax returned a Python list; return a NumPy array" in outputs_of(broken_results, "softmax")
    assert points(broken_results)["log_softmax"] < 10
    assert "log_softmax returned shape (3,)" in outputs_of(broken_results, "log_softmax")


def test_every_other_function_is_still_graded_in_full(broken_results: dict[str, Any]) -> None:
    scores = points(broken_results)
    for function in ("sigmoid_grad", "relu_grad", "leaky_relu", "leaky_relu_grad"):
        assert scores[function] == 10, function


def test_notebook_that_is_not_json_gets_a_zero_report_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "activations.ipynb"
    path.write_text('{"cells": [ {"cell_type": "code", ')
    done = autograder("grade", str(path), "--assignment", "02_activations")
    assert done.returncode == 0
    assert "activations.ipynb: not a valid notebook (JSON error at line 1, column" in done.stdout
    assert "Total: 0 / 100" in done.stdout


def test_a_cell_that_does_not_parse_costs_only_its_own_function(tmp_path: Path) -> None:
    notebook = json.loads((ROOT / "solutions" / "02_activations" / "activations.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu":
            cell["source"] = "def relu(z):\n    return np.maximum(z, 0\n"
    path = tmp_path / "activations.ipynb"
    path.write_text(json.dumps(notebook))
    done = autograder("check", str(path))
    assert done.returncode == 0
    assert "relu could not be read: SyntaxError" in done.stdout
    assert "activations.ipynb, code cell 14 `def relu(z):`, line 2" in done.stdout
    assert "9 of 10 functions pass every public check." in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grade", "no/such/file.ipynb"), "no/such/file.ipynb: no such file or folder"),
        (("grade", "tests/submissions/02_activations/correct.py"), "cannot tell which assignment this is"),
        (("grade", "tests/submissions/02_activations/correct.py", "--assignment", "99_nope"), "unknown assignment"),
    ],
)
def test_grader_errors_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    done = autograder(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_gradescope_report_has_every_field_the_contract_names(broken_results: dict[str, Any]) -> None:
    assert {"score", "execution_time", "output", "tests", "extra_data"} <= set(broken_results)
    assert {"assignment", "grader_version", "seed", "environment_hash"} <= set(broken_results["extra_data"])
    verdicts = CONTRACT_VERDICTS
    for test in broken_results["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility", "extra_data"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "after_published")
        assert {"assignment", "function", "property", "verdict"} <= set(test["extra_data"])
        assert test["extra_data"]["verdict"] in verdicts
    assert broken_results["score"] == sum(test["score"] for test in broken_results["tests"])
    assert_public_output(broken_results)


def test_a_boolean_result_is_named_once_with_what_to_return(tmp_path: Path) -> None:
    """``return z >= 0`` fails every property of relu_grad for one cause: the text report says it once."""
    path = tmp_path / "comparison.py"
    path.write_text("import numpy as np\n\n\ndef relu_grad(z):\n    return z >= 0\n")
    done = autograder("check", str(path), "--assignment", "02_activations")
    assert done.returncode == 0, done.stderr
    section = done.stdout.split("\nrelu_grad", 1)[1].split("\nleaky_relu ", 1)[0]
    failed = [line for line in section.splitlines() if line.startswith("  x ")]
    assert len(failed) >= 3, section  # several properties fail on it...
    cause = "relu_grad returned a boolean (dtype bool)"
    assert section.count(cause) == 1, section  # ...and the cause is said once
    assert "return floats of the input's dtype instead, e.g. (x > 0).astype(x.dtype)" in section
    assert "expected a NumPy array" not in section and "hint: " not in section  # each hint is about another mistake
