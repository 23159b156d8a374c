"""Callables and objects that travel to a worker by name (see :class:`autograder.sandbox.protocol.NamedCallable`).

A property that passes a function to student code (an activation to ``neuron``, a gradient to
``gradient_descent``) or an object that is not plain data (a seeded ``numpy.random.Generator``) names
one of these; the worker rebuilds it from this trusted registry, so no code ever travels over the wire.
The grader rebuilds the same object for the reference with :func:`resolve_arguments`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.sandbox.protocol import NamedCallable


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


def _sum_of_sines(c: np.ndarray) -> Callable[[np.ndarray], float]:
    """``f(x) = sum(c * sin(x))`` for ``x`` of ``c``'s shape (any shape): its gradient is ``c * cos(x)``."""
    return lambda x: float(np.sum(c * np.sin(x)))


def _sum_of_cubes(c: np.ndarray) -> Callable[[np.ndarray], float]:
    """``f(x) = sum(c * x**3)``: its central differences are exactly ``3 c x**2 + c eps**2``."""
    return lambda x: float(np.sum(c * x**3))


def _diagonal_quadratic_grad(c: np.ndarray, m: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The gradient ``c * (w - m)`` of ``f(w) = sum(c * (w - m)**2) / 2``, for ``w`` of any shape."""
    return lambda w: c * (w - m)


Params = list[tuple[np.ndarray, np.ndarray]]


def linear_network_loss_and_grads(x: np.ndarray, y: np.ndarray, params: Params) -> tuple[float, Params]:
    """The mean squared error of a linear network ``h = (...(x W1 + b1)...) WL + bL`` and its gradients.

    ``loss = mean((h - y)**2)`` over all elements; returns ``(loss, [(dW, db) for each layer])``. A
    trusted ``loss_and_grads`` for ``minibatch_sgd``: smooth, with several layers, cheap to evaluate.
    """
    inputs = []
    h = x
    for weights, bias in params:
        inputs.append(h)
        h = h @ weights + bias
    loss = float(np.mean((h - y) ** 2))
    delta = 2.0 * (h - y) / h.size
    grads: Params = []
    for (weights, _), layer_input in zip(reversed(params), reversed(inputs), strict=True):
        grads.append((layer_input.T @ delta, delta.sum(axis=0)))
        delta = delta @ weights.T
    return loss, grads[::-1]


def _linear_network() -> Callable[[np.ndarray, np.ndarray, Params], tuple[float, Params]]:
    return linear_network_loss_and_grads


def flat_parameters(params: Any) -> np.ndarray:
    """Every array of a list of layers, raveled and concatenated in order, as one float64 vector."""
    arrays = [np.ravel(np.asarray(array, dtype=np.float64)) for layer in params for array in layer]
    return np.concatenate(arrays) if arrays else np.zeros(0)


def _minibatch_probe() -> Callable[..., dict[str, Any]]:
    """A harness for ``minibatch_sgd(loss_and_grads, params, x, y, ...)`` that records every step.

    It hands the student's function a ``loss_and_grads`` that remembers each call's mini-batch, the
    parameters it was given, and the loss and gradients it answered. It returns the student's result and
    the record, packed into a few arrays so that it travels back cheaply: ``batch_sizes`` (one entry per
    call), ``x`` and ``y`` (the mini-batches stacked), ``losses``, and ``params`` and ``grads`` (each call's
    :func:`flat_parameters`, concatenated, with their lengths in ``param_sizes``). That is enough for the
    grader to check the shuffling, the batches and every SGD step without knowing which random numbers
    the student's code drew.
    """

    def run(student: Callable[..., Any], loss_and_grads: Callable[..., Any], *args: Any) -> dict[str, Any]:
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        losses: list[float] = []
        params_seen: list[np.ndarray] = []
        grads_given: list[np.ndarray] = []

        def recording(xb: np.ndarray, yb: np.ndarray, params: Params) -> tuple[float, Params]:
            loss, grads = loss_and_grads(xb, yb, params)
            xs.append(np.array(xb, dtype=np.float64, ndmin=2))
            ys.append(np.array(yb, dtype=np.float64, ndmin=2))
            losses.append(float(loss))
            params_seen.append(flat_parameters(params))
            grads_given.append(flat_parameters(grads))
            return loss, grads

        result = student(recording, *args)
        x, y = args[1], args[2]
        return {
            "result": result,
            "batch_sizes": np.array([len(batch) for batch in xs], dtype=np.int64),
            "x": np.concatenate(xs) if xs else np.zeros((0, np.shape(x)[1])),
            "y": np.concatenate(ys) if ys else np.zeros((0, np.shape(y)[1])),
            "losses": np.array(losses),
            "param_sizes": np.array([len(flat) for flat in params_seen], dtype=np.int64),
            "params": np.concatenate(params_seen) if params_seen else np.zeros(0),
            "grads": np.concatenate(grads_given) if grads_given else np.zeros(0),
        }

    return run


def _dropout_check() -> Callable[..., int]:
    """A timing harness for ``dropout_forward(x, p, rng)``: how many units of ``out`` disagree with the ``mask``
    returned (non-zero where it drops, or zero where it keeps a non-zero unit of ``x``); 0 for a right answer.

    The contract does not fix how a mask is drawn from the rng, so the student's mask and the reference's
    differ; this count does not. It asks no more than that out follows the mask: the scale, and the mask's
    distribution, are other properties' points (a timing counts only once the mask's distribution is right).
    """

    def run(student: Callable[..., Any], x: np.ndarray, p: float, rng: np.random.Generator) -> int:
        before = x.copy()  # a function that changes x in place loses its point elsewhere, not here
        out, mask = student(x, p, rng)
        kept = np.asarray(mask, dtype=bool)
        return int(np.count_nonzero((np.asarray(out) != 0) != (kept & (before != 0))))

    return run


# A timed answer with more elements than this comes back as a digest (:func:`digest`).
DIGEST_SAMPLE = 256


def digest(value: Any) -> Any:
    """``value`` with each large numeric array cut down to ``(shape, evenly spaced elements, mean |x|)``, the
    last two in the array's own dtype (float64 for integers and booleans); tuples and lists item by item.

    Timing hands back this digest instead of the answer, so that moving a result of megabytes, which costs
    about as much as computing it with one ufunc, neither hides nor inflates the work being timed. The
    digest still shows a fast wrong answer: its shape, its sampled elements or its mean are off.
    """
    if isinstance(value, tuple):
        return tuple(digest(item) for item in value)
    if isinstance(value, list):
        return [digest(item) for item in value]
    if not isinstance(value, np.ndarray) or value.size <= DIGEST_SAMPLE or value.dtype.kind not in "biuf":
        return value
    flat = value.reshape(-1)
    kept = value.dtype if value.dtype.kind == "f" else np.dtype(np.float64)
    sample = np.array(flat[:: flat.size // DIGEST_SAMPLE][:DIGEST_SAMPLE], dtype=kept)
    mean = np.asarray(np.mean(np.abs(flat), dtype=np.float64), dtype=kept)
    return (np.asarray(value.shape, dtype=np.int64), sample, mean)


def _digest() -> Callable[..., Any]:
    """The timing harness of a function called with plain data: its answer, as a :func:`digest`."""

    def run(student: Callable[..., Any], *args: Any) -> Any:
        return digest(student(*args))

    return run


def _torch_harness(name: str, *args: Any) -> Any:
    """A PyTorch harness (:mod:`autograder.sandbox.torch_harness`), imported on first use: NumPy work never
    imports torch."""
    from autograder.sandbox.torch_harness import harness

    return harness(name, *args)


REGISTRY: dict[str, Callable[..., Any]] = {
    "identity": _identity,
    "ufunc": _ufunc,
    "relu": _relu,
    "quadratic_grad": _quadratic_grad,
    "quadratic_value": _quadratic_value,
    "rng": _rng,
    "sum_of_sines": _sum_of_sines,
    "sum_of_cubes": _sum_of_cubes,
    "diagonal_quadratic_grad": _diagonal_quadratic_grad,
    "linear_network": _linear_network,
    "minibatch_probe": _minibatch_probe,
    "dropout_check": _dropout_check,
    "digest": _digest,
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
