"""Cutting a failing example down past where Hypothesis stops, to the one or two elements that show it."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.sandbox.protocol import NamedCallable


def _array_leaves(value: Any) -> list[np.ndarray] | None:
    """The arrays in an example's value (inside lists and tuples too); ``None`` if it holds a named callable,
    whose arguments may be tied to the arrays' shapes."""
    if isinstance(value, NamedCallable):
        return None
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        found: list[np.ndarray] = []
        for item in value:
            inner = _array_leaves(item)
            if inner is None:
                return None
            found.extend(inner)
        return found
    return []


def _sliced(value: Any, keep: list[int], axis: int) -> Any:
    if isinstance(value, np.ndarray):
        return np.take(value, keep, axis=axis)
    if isinstance(value, list):
        return [_sliced(item, keep, axis) for item in value]
    if isinstance(value, tuple):
        return tuple(_sliced(item, keep, axis) for item in value)
    return value


def aligned_slices(example: Any) -> list[Any]:
    """Smaller versions of an example whose arrays all share one shape (an elementwise function's ``z``, a loss's
    ``(y_pred, y)``, an optimizer's ``(w, dw, m, v)``), cut alike along one axis: first every single index of
    each axis, then every index left out. Each is an input the contract allows, as the example was.

    Values drawn from a seed (:func:`autograder.exercises.strategies.seeded_arrays`) change completely when
    Hypothesis shrinks the shape, so a failure found in one element of a 4x4 array stays a 4x4 array;
    replaying these cuts reaches the one or two elements that show it. Examples with arrays of different
    shapes, or with named callables, give none.
    """
    if not isinstance(example, dict):
        return []
    arrays: list[np.ndarray] = []
    for value in example.values():
        leaves = _array_leaves(value)
        if leaves is None:
            return []
        arrays.extend(leaves)
    if not arrays or any(array.shape != arrays[0].shape for array in arrays):
        return []
    shape = arrays[0].shape
    keeps = [(axis, [index]) for axis, length in enumerate(shape) if length > 1 for index in range(length)]
    keeps += [
        (axis, [other for other in range(length) if other != index])
        for axis, length in enumerate(shape)
        if length > 2
        for index in range(length)
    ]
    return [{name: _sliced(value, keep, axis) for name, value in example.items()} for axis, keep in keeps]
