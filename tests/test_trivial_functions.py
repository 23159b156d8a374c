"""Trivial functions earn nothing: every graded function of every assignment, written as a constant, as
zeros, as the identity or as ``return None``, gets 0 points (docs/GRADING.md, partial credit).

A trivial function keeps many invariants (a constant has the right shape, is symmetric, stable and
leaves its input alone); those properties are gated, so they count only once the function agrees with
the reference, which no trivial function does. Each (assignment, kind) is one submission, graded once;
the submissions of the tests selected are graded together, in one parallel pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from grading import grade_many

from autograder.exercises import known_assignments, load_assignment
from autograder.grading.report import Report

MARKS = {
    "01_neurons": pytest.mark.neurons,
    "02_activations": pytest.mark.activations,
    "03_gradient_descent": pytest.mark.gradient_descent,
    "04_regularization": pytest.mark.regularization,
    "05_training_loop": pytest.mark.training_loop,
}

# The first argument (positional, else the first keyword one), for the kinds that answer with its shape.
FIRST = "    first = args[0] if args else next(iter(kwargs.values()), None)\n"
# A float array (or NumPy scalar) keeps its dtype and shape, so that the dtype and shape properties hold;
# any other array gives float64, anything that is not an array a plain number.
SHAPED = (
    FIRST
    + "    if type(first).__name__ == 'Tensor':\n"
    + "        import torch\n"
    + "        return torch.full_like(first, {fill}, dtype=first.dtype if first.is_floating_point() else None)\n"
    + "    if isinstance(first, (np.ndarray, np.generic)):\n"
    + "        return np.full(first.shape, {fill}, dtype=first.dtype if first.dtype.kind == 'f' else np.float64)\n"
    + "    return {fill}\n"
)
KINDS = {
    "constant": SHAPED.format(fill=0.5),  # np.full(z.shape, 0.5) for an array z
    "zeros": SHAPED.format(fill=0.0),  # np.zeros_like(z)
    "identity": FIRST + "    return first\n",
    "none": "    return None\n",
}
CASES = [(assignment, kind) for assignment in known_assignments() for kind in KINDS]


def trivial_submission(assignment_id: str, kind: str) -> str:
    """A submission that defines every graded function of the assignment as the trivial ``kind``."""
    functions = [f"def {name}(*args, **kwargs):\n{KINDS[kind]}" for name in load_assignment(assignment_id).functions]
    return "import numpy as np\n\n\n" + "\n\n".join(functions)


@pytest.fixture(scope="module")
def reports(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """The trivial submissions of the selected tests, each graded once, all in one parallel pass."""
    selected = {
        item.callspec.id
        for item in request.session.items
        if getattr(item, "module", None) is request.module and hasattr(item, "callspec")
    }
    folder = tmp_path_factory.mktemp("trivial")
    jobs: dict[str, tuple[Path, str, str]] = {}
    for assignment_id, kind in CASES:
        case = f"{assignment_id}-{kind}"
        if case in selected:
            path = folder / f"{assignment_id}_{kind}.py"
            path.write_text(trivial_submission(assignment_id, kind))
            jobs[case] = (path, assignment_id, "grade")
    return dict(zip(jobs, grade_many(list(jobs.values())), strict=True))


@pytest.mark.parametrize(
    ("assignment_id", "kind"),
    [pytest.param(a, k, id=f"{a}-{k}", marks=MARKS[a]) for a, k in CASES],
)
def test_a_trivial_function_earns_nothing(assignment_id: str, kind: str, reports: dict[str, Report]) -> None:
    report = reports[f"{assignment_id}-{kind}"]
    functions = load_assignment(assignment_id).functions
    assert [f.name for f in report.functions] == list(functions)
    earned = {f.name: [(p.property, p.verdict, p.points) for p in f.properties if p.points] for f in report.functions}
    assert {name: points for name, points in earned.items() if points} == {}
    assert report.points == 0


def test_every_assignment_has_its_marker() -> None:
    assert sorted(MARKS) == known_assignments()
