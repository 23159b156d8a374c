"""Real student mistakes in 02_activations, each planted in one function of ``correct.py``.

Each bug replaces one function; the grader must take points from that function and no other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    function: str
    mistake: str
    source: str


BUGS: dict[str, Bug] = {
    "naive_sigmoid_overflows": Bug(
        "sigmoid",
        "the textbook formula: exp(-z) overflows for z < -709",
        """
def sigmoid(z):
    return 1 / (1 + np.exp(-z))
""",
    ),
    "softmax_without_max_shift": Bug(
        "softmax",
        "exp of large logits overflows to inf, and inf / inf is nan",
        """
def softmax(z, axis=-1):
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)
""",
    ),
    "softmax_over_wrong_axis": Bug(
        "softmax",
        "normalises over the batch (axis 0) instead of the classes",
        """
def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)
""",
    ),
    "relu_grad_one_at_negatives": Bug(
        "relu_grad",
        "treats every non-zero input as active",
        """
def relu_grad(z):
    return (z != 0).astype(z.dtype)
""",
    ),
    "tanh_grad_of_activation": Bug(
        "tanh_grad",
        "1 - z**2: the derivative written for the activated value, applied to z",
        """
def tanh_grad(z):
    return 1 - z ** 2
""",
    ),
    "leaky_relu_fixed_slope": Bug(
        "leaky_relu",
        "ignores alpha and uses a slope of 0.1",
        """
def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, 0.1 * z).astype(z.dtype)
""",
    ),
    "leaky_relu_grad_zero_at_negatives": Bug(
        "leaky_relu_grad",
        "copies relu's derivative: 0 for negative inputs",
        """
def leaky_relu_grad(z, alpha=0.01):
    return (z > 0).astype(z.dtype)
""",
    ),
    "relu_in_place": Bug(
        "relu",
        "zeroes the caller's array in place",
        """
def relu(z):
    z[z < 0] = 0
    return z
""",
    ),
    "sigmoid_python_loop": Bug(
        "sigmoid",
        "a correct, stable sigmoid written as a Python loop over elements",
        """
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
        "tanh",
        "computes in float64 and returns float64 for a float32 input",
        """
def tanh(z):
    return np.tanh(np.asarray(z, dtype=np.float64))
""",
    ),
    "log_of_softmax_underflows": Bug(
        "log_softmax",
        "log(softmax(z)): a probability that underflows to 0 gives -inf",
        """
def log_softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return np.log(e / np.sum(e, axis=axis, keepdims=True))
""",
    ),
    "sigmoid_grad_of_activation": Bug(
        "sigmoid_grad",
        "z * (1 - z): the derivative from the activated value, applied to z",
        """
def sigmoid_grad(z):
    return z * (1 - z)
""",
    ),
    # Further mistakes, so that every property is shown to catch at least one.
    "relu_grad_one_at_zero": Bug(
        "relu_grad",
        "z >= 0: relu counted as active at the kink",
        """
def relu_grad(z):
    return (z >= 0).astype(z.dtype)
""",
    ),
    "leaky_relu_grad_one_at_zero": Bug(
        "leaky_relu_grad",
        "z >= 0: slope 1 at the kink, where the contract says alpha",
        """
def leaky_relu_grad(z, alpha=0.01):
    return np.where(z >= 0, 1, alpha).astype(z.dtype)
""",
    ),
    "tanh_absolute_value": Bug(
        "tanh",
        "abs(tanh(z)): loses the sign",
        """
def tanh(z):
    return np.abs(np.tanh(z))
""",
    ),
    "relu_flattens": Bug(
        "relu",
        "returns a flat array whatever the input's shape",
        """
def relu(z):
    return np.maximum(z, 0).ravel()
""",
    ),
    "softmax_python_loop": Bug(
        "softmax",
        "a correct softmax over the last axis, written as Python loops",
        """
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
        "log_softmax",
        "log-sum-exp minus z instead of z minus log-sum-exp",
        """
def log_softmax(z, axis=-1):
    m = np.max(z, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)) - (z - m)
""",
    ),
    "sigmoid_grad_overflows": Bug(
        "sigmoid_grad",
        "exp(-z) / (1 + exp(-z))**2 overflows for large negative z",
        """
def sigmoid_grad(z):
    e = np.exp(-z)
    return e / (1 + e) ** 2
""",
    ),
    "sigmoid_shifted": Bug(
        "sigmoid",
        "1 / (1 + exp(1 - z)): an off-by-one in the exponent",
        """
def sigmoid(z):
    return np.exp(-np.logaddexp(0, 1 - z)).astype(z.dtype)
""",
    ),
    "relu_grad_integer_mask": Bug(
        "relu_grad",
        "(z > 0).astype(int): integers instead of the input's float dtype",
        """
def relu_grad(z):
    return (z > 0).astype(int)
""",
    ),
    "softmax_max_over_the_batch": Bug(
        "softmax",
        "subtracts the max over the batch (axis 0) but sums over the classes: 0/0 in rows far below the max",
        """
def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
    ),
}


def elementwise_loop(function: str, parameters: str, mistake: str, each: str) -> Bug:
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
    return Bug(function, mistake, source)


# A correct, stable function computed one element at a time in Python: right values, tens of times slower
# than NumPy on the whole array; only the timing property can tell.
BUGS.update(
    {
        "sigmoid_grad_python_loop": elementwise_loop(
            "sigmoid_grad",
            "z",
            "a correct, stable sigmoid_grad written as a Python loop over elements",
            "e = math.exp(-abs(x))\n        flat_out[i] = e / (1 + e) ** 2",
        ),
        "tanh_python_loop": elementwise_loop(
            "tanh", "z", "math.tanh of each element in a Python loop", "flat_out[i] = math.tanh(x)"
        ),
        "tanh_grad_python_loop": elementwise_loop(
            "tanh_grad",
            "z",
            "1 - math.tanh(x) ** 2 for each element in a Python loop",
            "flat_out[i] = 1 - math.tanh(x) ** 2",
        ),
        "relu_python_loop": elementwise_loop(
            "relu", "z", "max(x, 0) for each element in a Python loop", "flat_out[i] = x if x > 0 else 0.0"
        ),
        "relu_grad_python_loop": elementwise_loop(
            "relu_grad", "z", "1 or 0 for each element in a Python loop", "flat_out[i] = 1.0 if x > 0 else 0.0"
        ),
        "leaky_relu_python_loop": elementwise_loop(
            "leaky_relu",
            "z, alpha=0.01",
            "x or alpha * x for each element in a Python loop",
            "flat_out[i] = x if x > 0 else alpha * x",
        ),
        "leaky_relu_grad_python_loop": elementwise_loop(
            "leaky_relu_grad",
            "z, alpha=0.01",
            "1 or alpha for each element in a Python loop",
            "flat_out[i] = 1.0 if x > 0 else alpha",
        ),
        "log_softmax_python_loop": Bug(
            "log_softmax",
            "a correct, stable log_softmax computed row by row over Python lists of floats",
            """
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


def submission_with(bug: Bug, correct_source: str) -> str:
    """The correct submission with ``bug``'s function replaced (a later ``def`` wins)."""
    return correct_source + "\n\n# --- planted bug ---\n" + bug.source.strip() + "\n"
