"""Callables and objects that travel to a worker by name (see :class:`autograder.protocol.NamedCallable`).

A property that passes a function to student code (an activation to ``neuron``, a gradient to
``gradient_descent``) or an object that is not plain data (a seeded ``numpy.random.Generator``) names
one of these; the worker rebuilds it from this trusted registry, so no code ever travels over the wire.
The grader rebuilds the same object for the reference with :func:`resolve_arguments`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.protocol import NamedCallable


def _identity() -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: np.array(z, copy=True)


def _ufunc(name: str) -> Callable[[np.ndarray], np.ndarray]:
    allowed = {"tanh", "exp", "sin", "square", "abs"}
    if name not in allowed:
        raise ValueError(f"unknown ufunc {name!r}")
    return getattr(np, name)  # type: ignore[no-any-return]


def _relu() -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: np.maximum(z, 0)


def _quadratic_grad(a: np.ndarray, b: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The gradient ``A w - b`` of ``f(w) = w·A w / 2 - b·w``."""
    return lambda w: a @ w - b


def _quadratic_value(a: np.ndarray, b: np.ndarray) -> Callable[[np.ndarray], float]:
    return lambda w: float(0.5 * np.sum(w * (a @ w)) - np.sum(b * w))


def _rng(seed: int) -> np.random.Generator:
    """A fresh generator: the student's function and the reference draw the same stream from it."""
    return np.random.default_rng(seed)


def _torch_harness(name: str, *args: Any) -> Any:
    """A PyTorch harness (:mod:`autograder.torch_harness`), imported on first use: NumPy work never imports torch."""
    from autograder.torch_harness import harness

    return harness(name, *args)


REGISTRY: dict[str, Callable[..., Any]] = {
    "identity": _identity,
    "ufunc": _ufunc,
    "relu": _relu,
    "quadratic_grad": _quadratic_grad,
    "quadratic_value": _quadratic_value,
    "rng": _rng,
    "torch": _torch_harness,
}


def resolve(name: str, args: list[Any]) -> Any:
    """Rebuild the named callable or object; an unknown name is a protocol error."""
    if name not in REGISTRY:
        raise ValueError(f"unknown callable {name!r}")
    return REGISTRY[name](*args)


def resolve_arguments(value: Any) -> Any:
    """``value`` with every :class:`NamedCallable` in it rebuilt (the grader's side, for the reference)."""
    if isinstance(value, NamedCallable):
        return resolve(value.name, [resolve_arguments(a) for a in value.args])
    if isinstance(value, list):
        return [resolve_arguments(item) for item in value]
    if isinstance(value, tuple):
        return tuple(resolve_arguments(item) for item in value)
    if isinstance(value, dict):
        return {key: resolve_arguments(item) for key, item in value.items()}
    return value
