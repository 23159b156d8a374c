"""Real student mistakes in 02_activations, each planted in one function of the correct
submission (``bug_suite.Bug``).

Each bug replaces one function and names the properties that must catch it; the grader must take points
from that function and no other, and what the bug costs follows from the catalogue.
"""

from __future__ import annotations

from collections.abc import Set

from bug_suite import Bug

BUGS: dict[str, Bug] = {
    "naive_sigmoid_overflows": Bug(
        function="sigmoid",
        mistake="the textbook formula: exp(-z) overflows for z < -709",
        caught_by={"stable_for_large_inputs"},
        source="""
def sigmoid(z):
    return 1 / (1 + np.exp(-z))
""",
    ),
    "softmax_without_max_shift": Bug(
        function="softmax",
        mistake="exp of large logits overflows to inf, and inf / inf is nan",
        caught_by={
            "agrees_with_scipy",
            "respects_axis",
            "agrees_with_reference",
            "sums_to_one",
            "shift_invariant",
            "stable_for_large_inputs",
        },
        source="""
def softmax(z, axis=-1):
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)
""",
    ),
    "softmax_over_wrong_axis": Bug(
        function="softmax",
        mistake="normalises over the batch (axis 0) instead of the classes",
        caught_by={"agrees_with_scipy", "respects_axis", "agrees_with_reference", "sums_to_one"},
        source="""
def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)
""",
    ),
    "relu_grad_one_at_negatives": Bug(
        function="relu_grad",
        mistake="treats every non-zero input as active",
        caught_by={"matches_central_differences", "agrees_with_reference"},
        source="""
def relu_grad(z):
    return (z != 0).astype(z.dtype)
""",
    ),
    "tanh_grad_of_activation": Bug(
        function="tanh_grad",
        mistake="1 - z**2: the derivative written for the activated value, applied to z",
        caught_by={"matches_central_differences", "agrees_with_reference", "within_range"},
        source="""
def tanh_grad(z):
    return 1 - z ** 2
""",
    ),
    "leaky_relu_fixed_slope": Bug(
        function="leaky_relu",
        mistake="ignores alpha and uses a slope of 0.1",
        caught_by={"agrees_with_formula", "agrees_with_reference"},
        source="""
def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, 0.1 * z).astype(z.dtype)
""",
    ),
    "leaky_relu_grad_zero_at_negatives": Bug(
        function="leaky_relu_grad",
        mistake="copies relu's derivative: 0 for negative inputs",
        caught_by={"matches_central_differences", "agrees_with_reference", "value_at_zero"},
        source="""
def leaky_relu_grad(z, alpha=0.01):
    return (z > 0).astype(z.dtype)
""",
    ),
    "relu_in_place": Bug(
        function="relu",
        mistake="zeroes the caller's array in place",
        caught_by={"leaves_input_unchanged"},
        source="""
def relu(z):
    z[z < 0] = 0
    return z
""",
    ),
    "sigmoid_python_loop": Bug(
        function="sigmoid",
        mistake="a correct, stable sigmoid written as a Python loop over elements",
        caught_by={"as_fast_as_reference"},
        source="""
import math

def sigmoid(z):
    z = np.asarray(z)
    out = np.empty_like(z)
    flat_in, flat_out = z.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        x = float(flat_in[i])
        if x >= 0:
            flat_out[i] = 1 / (1 + math.exp(-x))
        else:
            e = math.exp(x)
            flat_out[i] = e / (1 + e)
    return out
""",
    ),
    "tanh_returns_float64": Bug(
        function="tanh",
        mistake="computes in float64 and returns float64 for a float32 input",
        caught_by={"keeps_shape_and_dtype"},
        source="""
def tanh(z):
    return np.tanh(np.asarray(z, dtype=np.float64))
""",
    ),
    "log_of_softmax_underflows": Bug(
        function="log_softmax",
        mistake="log(softmax(z)): a probability that underflows to 0 gives -inf",
        caught_by={"agrees_with_scipy", "agrees_with_reference", "stable_for_large_inputs"},
        source="""
def log_softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return np.log(e / np.sum(e, axis=axis, keepdims=True))
""",
    ),
    "sigmoid_grad_of_activation": Bug(
        function="sigmoid_grad",
        mistake="z * (1 - z): the derivative from the activated value, applied to z",
        caught_by={"matches_central_differences", "agrees_with_reference", "within_range"},
        source="""
def sigmoid_grad(z):
    return z * (1 - z)
""",
    ),
    # Further mistakes, so that every property is shown to catch at least one.
    "relu_grad_one_at_zero": Bug(
        function="relu_grad",
        mistake="z >= 0: relu counted as active at the kink",
        caught_by={"agrees_with_reference", "value_at_zero"},
        source="""
def relu_grad(z):
    return (z >= 0).astype(z.dtype)
""",
    ),
    "leaky_relu_grad_one_at_zero": Bug(
        function="leaky_relu_grad",
        mistake="z >= 0: slope 1 at the kink, where the contract says alpha",
        caught_by={"agrees_with_reference", "value_at_zero"},
        source="""
def leaky_relu_grad(z, alpha=0.01):
    return np.where(z >= 0, 1, alpha).astype(z.dtype)
""",
    ),
    "tanh_absolute_value": Bug(
        function="tanh",
        mistake="abs(tanh(z)): loses the sign",
        caught_by={"agrees_with_numpy", "agrees_with_reference", "symmetry"},
        source="""
def tanh(z):
    return np.abs(np.tanh(z))
""",
    ),
    "relu_flattens": Bug(
        function="relu",
        mistake="returns a flat array whatever the input's shape",
        caught_by={"agrees_with_numpy", "agrees_with_reference", "keeps_shape_and_dtype"},
        source="""
def relu(z):
    return np.maximum(z, 0).ravel()
""",
    ),
    "softmax_python_loop": Bug(
        function="softmax",
        mistake="a correct softmax over the last axis, written as Python loops",
        caught_by={"as_fast_as_reference"},
        source="""
import math

def softmax(z, axis=-1):
    z = np.moveaxis(np.asarray(z), axis, -1)
    rows = z.reshape(-1, z.shape[-1]) if z.ndim else z.reshape(1, 1)
    out = np.empty_like(rows)
    for r in range(rows.shape[0]):
        m = max(rows[r]) if rows.shape[1] else 0.0
        total = 0.0
        for c in range(rows.shape[1]):
            out[r, c] = math.exp(rows[r, c] - m)
            total += out[r, c]
        for c in range(rows.shape[1]):
            out[r, c] = out[r, c] / total
    return np.moveaxis(out.reshape(z.shape), -1, axis)
""",
    ),
    "log_softmax_sign_flipped": Bug(
        function="log_softmax",
        mistake="log-sum-exp minus z instead of z minus log-sum-exp",
        caught_by={"agrees_with_scipy", "agrees_with_reference", "is_log_of_softmax", "within_range"},
        source="""
def log_softmax(z, axis=-1):
    m = np.max(z, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)) - (z - m)
""",
    ),
    "sigmoid_grad_overflows": Bug(
        function="sigmoid_grad",
        mistake="exp(-z) / (1 + exp(-z))**2 overflows for large negative z",
        caught_by={"agrees_with_reference", "within_range", "stable_for_large_inputs"},
        source="""
def sigmoid_grad(z):
    e = np.exp(-z)
    return e / (1 + e) ** 2
""",
    ),
    "sigmoid_shifted": Bug(
        function="sigmoid",
        mistake="1 / (1 + exp(1 - z)): an off-by-one in the exponent",
        caught_by={"agrees_with_scipy", "agrees_with_reference", "symmetry"},
        source="""
def sigmoid(z):
    return np.exp(-np.logaddexp(0, 1 - z)).astype(z.dtype)
""",
    ),
    "relu_grad_integer_mask": Bug(
        function="relu_grad",
        mistake="(z > 0).astype(int): integers instead of the input's float dtype",
        caught_by={"keeps_shape_and_dtype"},
        source="""
def relu_grad(z):
    return (z > 0).astype(int)
""",
    ),
    "softmax_max_over_the_batch": Bug(
        function="softmax",
        mistake="subtracts the max over the batch (axis 0) but sums over the classes: 0/0 in rows far below the max",
        caught_by={
            "agrees_with_scipy",
            "respects_axis",
            "agrees_with_reference",
            "sums_to_one",
            "stable_for_large_inputs",
        },
        source="""
def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
    ),
}


def elementwise_loop(function: str, parameters: str, mistake: str, each: str, caught_by: Set[str]) -> Bug:
    """A correct elementwise function written as a Python loop over the elements (the classic slow one).

    ``each`` is the statement that sets ``flat_out[i]`` from ``x``, the i-th input as a Python float;
    the result keeps the input's shape and float dtype, and the input is left unchanged.
    """
    source = f"""
import math

def {function}({parameters}):
    z = np.asarray(z)
    out = np.empty_like(z)
    flat_in, flat_out = z.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        x = float(flat_in[i])
        {each}
    return out
"""
    return Bug(function=function, mistake=mistake, caught_by=caught_by, source=source)


# A correct, stable function computed one element at a time in Python: right values, tens of times slower
# than NumPy on the whole array; only the timing property can tell.
BUGS.update(
    {
        # Correct values computed one element at a time: only the timing property catches them.
        "sigmoid_grad_python_loop": elementwise_loop(
            "sigmoid_grad",
            "z",
            "a correct, stable sigmoid_grad written as a Python loop over elements",
            "e = math.exp(-abs(x))\n        flat_out[i] = e / (1 + e) ** 2",
            caught_by={"as_fast_as_reference"},
        ),
        "tanh_python_loop": elementwise_loop(
            "tanh",
            "z",
            "math.tanh of each element in a Python loop",
            "flat_out[i] = math.tanh(x)",
            caught_by={"as_fast_as_reference"},
        ),
        "tanh_grad_python_loop": elementwise_loop(
            "tanh_grad",
            "z",
            "1 - math.tanh(x) ** 2 for each element in a Python loop",
            "flat_out[i] = 1 - math.tanh(x) ** 2",
            caught_by={"as_fast_as_reference"},
        ),
        "relu_python_loop": elementwise_loop(
            "relu",
            "z",
            "max(x, 0) for each element in a Python loop",
            "flat_out[i] = x if x > 0 else 0.0",
            caught_by={"as_fast_as_reference"},
        ),
        "relu_grad_python_loop": elementwise_loop(
            "relu_grad",
            "z",
            "1 or 0 for each element in a Python loop",
            "flat_out[i] = 1.0 if x > 0 else 0.0",
            caught_by={"as_fast_as_reference"},
        ),
        "leaky_relu_python_loop": elementwise_loop(
            "leaky_relu",
            "z, alpha=0.01",
            "x or alpha * x for each element in a Python loop",
            "flat_out[i] = x if x > 0 else alpha * x",
            caught_by={"as_fast_as_reference"},
        ),
        "leaky_relu_grad_python_loop": elementwise_loop(
            "leaky_relu_grad",
            "z, alpha=0.01",
            "1 or alpha for each element in a Python loop",
            "flat_out[i] = 1.0 if x > 0 else alpha",
            caught_by={"as_fast_as_reference"},
        ),
        "log_softmax_python_loop": Bug(
            function="log_softmax",
            mistake="a correct, stable log_softmax computed row by row over Python lists of floats",
            caught_by={"as_fast_as_reference"},
            source="""
import math

def log_softmax(z, axis=-1):
    z = np.asarray(z)
    if z.ndim == 0:
        return np.zeros_like(z)
    moved = np.moveaxis(z, axis, -1)
    out = np.empty_like(moved)
    for index in np.ndindex(moved.shape[:-1]):
        row = [float(v) for v in moved[index]]
        if row:
            m = max(row)
            log_total = math.log(sum(math.exp(v - m) for v in row))
            out[index] = [v - m - log_total for v in row]
    return np.moveaxis(out, -1, axis)
""",
        ),
    }
)
