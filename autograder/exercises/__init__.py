"""The exercises: one property catalogue per assignment, built from the shared builders in ``common`` and
the shared strategies in ``strategies``.

An assignment's catalogue is the module named after its id without the number: ``02_activations`` is
:mod:`autograder.exercises.activations`, which defines ``ASSIGNMENT``. Adding a module is all it takes
to add an assignment; nothing else registers it.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache

from autograder.grading.catalogue import Assignment

SHARED_MODULES = frozenset({"common", "strategies"})  # what every catalogue uses; not catalogues


class UnknownAssignment(Exception):
    pass


def catalogue_module(assignment_id: str) -> str:
    """The module holding ``assignment_id``'s catalogue: ``02_activations`` -> ``autograder.exercises.activations``."""
    number, _, topic = assignment_id.partition("_")
    return f"{__name__}.{topic}" if number.isdigit() and topic.isidentifier() else ""


@cache
def known_assignments() -> list[str]:
    """Every assignment id, found by importing each catalogue module."""
    modules = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in SHARED_MODULES]
    return sorted(importlib.import_module(f"{__name__}.{name}").ASSIGNMENT.id for name in modules)


def is_known(assignment_id: str) -> bool:
    """Whether ``assignment_id`` has a catalogue module, found without importing it."""
    module_name = catalogue_module(assignment_id)
    if not module_name or module_name.rpartition(".")[2] in SHARED_MODULES:
        return False
    return importlib.util.find_spec(module_name) is not None


def load_assignment(assignment_id: str) -> Assignment:
    """The catalogue of ``assignment_id``, validated; :class:`UnknownAssignment` names the known ones."""
    module_name = catalogue_module(assignment_id)
    topic = module_name.rpartition(".")[2]
    if not module_name or topic in SHARED_MODULES:
        raise UnknownAssignment(f"unknown assignment {assignment_id!r} (known: {', '.join(known_assignments())})")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise UnknownAssignment(
            f"unknown assignment {assignment_id!r} (known: {', '.join(known_assignments())})"
        ) from None
    assignment: Assignment = module.ASSIGNMENT
    if assignment.id != assignment_id:
        raise UnknownAssignment(f"unknown assignment {assignment_id!r} (known: {', '.join(known_assignments())})")
    assignment.validate()
    return assignment
