"""The catalogue of named properties: what each graded function must do, and what it is worth.

Every function of an assignment is worth :data:`POINTS_PER_FUNCTION`, split over its properties.
A property is either drawn (Hypothesis draws inputs from ``strategy`` and ``test`` checks one of them)
or timed (the student's function is timed against the reference's on one large input). Public
properties run in ``autograder check``; hidden ones only when grading.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from autograder.grading.calls import Calls

POINTS_PER_FUNCTION = 10.0


@dataclass(frozen=True)
class Timing:
    """How to time a function: ``make_input(rng)`` builds the arguments of one large call.

    Rounds go on from ``min_rounds`` until the ratio is clearly on one side of ``max_ratio``, at most
    ``max_rounds`` (see :mod:`autograder.grading.timing`).
    """

    make_input: Callable[[Any], list[Any]]
    max_ratio: float = 3.0
    min_rounds: int = 3
    max_rounds: int = 30
    harness: Any = None  # a NamedCallable: call the function through a trusted harness (see Calls.student)


@dataclass(frozen=True, kw_only=True)
class Property:
    """One named, checkable promise about one function (every field by keyword)."""

    function: str
    name: str
    says: str  # the promise in plain words, as the feedback prints it
    hint: str  # a nudge that does not give the answer away
    points: float
    public: bool = True
    strategy: SearchStrategy[Any] | None = None
    test: Callable[[Calls, Any], None] | None = None
    timing: Timing | None = None
    needs_reference: bool = False  # runs only where the instructor's solutions are available
    # Partial credit rewards a function that does part of its job (docs/GRADING.md). A property that
    # ``establishes_correctness`` compares the function with the reference (or an outside reference) on
    # ordinary inputs, and no trivial function passes it; a ``gated`` property (an invariant or a
    # structural promise a trivial function can keep: shape, dtype, range, symmetry, input unchanged,
    # stability, a value at a special input) counts only when every establishing property of its
    # function passed. Timed properties are always gated: a wrong answer is easy to compute fast.
    establishes_correctness: bool = False
    # The verdict rests on evidence about how the function behaved that only its worker can report (the device
    # audit in 05); properties that read inputs after the call or floating-point errors are found out as they run.
    self_reported: bool = False
    gated: bool = False
    # Hints chosen by what a failure showed (autograder.grading.checks.observe: integers where floats were expected, an
    # overflow, 0/0, finite but wrong values, ...); ``hint`` answers for anything not named here.
    hints: Mapping[str, str] = field(default_factory=dict, compare=False)
    # The fewest drawn examples a verdict may rest on (or the run's number, if fewer): a property checked
    # on fewer is a grader error, never a pass. Hypothesis draws fewer than asked only from a small space.
    min_examples: int = 1

    @property
    def counts_only_when_correct(self) -> bool:
        return self.gated or self.timing is not None

    @property
    def key(self) -> str:
        return f"{self.function}.{self.name}"

    def hint_for(self, observed: str | None) -> str:
        """The hint for a failure that showed ``observed`` (see ``hints``), else the property's own."""
        return self.hints.get(observed or "", self.hint)


@dataclass(frozen=True)
class Plot:
    """A function of one array that can be drawn as a curve ``y = function(x)`` for ``low <= x <= high``.

    Feedback pages draw a failed plottable function against the reference over this range; the runner
    samples both on ``samples`` evenly spaced points (float64, shape ``(samples,)``) while grading.
    """

    function: str
    low: float
    high: float
    samples: int = 241
    variable: str = "z"  # the argument's name, for the axis label


# What a graded function returns, as docs/CURRICULUM.md states it; each catalogue declares one rule per function
# (tests/test_contract.py checks that the contract states it, and that the strategies draw what it allows).
DTYPE_RULES = {
    "input": "arrays of the input's float dtype: float32 in, float32 out; float64 in, float64 out",
    "float64": "float64 arrays, whatever the input's dtype",
    "number": "one number: a Python float (or a 0-d array)",
    "integers": "integers",
    "torch": "PyTorch objects and Python numbers, of the types its contract row names",
}


@dataclass(frozen=True)
class Assignment:
    """An assignment's catalogue: its functions in notebook order, each with its properties."""

    id: str
    notebook: str
    properties: tuple[Property, ...]
    # Each function's rule from DTYPE_RULES: what the contract says it returns.
    dtypes: Mapping[str, str] = field(default_factory=dict, compare=False)
    preload: tuple[str, ...] = ("numpy",)
    plots: tuple[Plot, ...] = ()  # the elementwise functions a feedback page can draw
    # Budgets where the runner's defaults do not fit (training a network takes longer than a ufunc):
    function_seconds: float | None = None  # all drawn properties of one function (default: the mode's)
    call_seconds: float | None = None  # one call in a worker (default: the sandbox's Limits)
    max_examples: int | None = None  # at most this many drawn examples per property (default: the mode's)
    # What the grader runs once where it can wait ahead of a first check (a notebook's first cell asks the
    # service to prepare the assignment): the outside references that are slow the first time, such as
    # PyTorch's optimizers, which load PyTorch's compiler on their first use.
    warm_up: Callable[[], None] | None = field(default=None, compare=False)
    functions: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = list(dict.fromkeys(p.function for p in self.properties))
        object.__setattr__(self, "functions", tuple(names))

    def validate(self) -> None:
        """Raise :class:`CatalogueError` where the catalogue breaks a rule every catalogue keeps.

        A view made from a catalogue (a benchmark's timing properties alone) is not a catalogue and
        is not validated.
        """
        keys = [p.key for p in self.properties]
        if len(set(keys)) != len(keys):
            twice = sorted({key for key in keys if keys.count(key) > 1})
            raise CatalogueError(f"{self.id}: property names used twice: {', '.join(twice)}")
        for plot in self.plots:
            if plot.function not in self.functions:
                raise CatalogueError(f"{self.id}: a plot names {plot.function}, which the catalogue does not grade")
        # A catalogue without hidden properties is the public part of one (a student bundle's): its functions
        # are worth what their public properties are.
        complete = any(not p.public for p in self.properties)
        for name in self.functions:
            props = self.properties_of(name)
            if complete and abs(self.max_points(name) - POINTS_PER_FUNCTION) > 1e-9:
                raise CatalogueError(
                    f"{self.id}: {name} is worth {self.max_points(name):g} points, not {POINTS_PER_FUNCTION:g}"
                )
            if any(p.counts_only_when_correct for p in props) and not any(p.establishes_correctness for p in props):
                raise CatalogueError(
                    f"{self.id}: {name} has gated or timed properties but no property that establishes_correctness"
                )
            if any(p.establishes_correctness and p.counts_only_when_correct for p in props):
                raise CatalogueError(f"{self.id}: a property of {name} cannot both establish correctness and be gated")
            if self.dtypes and self.dtypes.get(name) not in DTYPE_RULES:
                raise CatalogueError(f"{self.id}: {name} has no dtype rule (one of {', '.join(DTYPE_RULES)})")
            if any(p.min_examples < 1 for p in props):
                raise CatalogueError(f"{self.id}: a property of {name} asks for fewer than one example")
            # The runner decides whether to time a function when it reaches the timed property.
            timed = [index for index, p in enumerate(props) if p.timing is not None]
            if timed and any(p.establishes_correctness for p in props[min(timed) :]):
                raise CatalogueError(f"{self.id}: {name} has a property that establishes_correctness after a timed one")

    def properties_of(self, function: str) -> list[Property]:
        return [p for p in self.properties if p.function == function]

    def max_points(self, function: str) -> float:
        return sum(p.points for p in self.properties_of(function))

    def plot_of(self, function: str) -> Plot | None:
        return next((plot for plot in self.plots if plot.function == function), None)


class CatalogueError(Exception):
    """A catalogue breaks a rule every catalogue keeps (raised when it is built)."""
