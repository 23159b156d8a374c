"""Grading exactly the code submitted, and a problem in one function costing that function only, end to end.

Each submission is graded for real against its assignment's catalogue, with exact points: aliases, lambdas,
lowercase tables and comments ending in ``?`` earn full marks (issue 14); a definition the grader leaves out
is named once, where a function needs it; a function that calls a broken sibling is graded with the
reference's sibling in its place (issue 17), in its own worker, without any of the reference's code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grading import grade_many

from autograder.exercises import load_assignment
from autograder.grading.report import Report, render_text

ROOT = Path(__file__).resolve().parents[1]

ACTIVATIONS = [
    "import matplotlib.pyplot as plt\nimport numpy as np\nfrom functools import partial\n%matplotlib inline",
    "MD:## Sigmoid",
    "def sigmoid(z):\n"
    "    # stable for large |z|: which branch?\n"
    "    e = np.exp(-np.abs(z))\n"
    "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype)",
    "sigmoid_grad = lambda z: (lambda s: s * (1 - s))(sigmoid(z))  # reuse sigmoid?",
    "tanh = np.tanh  # why write it again?\nnp.tanh?",
    "def tanh_grad(z):\n    return 1 - tanh(z) ** 2  # the alias above?",
    "relu = lambda z: np.maximum(z, 0)  # or z * (z > 0)?",
    "grad_where = {True: 1, False: 0}  # a lowercase table\n"
    "relu_grad = lambda z: np.where(z > 0, grad_where[True], grad_where[False]).astype(z.dtype)",
    "slopes = dict(default=0.01)\n"
    "def leaky_relu(z, alpha=slopes['default']):\n"
    "    return np.where(z > 0, z, alpha * z).astype(z.dtype)  # keep float32?\n"
    "leaky_relu_grad = lambda z, alpha=slopes['default']: np.where(z > 0, 1, alpha).astype(z.dtype)",
    "def softmax(z, axis=-1):\n"
    "    e = np.exp(z - z.max(axis=axis, keepdims=True))\n"
    "    return e / e.sum(axis=axis, keepdims=True)\n"
    "\n"
    "log_softmax = lambda z, axis=-1: _log_softmax_of_shifted(z - z.max(axis=axis, keepdims=True), axis)\n"
    "def _log_softmax_of_shifted(s, axis):\n"
    "    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))",
    "x = np.linspace(-3, 3, 7)\ny = relu(x)\nprint(y)\n%timeit relu(x)",
    "y2 = y  # a demonstration that uses what the cell above computed\nfig, ax = plt.subplots()\nax.plot(x, y2)",
]
# ``LIMIT = max_exp`` failed in its own cell in the student's kernel too: max_exp is defined nowhere.
LIMIT = "LIMIT = max_exp\ndef sigmoid(z):\n    z = np.clip(z, -LIMIT, LIMIT)\n    return 1 / (1 + np.exp(-z))"

NEURONS = [
    "import numpy as np\nfrom collections.abc import Callable",
    "def neuron(x, w, b, activation):\n    return activation(x @ w + b)  # works for a batch too?",
    "dense_forward = neuron  # the same formula, with a matrix W",
    "variances = {\n"
    "    'he': lambda d_in, d_out: 2.0 / d_in,\n"
    "    'glorot': lambda d_in, d_out: 2.0 / (d_in + d_out),\n"
    "}\n"
    "\n"
    "def init_dense(d_in, d_out, rng, scheme='he'):\n"
    "    if scheme not in variances:\n"
    "        raise ValueError(f'unknown scheme {scheme!r}')\n"
    "    W = rng.normal(0.0, np.sqrt(variances[scheme](d_in, d_out)), size=(d_in, d_out))\n"
    "    return W, np.zeros(d_out)",
    "def mlp_forward(x, params, activation, output_activation=None):\n"
    "    h = x\n"
    "    for W, b in params[:-1]:\n"
    "        h = dense_forward(h, W, b, activation)  # the layer above, for every hidden layer\n"
    "    W, b = params[-1]\n"
    "    z = h @ W + b\n"
    "    return z if output_activation is None else output_activation(z)",
    "x = np.array([[1.0, 2.0]])\nprint(neuron(x, np.ones(2), 0.0, np.tanh))",
]
SIGN_SLIP = "def neuron(x, w, b, activation):\n    return activation(x @ w - b)  # a sign slip"


def notebook(path: Path, cells: list[str], assignment: str) -> Path:
    """A notebook file holding ``cells`` (``MD:`` starts a markdown cell)."""
    content = []
    for cell in cells:
        if cell.startswith("MD:"):
            content.append({"cell_type": "markdown", "metadata": {}, "source": cell[3:]})
        else:
            content.append(
                {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": cell}
            )
    path.write_text(json.dumps({"cells": content, "metadata": {"autograder": {"assignment": assignment}}}))
    return path


def hanging_tanh(folder: Path) -> Path:
    """The correct submission with a ``tanh`` that never returns and a correct ``tanh_grad`` that calls it."""
    source = (ROOT / "tests" / "submissions" / "02_activations" / "correct.py").read_text()
    source += "\n\ndef tanh(z):\n    while True:\n        pass\n\n\ndef tanh_grad(z):\n    return 1 - tanh(z) ** 2\n"
    path = folder / "hanging_tanh.py"
    path.write_text(source)
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("reading")
    limit = [LIMIT if cell.startswith("def sigmoid") else cell for cell in ACTIVATIONS if not cell.startswith("MD:")]
    slip = [SIGN_SLIP if cell.startswith("def neuron") else cell for cell in NEURONS]
    own = [cell.replace("b, activation)  #", "b, lambda v: activation(v))  #") for cell in slip]
    jobs = {
        "aliases": (notebook(folder / "activations.ipynb", ACTIVATIONS, "02_activations"), "02_activations", "grade"),
        "neurons": (notebook(folder / "neurons.ipynb", NEURONS, "01_neurons"), "01_neurons", "grade"),
        "hanging_tanh": (hanging_tanh(folder), "02_activations", "grade"),
        "limit": (notebook(folder / "limit.ipynb", limit, "02_activations"), "02_activations", "grade"),
        "limit_check": (folder / "limit.ipynb", "02_activations", "check"),
        "sign_slip": (notebook(folder / "sign_slip.ipynb", slip, "01_neurons"), "01_neurons", "grade"),
        "own_function": (notebook(folder / "own_function.ipynb", own, "01_neurons"), "01_neurons", "grade"),
    }
    return dict(zip(jobs, grade_many(list(jobs.values())), strict=True))


def test_aliases_lambdas_tables_and_comments_ending_in_a_question_mark_earn_full_marks(
    reports: dict[str, Report],
) -> None:
    assert reports["aliases"].points == 100 and reports["aliases"].max_points == 100
    assert reports["neurons"].points == 40 and reports["neurons"].max_points == 40


def test_what_is_left_out_is_named_once_and_costs_nothing(reports: dict[str, Report]) -> None:
    report = reports["aliases"]
    left_out = [note for note in report.notes if note.startswith("the grader runs a notebook's")]
    assert left_out == [
        "the grader runs a notebook's imports, definitions and assignments, not its demonstrations, plots or "
        "training; it left out activations.ipynb, code cell 10 `x = np.linspace(-3, 3, 7)`: line 2; "
        "activations.ipynb, code cell 11 `y2 = y  # a demonstration that uses what the...`: lines 1, 2"
    ]
    assert render_text(report).count("code cell 11") == 1


def test_a_hanging_function_no_longer_costs_a_correct_function_that_calls_it(reports: dict[str, Report]) -> None:
    report = reports["hanging_tanh"]
    points = report.points_by_function()
    assert points["tanh"] == 0 and report.function("tanh").verdict == "timeout"
    assert points["tanh_grad"] == 10 and report.function("tanh_grad").verdict == "passed"
    assert report.function("tanh_grad").note == (
        "your `tanh_grad` is right; it failed only through your `tanh` (graded with the reference's in its place)"
    )
    assert report.points == 90


def test_arguments_the_grader_passed_travel_to_the_reference_sibling(reports: dict[str, Report]) -> None:
    """``mlp_forward`` hands ``dense_forward`` the activation the grader gave it: it reaches the reference by name.
    Its speed cannot be measured apart from the student's ``dense_forward``: that property is undecided, and its
    point is kept (a problem in one function costs that function only)."""
    report = reports["sign_slip"]
    timed = {p.name for p in load_assignment("01_neurons").properties_of("mlp_forward") if p.timing is not None}
    assert report.points_by_function() == {"neuron": 0, "dense_forward": 0, "init_dense": 10, "mlp_forward": 10}
    mlp = report.function("mlp_forward")
    assert mlp.note.startswith("your `mlp_forward` is right; it failed only through your `dense_forward`")
    assert {p.property for p in mlp.properties if p.verdict == "undecided"} == timed
    assert all("cannot be measured apart from yours" in p.feedback for p in mlp.properties if p.property in timed)


def test_a_function_of_the_student_s_own_cannot_reach_the_reference_and_the_first_grading_stands(
    reports: dict[str, Report],
) -> None:
    report = reports["own_function"]
    assert report.points_by_function() == {"neuron": 0, "dense_forward": 0, "init_dense": 10, "mlp_forward": 1}
    assert report.function("mlp_forward").note == (
        "mlp_forward calls your `dense_forward`: your code passes `dense_forward` a function, which cannot reach "
        "the reference's, so mlp_forward is graded with yours"
    )


def test_a_name_defined_only_by_a_line_that_did_not_run_is_named_once_and_grading_stops(
    reports: dict[str, Report],
) -> None:
    why = (
        "`LIMIT` is defined only by limit.ipynb, code cell 2 `LIMIT = max_exp`, line 1, which the grader did "
        "not run: it uses max_exp, which nothing before it defines"
    )
    for name in ("limit", "limit_check"):
        sigmoid = reports[name].function("sigmoid")
        assert sigmoid.note == f"sigmoid could not run: {why}"
        ran = [p for p in sigmoid.properties if p.verdict != "skipped"]
        assert {p.verdict for p in ran} == {"error"} and {p.feedback for p in ran} == {""}
        text = render_text(reports[name])
        assert "NameError" not in text and text.count(why) == 1 + (name == "limit_check")
    graded = reports["limit"]
    assert graded.points_by_function()["sigmoid"] == 0 and graded.points_by_function()["sigmoid_grad"] == 10
    assert graded.function("sigmoid_grad").note.startswith("your `sigmoid_grad` is right; it failed only through")
    assert graded.points == 90
    # A check has no reference to stand in: it says where to look first.
    checked = reports["limit_check"].function("sigmoid_grad").note
    assert checked.endswith(
        "sigmoid_grad calls your `sigmoid`: fix it first where a check fails, since every failure there shows here too"
    )
