"""Every catalogue keeps the rules of gated partial credit, and a catalogue that breaks them is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.exercises import known_assignments, load_assignment
from autograder.grading.catalogue import Assignment, CatalogueError, Plot, Property, Timing

ROOT = Path(__file__).resolve().parents[1]


def _property(*, name: str, points: float = 5.0, **flags: bool) -> Property:
    return Property(function="relu", name=name, says="says", hint="hint", points=points, **flags)  # type: ignore[arg-type]


@pytest.mark.parametrize("assignment_id", known_assignments())
def test_every_catalogue_validates(assignment_id: str) -> None:
    load_assignment(assignment_id).validate()


@pytest.mark.parametrize("assignment_id", known_assignments())
def test_check_has_a_public_property_that_establishes_correctness_wherever_it_has_gated_ones(
    assignment_id: str,
) -> None:
    """``check`` runs the public properties only, and its gate goes by the public establishing ones."""
    catalogue = load_assignment(assignment_id)
    for name in catalogue.functions:
        public = [p for p in catalogue.properties_of(name) if p.public]
        if any(p.counts_only_when_correct for p in public):
            assert any(p.establishes_correctness for p in public), name


def test_a_gated_property_without_one_that_establishes_correctness_is_refused() -> None:
    catalogue = Assignment("x", "x.ipynb", (_property(name="keeps_shape", gated=True), _property(name="within_range")))
    with pytest.raises(CatalogueError, match="relu has gated or timed properties"):
        catalogue.validate()


def test_a_timed_property_counts_only_when_correct() -> None:
    timed = Property(
        function="relu", name="fast", says="says", hint="hint", points=5.0, timing=Timing(make_input=lambda rng: [])
    )
    assert timed.counts_only_when_correct
    with pytest.raises(CatalogueError):
        Assignment("x", "x.ipynb", (timed, _property(name="within_range", establishes_correctness=False))).validate()


def test_a_property_cannot_both_establish_correctness_and_be_gated() -> None:
    both = _property(name="agrees", points=10.0, establishes_correctness=True, gated=True)
    with pytest.raises(CatalogueError, match="cannot both"):
        Assignment("x", "x.ipynb", (both,)).validate()


def test_gated_and_establishing_properties_together_are_accepted() -> None:
    properties = (_property(name="agrees", establishes_correctness=True), _property(name="k", gated=True))
    Assignment("x", "x.ipynb", properties).validate()


def test_an_establishing_property_after_a_timed_one_is_refused() -> None:
    """The runner decides whether to time a function when it reaches the timed property."""
    timed = Property(
        function="relu", name="fast", says="says", hint="hint", points=5.0, timing=Timing(make_input=lambda rng: [])
    )
    with pytest.raises(CatalogueError, match="after a timed one"):
        Assignment("x", "x.ipynb", (timed, _property(name="agrees", establishes_correctness=True))).validate()
    Assignment("x", "x.ipynb", (_property(name="agrees", establishes_correctness=True), timed)).validate()


def test_a_function_worth_other_than_ten_points_is_refused() -> None:
    hidden = Property(
        function="relu",
        name="agrees_with_reference",
        says="says",
        hint="hint",
        points=1.0,
        public=False,
        establishes_correctness=True,
    )
    with pytest.raises(CatalogueError, match="relu is worth 9 points, not 10"):
        Assignment(
            "x", "x.ipynb", (_property(name="agrees", points=8.0, establishes_correctness=True), hidden)
        ).validate()
    Assignment("x", "x.ipynb", (_property(name="agrees", points=9.0, establishes_correctness=True), hidden)).validate()


def test_a_property_name_used_twice_is_refused() -> None:
    twice = (
        _property(name="agrees", establishes_correctness=True),
        _property(name="agrees", establishes_correctness=True),
    )
    with pytest.raises(CatalogueError, match=r"used twice: relu\.agrees"):
        Assignment("x", "x.ipynb", twice).validate()


def test_a_plot_of_a_function_not_graded_is_refused() -> None:
    graded = (_property(name="agrees", points=10.0, establishes_correctness=True),)
    with pytest.raises(CatalogueError, match="a plot names tanh"):
        Assignment("x", "x.ipynb", graded, plots=(Plot("tanh", -3.0, 3.0),)).validate()


@pytest.mark.parametrize("assignment_id", known_assignments())
def test_every_graded_function_has_its_check_and_points_cells_in_the_solution_notebook(assignment_id: str) -> None:
    """A function the catalogue grades is taught, checked and graded in the notebook, under its own name."""
    catalogue = load_assignment(assignment_id)
    notebook = json.loads((ROOT / "solutions" / assignment_id / catalogue.notebook).read_text(encoding="utf-8"))
    cells = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    for name in catalogue.functions:
        assert any(f"def {name}(" in cell for cell in cells), f"{catalogue.notebook} does not define {name}"
        assert f"autograde.check({name})" in cells, f"{catalogue.notebook} has no cell `autograde.check({name})`"
        assert f'autograde.points("{name}")' in cells, f'{catalogue.notebook} has no cell `autograde.points("{name}")`'


def test_a_name_alone_neither_establishes_correctness_nor_gates() -> None:
    """Each catalogue declares both flags; nothing is derived from a property's name."""
    assert not _property(name="agrees_with_reference").establishes_correctness
    assert not _property(name="agrees_with_reference").counts_only_when_correct


@pytest.mark.parametrize("assignment_id", [a for a in known_assignments() if load_assignment(a).warm_up is not None])
def test_an_assignment_s_warm_up_runs_in_the_grader(assignment_id: str) -> None:
    """What the service runs when it prepares an assignment (autograder.service._prepare) runs, and runs again."""
    warm_up = load_assignment(assignment_id).warm_up
    assert warm_up is not None
    warm_up()
    warm_up()
