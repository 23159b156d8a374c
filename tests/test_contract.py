"""The contract the grader keeps: docs/CURRICULUM.md, the catalogues and the reference solutions agree.

Every function a catalogue grades is stated in the contract with the signature of the reference solution and
a dtype rule, and every function the contract names is graded; the strategies draw what the contract allows
(both float dtypes wherever it says "the input's float dtype").
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.exercises import load_assignment
from autograder.grading.catalogue import DTYPE_RULES
from autograder.grading.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED, examples_of

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "docs" / "CURRICULUM.md"
ASSIGNMENTS = ("01_neurons", "02_activations", "03_gradient_descent", "04_regularization", "05_training_loop")
NUMPY_ASSIGNMENTS = ASSIGNMENTS[:4]  # the contract's "Conventions (all NumPy assignments)" cover these

# Words by which a contract row states each dtype rule; "input" is stated by the conventions themselves.
STATED_BY = {
    "float64": ("float64",),
    "number": ("Python float",),
    "integers": ("integer",),
    "torch": ("torch.", "nn.", "tensors", "Python float"),
}

# "input" functions whose strategies draw float64 alone, each for a reason the grader cannot fix alone.
FLOAT64_ONLY = {
    "ridge_fit": "the reference solution returns float64 for a float32 X (solutions/ belongs to the course)",
    "gradient_descent": "the iterates take grad's dtype too (a float64 gradient promotes them): the contract "
    "does not say which wins, and the grader asks for float64 iterates",
}


def contract_sections(text: str | None = None) -> dict[str, dict[str, tuple[str, str]]]:
    """Each assignment's table: function name -> (its signature as the contract writes it, its row's text)."""
    sections: dict[str, dict[str, tuple[str, str]]] = {}
    current: dict[str, tuple[str, str]] | None = None
    for line in (CONTRACT.read_text() if text is None else text).splitlines():
        heading = re.match(r"## (\d\d_\w+)", line)
        if heading:
            current = sections.setdefault(heading.group(1), {})
            continue
        if line.startswith("## "):
            current = None
        if current is None or not line.startswith("| `"):
            continue
        first, row = line[1:].split(" | ", 1)
        for signature in re.findall(r"`([^`]+)`", first):
            name = signature.split("(", 1)[0]
            current[name] = (signature, row)
    return sections


def conventions() -> str:
    text = CONTRACT.read_text()
    return text[text.index("## Conventions") : text.index("## 01_")]


def parameters(arguments: ast.arguments) -> list[tuple[str, Any]]:
    """``(name, default)`` of each parameter (defaults as values; ``...`` where there is none)."""
    positional = arguments.posonlyargs + arguments.args
    defaults: list[Any] = [...] * (len(positional) - len(arguments.defaults))
    defaults += [ast.literal_eval(default) for default in arguments.defaults]
    return [(argument.arg, default) for argument, default in zip(positional, defaults, strict=True)]


def contract_signature(signature: str) -> list[tuple[str, Any]]:
    tree = ast.parse(f"def {signature}: pass")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    return parameters(function.args)


def solution_signatures(assignment_id: str) -> dict[str, list[tuple[str, Any]]]:
    """The signature of every top-level function of the reference notebook."""
    assignment = load_assignment(assignment_id)
    notebook = json.loads((ROOT / "solutions" / assignment_id / assignment.notebook).read_text())
    found: dict[str, list[tuple[str, Any]]] = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:
            continue  # a cell of IPython syntax defines no graded function
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                found[node.name] = parameters(node.args)
    return found


SECTIONS = contract_sections()


def disagreements(assignment_id: str, sections: dict[str, dict[str, tuple[str, str]]]) -> list[str]:
    """Where the contract (``sections``) and the catalogue disagree: functions graded but not stated, stated but
    not graded, signatures other than the reference solution's, and dtype rules the contract does not state."""
    assignment = load_assignment(assignment_id)
    stated = sections.get(assignment_id, {})
    found = [f"{name} is graded but not in the contract" for name in assignment.functions if name not in stated]
    found += [f"{name} is in the contract but not graded" for name in stated if name not in assignment.functions]
    solutions = solution_signatures(assignment_id)
    for name, (signature, text) in stated.items():
        if name not in solutions:
            found.append(f"the reference notebook defines no {name}")
        elif contract_signature(signature) != solutions[name]:
            found.append(f"{name}: the contract says {signature}, the reference solution {solutions[name]}")
        rule = assignment.dtypes.get(name)
        if name not in assignment.functions:
            continue
        if rule not in DTYPE_RULES:
            found.append(f"{name}: the catalogue declares no dtype rule")
        elif rule == "input":
            if assignment_id not in NUMPY_ASSIGNMENTS or "the input's float dtype" not in conventions():
                found.append(f"{name}: no convention states the input's float dtype for it")
            if "float64" in text:
                found.append(f"{name}: the contract row names float64, the catalogue the input's dtype")
        elif not any(words in text for words in STATED_BY[rule]):
            found.append(f"{name}: the contract row does not state its dtype rule {rule!r}")
    return found


def test_the_contract_has_a_section_for_every_assignment() -> None:
    assert sorted(SECTIONS) == sorted(ASSIGNMENTS)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_the_contract_states_what_the_catalogue_grades(assignment_id: str) -> None:
    """The same functions, the reference solutions' signatures, and each function's dtype rule."""
    assert disagreements(assignment_id, SECTIONS) == []


def test_a_contract_that_leaves_something_out_is_caught() -> None:
    """The contract as it was before issue 14: no make_mlp, and numerical_gradient in the input's dtype."""
    text = CONTRACT.read_text()
    make_mlp = next(line for line in text.splitlines() if line.startswith("| `make_mlp("))
    old = text.replace(make_mlp + "\n", "")
    row = next(line for line in old.splitlines() if line.startswith("| `numerical_gradient("))
    old = old.replace(row, "| `numerical_gradient(f, x, eps=1e-6)` | central differences of `f` at `x`, in x's dtype |")
    old = old.replace("| `relu(z)`, `relu_grad(z)`", "| `relu(z, inplace=False)`, `relu_grad(z)`")
    assert disagreements("05_training_loop", contract_sections(old)) == ["make_mlp is graded but not in the contract"]
    assert disagreements("03_gradient_descent", contract_sections(old)) == [
        "numerical_gradient: the contract row does not state its dtype rule 'float64'"
    ]
    [wrong] = disagreements("02_activations", contract_sections(old))
    assert wrong.startswith("relu: the contract says relu(z, inplace=False)")


def _float_dtypes(value: Any) -> set[np.dtype[Any]]:
    """The dtypes of the float arrays in an example (inside lists, tuples and dicts too)."""
    if isinstance(value, np.ndarray):
        return {value.dtype} if value.dtype.kind == "f" else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_float_dtypes(item) for item in value)) if value else set()
    if isinstance(value, dict):
        return _float_dtypes(list(value.values()))
    return set()


@pytest.mark.parametrize("assignment_id", NUMPY_ASSIGNMENTS)
def test_the_strategies_draw_both_float_dtypes_wherever_the_contract_allows_them(assignment_id: str) -> None:
    """The examples grading checks (and those of ``check``) hold float32 and float64 inputs of every function
    whose contract is "the input's float dtype", so that float64 for a float32 input cannot pass unseen."""
    assignment = load_assignment(assignment_id)
    lacking = []
    for name in assignment.functions:
        if assignment.dtypes[name] != "input" or name in FLOAT64_ONLY:
            continue
        for mode, seed in ((GRADE, GRADING_SEED), (CHECK, PUBLIC_SEED)):
            drawn: set[np.dtype[Any]] = set()
            for prop in assignment.properties_of(name):
                if prop.strategy is not None and (prop.public or mode.include_hidden):
                    for example in examples_of(prop, seed, mode.max_examples):
                        drawn |= _float_dtypes(example)
            if drawn != {np.dtype(np.float32), np.dtype(np.float64)}:
                lacking.append(f"{name} ({mode.name}): {sorted(str(d) for d in drawn)}")
    assert lacking == []


def test_functions_drawn_in_float64_alone_are_only_those_with_a_reason() -> None:
    declared = {
        name: load_assignment(assignment_id).dtypes.get(name)
        for assignment_id in NUMPY_ASSIGNMENTS
        for name in load_assignment(assignment_id).functions
    }
    assert all(declared.get(name) == "input" for name in FLOAT64_ONLY)


def test_early_stopping_curves_span_the_orders_of_magnitude_of_real_losses() -> None:
    """The contract bounds no loss: curves of tiny improvements and of huge losses are both drawn."""
    assignment = load_assignment("04_regularization")
    largest, smallest_step = 0.0, np.inf
    for prop in assignment.properties_of("early_stopping"):
        if prop.strategy is None:
            continue
        for example in examples_of(prop, GRADING_SEED, GRADE.max_examples):
            losses = np.asarray(example["val_losses"], dtype=np.float64)
            largest = max(largest, float(np.max(losses)))
            steps = np.abs(np.diff(losses))
            if np.any(steps > 0):
                smallest_step = min(smallest_step, float(np.min(steps[steps > 0])))
    assert largest >= 1e6
    assert smallest_step <= 1e-5
