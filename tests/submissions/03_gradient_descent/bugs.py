"""Real student mistakes in 03_gradient_descent, each planted in one function of the correct
submission (``bug_suite.Bug``).

Each bug replaces one function and names the properties that must catch it; the grader must take points
from that function and no other, and what the bug costs follows from the catalogue.
"""

from __future__ import annotations

from bug_suite import Bug, edited

TORCH = {"agrees_with_reference", "agrees_with_torch"}
AUTOGRAD = {"agrees_with_reference", "agrees_with_torch_autograd"}
TORCH_SGD = {"agrees_with_reference", "agrees_with_torch_sgd"}
TORCH_ADAM = {"agrees_with_reference", "agrees_with_torch_adam"}

# A correct backpropagation in a student's style; some bugs below are small edits of it.
MLP = """
def mlp_loss_and_grads(x, labels, params, activation="relu"):
    g = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[activation]
    dg = {"relu": lambda z: (z > 0).astype(z.dtype), "tanh": lambda z: 1 - np.tanh(z) ** 2,
          "sigmoid": lambda z: g(z) * (1 - g(z))}[activation]
    hs, zs = [x], []
    for i, (W, b) in enumerate(params):
        zs.append(hs[-1] @ W + b)
        if i + 1 < len(params):
            hs.append(g(zs[-1]))
    n = x.shape[0]
    shifted = zs[-1] - zs[-1].max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), labels].mean()
    delta = np.exp(logp)
    delta[np.arange(n), labels] -= 1
    delta /= n
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        grads[i] = (hs[i].T @ delta, delta.sum(axis=0))
        if i > 0:
            delta = (delta @ params[i][0].T) * dg(zs[i - 1])
    return float(loss), grads
"""

# A correct gradient descent in a student's style.
GRADIENT_DESCENT = """
def gradient_descent(grad, w0, lr, steps):
    path = [np.array(w0, dtype=float)]
    for t in range(steps):
        path.append(path[-1] - lr * grad(path[-1]))
    return np.stack(path)
"""

# Correct optimizer steps in a student's style.
MOMENTUM = """
def sgd_momentum_step(w, dw, velocity, lr, beta=0.9):
    v = beta * velocity + dw
    return w - lr * v, v
"""

ADAM = """
def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
"""

# A correct mini-batch SGD in a student's style; most minibatch_sgd bugs below are small edits of it.
MINIBATCH = """
def minibatch_sgd(loss_and_grads, params, x, y, lr, batch_size, epochs, rng):
    params = [tuple(np.copy(p) for p in layer) for layer in params]
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss, grads = loss_and_grads(x[idx], y[idx], params)
            losses.append(loss)
            params = [tuple(p - lr * g for p, g in zip(layer, gl)) for layer, gl in zip(params, grads)]
        history.append(float(np.mean(losses)))
    return params, history
"""

BUGS: dict[str, Bug] = {
    # ------------------------------------------------------------------ mse_loss
    "mse_sum_instead_of_mean": Bug(
        function="mse_loss",
        mistake="sums the squared errors: the loss grows with the batch",
        caught_by=TORCH | {"mean_over_the_batch"},
        source="""
def mse_loss(y_pred, y):
    return float(np.sum((y_pred - y) ** 2))
""",
    ),
    "mse_keeps_dims": Bug(
        function="mse_loss",
        mistake="np.mean(..., keepdims=True): an array of ones in shape, not a number",
        caught_by={"returns_one_number"},
        source="""
def mse_loss(y_pred, y):
    return np.mean((y_pred - y) ** 2, keepdims=True)
""",
    ),
    "mse_in_place": Bug(
        function="mse_loss",
        mistake="subtracts the targets from the caller's predictions in place",
        caught_by={"leaves_input_unchanged"},
        source="""
def mse_loss(y_pred, y):
    y_pred -= y
    return float(np.mean(y_pred**2))
""",
    ),
    "mse_python_loop": Bug(
        function="mse_loss",
        mistake="a correct mean squared error, written as a Python loop over elements",
        caught_by={"as_fast_as_reference"},
        source="""
def mse_loss(y_pred, y):
    total = 0.0
    flat_pred, flat_y = y_pred.ravel(), y.ravel()
    for i in range(flat_pred.size):
        total += (float(flat_pred[i]) - float(flat_y[i])) ** 2
    return total / flat_pred.size
""",
    ),
    # ------------------------------------------------------------------ mse_loss_grad
    "mse_grad_missing_the_2": Bug(
        function="mse_loss_grad",
        mistake="forgets the 2 from differentiating the square",
        caught_by=AUTOGRAD | {"matches_central_differences"},
        source="""
def mse_loss_grad(y_pred, y):
    return (y_pred - y) / y.size
""",
    ),
    "mse_grad_returns_float64": Bug(
        function="mse_loss_grad",
        mistake="converts to float64 'to be safe', so a float32 input gets a float64 gradient",
        caught_by={"keeps_shape_and_dtype"},
        source="""
def mse_loss_grad(y_pred, y):
    return 2 * (np.asarray(y_pred, dtype=float) - y) / y.size
""",
    ),
    "mse_grad_in_place": Bug(
        function="mse_loss_grad",
        mistake="reuses the caller's predictions as the output array",
        caught_by={"leaves_input_unchanged"},
        source="""
def mse_loss_grad(y_pred, y):
    y_pred -= y
    y_pred *= 2 / y.size
    return y_pred
""",
    ),
    "mse_grad_python_loop": Bug(
        function="mse_loss_grad",
        mistake="a correct gradient, written element by element in a Python loop",
        caught_by={"as_fast_as_reference"},
        source="""
def mse_loss_grad(y_pred, y):
    grad = np.empty(y_pred.shape, dtype=y_pred.dtype)
    for i in range(grad.size):
        grad.flat[i] = 2 * (y_pred.flat[i] - y.flat[i]) / y.size
    return grad
""",
    ),
    # ------------------------------------------------------------------ huber_loss
    "huber_linear_branch_without_offset": Bug(
        function="huber_loss",
        mistake="delta * |r| beyond delta: the branches do not meet, the loss jumps at |r| = delta",
        caught_by=TORCH,
        source="""
def huber_loss(y_pred, y, delta=1.0):
    r = np.abs(y_pred - y)
    return float(np.mean(np.where(r <= delta, 0.5 * r**2, delta * r)))
""",
    ),
    "huber_squares_without_the_half": Bug(
        function="huber_loss",
        mistake="r**2 inside delta: the quadratic branch is twice too steep",
        caught_by=TORCH | {"quadratic_within_delta"},
        source="""
def huber_loss(y_pred, y, delta=1.0):
    r = np.abs(y_pred - y)
    return float(np.mean(np.where(r <= delta, r**2, delta * (r - 0.5 * delta))))
""",
    ),
    "huber_sums": Bug(
        function="huber_loss",
        mistake="sums over the elements: the loss grows with the batch",
        caught_by=TORCH | {"mean_over_the_batch", "quadratic_within_delta"},
        source="""
def huber_loss(y_pred, y, delta=1.0):
    r = np.abs(y_pred - y)
    return float(np.sum(np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))))
""",
    ),
    "huber_returns_an_array": Bug(
        function="huber_loss",
        mistake="np.mean(..., keepdims=True): an array of ones in shape, not a number",
        caught_by={"returns_one_number"},
        source="""
def huber_loss(y_pred, y, delta=1.0):
    r = np.abs(y_pred - y)
    return np.mean(np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta)), keepdims=True)
""",
    ),
    "huber_in_place": Bug(
        function="huber_loss",
        mistake="turns the caller's predictions into residuals in place",
        caught_by={"leaves_input_unchanged"},
        source="""
def huber_loss(y_pred, y, delta=1.0):
    y_pred -= y
    r = np.abs(y_pred)
    return float(np.mean(np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))))
""",
    ),
    "huber_python_loop": Bug(
        function="huber_loss",
        mistake="a correct Huber loss, written as a Python loop over elements",
        caught_by={"as_fast_as_reference"},
        source="""
def huber_loss(y_pred, y, delta=1.0):
    total = 0.0
    for p, t in zip(y_pred.ravel().tolist(), y.ravel().tolist()):
        r = abs(p - t)
        total += 0.5 * r * r if r <= delta else delta * (r - 0.5 * delta)
    return total / y_pred.size
""",
    ),
    # ------------------------------------------------------------------ bce_with_logits
    "bce_naive_sigmoid_and_log": Bug(
        function="bce_with_logits",
        mistake="the textbook formula: exp(-z) overflows and log(0) is -inf for large |z|",
        caught_by=TORCH | {"stable_for_large_inputs"},
        source="""
def bce_with_logits(z, y):
    p = 1 / (1 + np.exp(-z))
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
""",
    ),
    "bce_on_probabilities": Bug(
        function="bce_with_logits",
        mistake="binary cross-entropy of the logits as if they were probabilities",
        caught_by=TORCH | {"stable_for_large_inputs"},
        source="""
def bce_with_logits(z, y):
    return float(-np.mean(y * np.log(z) + (1 - y) * np.log(1 - z)))
""",
    ),
    "bce_sum_instead_of_mean": Bug(
        function="bce_with_logits",
        mistake="sums over the batch instead of averaging",
        caught_by=TORCH | {"mean_over_the_batch"},
        source="""
def bce_with_logits(z, y):
    return float(np.sum(np.logaddexp(0.0, z) - z * y))
""",
    ),
    "bce_mean_per_column": Bug(
        function="bce_with_logits",
        mistake="np.mean(..., axis=0): one loss per column instead of one number",
        caught_by=TORCH | {"mean_over_the_batch", "returns_one_number", "stable_for_large_inputs"},
        source="""
def bce_with_logits(z, y):
    return np.mean(np.logaddexp(0.0, z) - z * y, axis=0)
""",
    ),
    "bce_abs_in_place": Bug(
        function="bce_with_logits",
        mistake="takes |z| in place with np.abs(z, out=z), overwriting the caller's logits",
        caught_by={"leaves_input_unchanged"},
        source="""
def bce_with_logits(z, y):
    positive_part, zy = np.maximum(z, 0.0), z * y
    np.abs(z, out=z)
    return float(np.mean(positive_part - zy + np.log1p(np.exp(-z))))
""",
    ),
    "bce_python_loop": Bug(
        function="bce_with_logits",
        mistake="the stable formula, right, summed element by element in a Python loop",
        caught_by={"as_fast_as_reference"},
        source="""
import math

def bce_with_logits(z, y):
    total = 0.0
    for zi, yi in zip(z.ravel().tolist(), y.ravel().tolist()):
        total += max(zi, 0.0) - zi * yi + math.log1p(math.exp(-abs(zi)))
    return total / z.size
""",
    ),
    # ------------------------------------------------------------------ bce_with_logits_grad
    "bce_grad_naive_sigmoid": Bug(
        function="bce_with_logits_grad",
        mistake="1 / (1 + exp(-z)) overflows (with a warning) for large negative z",
        caught_by={"stable_for_large_inputs"},
        source="""
def bce_with_logits_grad(z, y):
    return (1 / (1 + np.exp(-z)) - y) / z.size
""",
    ),
    "bce_grad_without_mean": Bug(
        function="bce_with_logits_grad",
        mistake="sigmoid(z) - y, forgetting the 1/N of the mean",
        caught_by=AUTOGRAD | {"matches_central_differences"},
        source="""
def bce_with_logits_grad(z, y):
    return np.exp(-np.logaddexp(0.0, -z)) - y
""",
    ),
    "bce_grad_clips_in_place": Bug(
        function="bce_with_logits_grad",
        mistake="clips the caller's logits in place to avoid overflow",
        caught_by={"leaves_input_unchanged"},
        source="""
def bce_with_logits_grad(z, y):
    np.clip(z, -500, 500, out=z)
    return (1 / (1 + np.exp(-z)) - y) / z.size
""",
    ),
    "bce_grad_float64_ones": Bug(
        function="bce_with_logits_grad",
        mistake="np.ones(z.shape) (float64) in the sigmoid promotes a float32 gradient",
        caught_by={"keeps_shape_and_dtype"},
        source="""
def bce_with_logits_grad(z, y):
    ones = np.ones(z.shape)
    e = np.exp(-np.abs(z))
    sig = np.where(z >= 0, ones / (ones + e), e / (ones + e))
    return (sig - y) / z.size
""",
    ),
    "bce_grad_python_loop": Bug(
        function="bce_with_logits_grad",
        mistake="a stable sigmoid, right, computed element by element in a Python loop",
        caught_by={"as_fast_as_reference"},
        source="""
import math

def bce_with_logits_grad(z, y):
    grad = np.empty(z.shape, dtype=z.dtype)
    for i, (zi, yi) in enumerate(zip(z.ravel().tolist(), y.ravel().tolist())):
        e = math.exp(-abs(zi))
        sig = 1 / (1 + e) if zi >= 0 else e / (1 + e)
        grad.flat[i] = (sig - yi) / z.size
    return grad
""",
    ),
    # ------------------------------------------------------------------ cross_entropy
    "ce_without_max_shift": Bug(
        function="cross_entropy",
        mistake="log(sum(exp(logits))) without subtracting the row maximum: exp overflows",
        caught_by=TORCH | {"stable_for_large_inputs"},
        source="""
def cross_entropy(logits, labels):
    n = logits.shape[0]
    log_norm = np.log(np.exp(logits).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(n), labels]))
""",
    ),
    "ce_sum_over_the_batch": Bug(
        function="cross_entropy",
        mistake="sums the per-example losses instead of averaging them",
        caught_by=TORCH | {"mean_over_the_batch"},
        source="""
def cross_entropy(logits, labels):
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(n), labels].sum())
""",
    ),
    "ce_per_example_losses": Bug(
        function="cross_entropy",
        mistake="returns the vector of per-example losses, not their mean",
        caught_by=TORCH | {"mean_over_the_batch", "returns_one_number", "stable_for_large_inputs"},
        source="""
def cross_entropy(logits, labels):
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(n), labels]
""",
    ),
    "ce_shifts_in_place": Bug(
        function="cross_entropy",
        mistake="subtracts the row maximum from the caller's logits in place",
        caught_by={"leaves_input_unchanged"},
        source="""
def cross_entropy(logits, labels):
    n = logits.shape[0]
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(n), labels].mean())
""",
    ),
    "ce_python_loop_over_rows": Bug(
        function="cross_entropy",
        mistake="a correct cross-entropy computed row by row in a Python loop",
        caught_by={"as_fast_as_reference"},
        source="""
import math

def cross_entropy(logits, labels):
    total = 0.0
    for i in range(logits.shape[0]):
        row = [float(v) for v in logits[i]]
        top = max(row)
        log_norm = top + math.log(sum(math.exp(v - top) for v in row))
        total += log_norm - row[int(labels[i])]
    return total / logits.shape[0]
""",
    ),
    # ------------------------------------------------------------------ cross_entropy_grad
    "ce_grad_divides_by_every_element": Bug(
        function="cross_entropy_grad",
        mistake="divides by n * k (logits.size) instead of the number of rows",
        caught_by=AUTOGRAD | {"matches_central_differences"},
        source="""
def cross_entropy_grad(logits, labels):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    grad = e / e.sum(axis=1, keepdims=True)
    grad[np.arange(logits.shape[0]), labels] -= 1
    return grad / logits.size
""",
    ),
    "ce_grad_without_max_shift": Bug(
        function="cross_entropy_grad",
        mistake="softmax without the max shift: exp of a large logit overflows",
        caught_by=AUTOGRAD | {"stable_for_large_inputs"},
        source="""
def cross_entropy_grad(logits, labels):
    e = np.exp(logits)
    grad = e / e.sum(axis=1, keepdims=True)
    grad[np.arange(logits.shape[0]), labels] -= 1
    return grad / logits.shape[0]
""",
    ),
    "ce_grad_in_place": Bug(
        function="cross_entropy_grad",
        mistake="computes the softmax in the caller's array to save memory",
        caught_by={"leaves_input_unchanged"},
        source="""
def cross_entropy_grad(logits, labels):
    n = logits.shape[0]
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    logits[np.arange(n), labels] -= 1
    return logits / n
""",
    ),
    "ce_grad_float64_onehot": Bug(
        function="cross_entropy_grad",
        mistake="np.eye(k)[labels] is float64, which promotes a float32 gradient",
        caught_by={"keeps_shape_and_dtype"},
        source="""
def cross_entropy_grad(logits, labels):
    n, k = logits.shape
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True) - np.eye(k)[labels]) / n
""",
    ),
    "ce_grad_python_loop_over_rows": Bug(
        function="cross_entropy_grad",
        mistake="a correct gradient computed row by row in a Python loop",
        caught_by={"as_fast_as_reference"},
        source="""
def cross_entropy_grad(logits, labels):
    n = logits.shape[0]
    grad = np.empty_like(logits)
    for i in range(n):
        e = np.exp(logits[i] - logits[i].max())
        grad[i] = e / e.sum()
        grad[i, labels[i]] -= 1
    return grad / n
""",
    ),
    # ------------------------------------------------------------------ numerical_gradient
    "numerical_forward_difference": Bug(
        function="numerical_gradient",
        mistake="a one-sided difference (f(x + eps) - f(x)) / eps: error O(eps), not O(eps**2)",
        caught_by={"agrees_with_reference", "central_differences_with_eps"},
        source="""
def numerical_gradient(f, x, eps=1e-6):
    base = np.array(x, dtype=np.float64)
    grad = np.zeros_like(base)
    f0 = f(base)
    for idx in np.ndindex(base.shape):
        moved = base.copy()
        moved[idx] += eps
        grad[idx] = (f(moved) - f0) / eps
    return grad
""",
    ),
    "numerical_ignores_eps": Bug(
        function="numerical_gradient",
        mistake="always steps by 1e-6, whatever eps it is given",
        caught_by={"central_differences_with_eps"},
        source="""
def numerical_gradient(f, x, eps=1e-6):
    base = np.array(x, dtype=np.float64)
    grad = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[idx] += 1e-6
        down[idx] -= 1e-6
        grad[idx] = (f(up) - f(down)) / 2e-6
    return grad
""",
    ),
    "numerical_perturbs_x_in_place": Bug(
        function="numerical_gradient",
        mistake="nudges the caller's x in place and 'restores' it by subtracting: rounding leaves x changed",
        caught_by={"accurate_for_float32_input", "leaves_input_unchanged"},
        source="""
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        x[idx] += eps
        f_plus = f(x)
        x[idx] -= 2 * eps
        f_minus = f(x)
        x[idx] += eps
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad
""",
    ),
    "numerical_copy_keeps_float32": Bug(
        function="numerical_gradient",
        mistake="x.copy() keeps float32, where x + 1e-6 rounds to a neighbour of x",
        caught_by={"accurate_for_float32_input"},
        source="""
def numerical_gradient(f, x, eps=1e-6):
    xc = x.copy()
    grad = np.zeros_like(xc)
    for idx in np.ndindex(xc.shape):
        old = xc[idx]
        xc[idx] = old + eps
        f_plus = f(xc)
        xc[idx] = old - eps
        f_minus = f(xc)
        xc[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad
""",
    ),
    "numerical_returns_flat": Bug(
        function="numerical_gradient",
        mistake="walks the flattened x and forgets to reshape the gradient",
        caught_by={
            "accurate_for_float32_input",
            "agrees_with_analytic_gradient",
            "agrees_with_reference",
            "central_differences_with_eps",
            "returns_float64_shaped_like_x",
        },
        source="""
def numerical_gradient(f, x, eps=1e-6):
    flat = np.array(x, dtype=np.float64).ravel()
    grad = np.zeros(flat.size)
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up.reshape(x.shape)) - f(down.reshape(x.shape))) / (2 * eps)
    return grad
""",
    ),
    # ------------------------------------------------------------------ relative_error
    "relative_error_without_floor": Bug(
        function="relative_error",
        mistake="divides by |a| + |b| with no floor: 0 / 0 where both are zero",
        caught_by={"agrees_with_formula", "agrees_with_reference", "within_range", "zero_for_equal_inputs"},
        source="""
def relative_error(a, b):
    return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))
""",
    ),
    "relative_error_abs_of_sum": Bug(
        function="relative_error",
        mistake="divides by |a + b| instead of |a| + |b|",
        caught_by={"agrees_with_formula", "agrees_with_reference", "within_range"},
        source="""
def relative_error(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a + b))))
""",
    ),
    "relative_error_relative_to_a": Bug(
        function="relative_error",
        mistake="scales by |a| alone, as if a were the true value",
        caught_by={"agrees_with_formula", "agrees_with_reference", "symmetric", "within_range"},
        source="""
def relative_error(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a))))
""",
    ),
    "relative_error_mean_not_max": Bug(
        function="relative_error",
        mistake="averages the elementwise errors, hiding one bad coordinate",
        caught_by={"agrees_with_formula", "agrees_with_reference"},
        source="""
def relative_error(a, b):
    return float(np.mean(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
""",
    ),
    "relative_error_keeps_dims": Bug(
        function="relative_error",
        mistake="np.max(..., keepdims=True) returns an array, not a number",
        caught_by={"returns_one_number"},
        source="""
def relative_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), keepdims=True)
""",
    ),
    # ------------------------------------------------------------------ mlp_loss_and_grads
    "mlp_sum_instead_of_mean": Bug(
        function="mlp_loss_and_grads",
        mistake="sums the loss over the batch, so loss and gradients grow with n",
        caught_by=AUTOGRAD | {"agrees_with_torch_loss", "batch_invariant", "matches_central_differences"},
        source=edited(
            MLP,
            ("loss = -logp[np.arange(n), labels].mean()", "loss = -logp[np.arange(n), labels].sum()"),
            ("    delta /= n\n", ""),
        ),
    ),
    # The loss alone against PyTorch's is worth 1 since issue 14 gave a point to the grads' dtype.
    "mlp_derivative_of_the_activation_output": Bug(
        function="mlp_loss_and_grads",
        mistake="applies sigmoid'/tanh' to the layer's output h instead of its pre-activation z",
        caught_by=AUTOGRAD | {"matches_central_differences"},
        source=edited(MLP, ("dg(zs[i - 1])", "dg(hs[i])")),
    ),
    "mlp_bias_gradient_over_wrong_axis": Bug(
        function="mlp_loss_and_grads",
        mistake="db = delta.sum(axis=1): sums over the units of each example instead of over the batch",
        caught_by=AUTOGRAD
        | {"batch_invariant", "keeps_shape_and_dtype", "matches_central_differences", "permutation_invariant"},
        source=edited(MLP, ("delta.sum(axis=0))", "delta.sum(axis=1))")),
    ),
    "mlp_reverses_params_in_place": Bug(
        function="mlp_loss_and_grads",
        mistake="params.reverse() to walk the layers backwards, reversing the caller's list",
        caught_by={"leaves_input_unchanged"},
        source=edited(
            MLP,
            (
                "    for i in reversed(range(len(params))):\n",
                "    params.reverse()  # walk the layers from the last\n"
                "    for j, (W, b) in enumerate(params):\n"
                "        i = len(params) - 1 - j\n",
            ),
            ("delta = (delta @ params[i][0].T)", "delta = (delta @ W.T)"),
        ),
    ),
    "mlp_loops_over_examples": Bug(
        function="mlp_loss_and_grads",
        mistake="correct backpropagation, one example at a time in a Python loop",
        caught_by={"as_fast_as_reference"},
        source="""
def mlp_loss_and_grads(x, labels, params, activation="relu"):
    g = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[activation]
    dg = {"relu": lambda z, h: (z > 0).astype(z.dtype), "tanh": lambda z, h: 1 - h**2,
          "sigmoid": lambda z, h: h * (1 - h)}
    n = x.shape[0]
    grads = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    loss = 0.0
    for row, label in zip(x, labels):
        hs, zs = [row], []
        for i, (W, b) in enumerate(params):
            zs.append(hs[-1] @ W + b)
            if i + 1 < len(params):
                hs.append(g(zs[-1]))
        shifted = zs[-1] - zs[-1].max()
        logp = shifted - np.log(np.exp(shifted).sum())
        loss -= logp[label] / n
        delta = np.exp(logp)
        delta[label] -= 1
        delta /= n
        for i in reversed(range(len(params))):
            grads[i] = (grads[i][0] + np.outer(hs[i], delta), grads[i][1] + delta)
            if i > 0:
                delta = (params[i][0] @ delta) * dg[activation](zs[i - 1], hs[i])
    return float(loss), grads
""",
    ),
    "mlp_relu_derivative_promotes_float32": Bug(
        function="mlp_loss_and_grads",
        mistake="relu's derivative as (z > 0) * 1.0, a float64 array that promotes float32 gradients",
        caught_by={"keeps_shape_and_dtype"},
        source=edited(MLP, ("(z > 0).astype(z.dtype)", "(z > 0) * 1.0")),
    ),
    # ------------------------------------------------------------------ gradient_descent
    "gd_appends_the_same_array": Bug(
        function="gradient_descent",
        mistake="w -= lr * grad(w) on w0 itself, appending the same array every step",
        caught_by=TORCH_SGD | {"leaves_input_unchanged", "returns_every_iterate"},
        source="""
def gradient_descent(grad, w0, lr, steps):
    w = w0
    path = [w]
    for _ in range(steps):
        w -= lr * grad(w)
        path.append(w)
    return np.array(path)
""",
    ),
    "gd_ascends": Bug(
        function="gradient_descent",
        mistake="w + lr * grad(w): climbs the gradient",
        caught_by=TORCH_SGD | {"converges_to_the_minimum", "descends_below_2_over_L"},
        source=edited(GRADIENT_DESCENT, ("path[-1] - lr * grad", "path[-1] + lr * grad")),
    ),
    "gd_decays_the_learning_rate": Bug(
        function="gradient_descent",
        mistake="divides lr by the step number 'to be safe': no longer plain gradient descent",
        caught_by=TORCH_SGD | {"converges_to_the_minimum", "diverges_above_2_over_L"},
        source=edited(GRADIENT_DESCENT, ("path[-1] - lr * grad", "path[-1] - lr / (t + 1) * grad")),
    ),
    "gd_forgets_w0_in_row_zero": Bug(
        function="gradient_descent",
        mistake="preallocates with np.zeros and never writes w0 into row 0: the descent starts at 0",
        caught_by=TORCH_SGD | {"returns_every_iterate", "zero_lr_changes_nothing"},
        source="""
def gradient_descent(grad, w0, lr, steps):
    path = np.zeros((steps + 1, *np.shape(w0)))
    for t in range(steps):
        path[t + 1] = path[t] - lr * grad(path[t])
    return path
""",
    ),
    # ------------------------------------------------------------------ sgd_momentum_step
    "momentum_step_before_velocity": Bug(
        function="sgd_momentum_step",
        mistake="steps with the old velocity, then updates it",
        caught_by=TORCH_SGD | {"beta_zero_is_gradient_descent"},
        source="""
def sgd_momentum_step(w, dw, velocity, lr, beta=0.9):
    w_new = w - lr * velocity
    return w_new, beta * velocity + dw
""",
    ),
    "momentum_dampened": Bug(
        function="sgd_momentum_step",
        mistake="v = beta v + (1 - beta) dw: another course's convention, not PyTorch's",
        caught_by=TORCH_SGD | {"zero_lr_changes_nothing"},
        source=edited(MOMENTUM, ("beta * velocity + dw", "beta * velocity + (1 - beta) * dw")),
    ),
    "momentum_lr_in_velocity": Bug(
        function="sgd_momentum_step",
        mistake="v = beta v - lr dw; w = w + v: the learning rate folded into the velocity",
        caught_by=TORCH_SGD | {"beta_zero_is_gradient_descent", "zero_lr_changes_nothing"},
        source=edited(MOMENTUM, ("beta * velocity + dw", "beta * velocity - lr * dw"), ("w - lr * v, v", "w + v, v")),
    ),
    "momentum_in_place": Bug(
        function="sgd_momentum_step",
        mistake="updates the caller's velocity and weights in place",
        caught_by={"leaves_input_unchanged"},
        source="""
def sgd_momentum_step(w, dw, velocity, lr, beta=0.9):
    velocity *= beta
    velocity += dw
    w -= lr * velocity
    return w, velocity
""",
    ),
    "momentum_casts_to_float64": Bug(
        function="sgd_momentum_step",
        mistake="np.asarray(w, dtype=float) 'to be safe' turns float32 weights into float64",
        caught_by={"keeps_shape_and_dtype"},
        source=edited(
            MOMENTUM,
            ("    v = beta", "    w = np.asarray(w, dtype=float)\n    v = beta"),
            ("return w - lr * v, v", "return w - lr * v, v.astype(float)"),
        ),
    ),
    # ------------------------------------------------------------------ adam_step
    "adam_without_bias_correction": Bug(
        function="adam_step",
        mistake="uses m and v directly: the first steps are far too long",
        caught_by=TORCH_ADAM | {"first_step_has_length_lr"},
        source=edited(ADAM, ("m / (1 - beta1**t), v / (1 - beta2**t)", "m, v")),
    ),
    "adam_counts_t_from_zero": Bug(
        function="adam_step",
        mistake="corrects with beta**(t + 1), as if t counted from 0",
        caught_by=TORCH_ADAM | {"first_step_has_length_lr"},
        source=edited(
            ADAM, ("m / (1 - beta1**t), v / (1 - beta2**t)", "m / (1 - beta1 ** (t + 1)), v / (1 - beta2 ** (t + 1))")
        ),
    ),
    "adam_eps_inside_the_root": Bug(
        function="adam_step",
        mistake="sqrt(v_hat + eps) instead of sqrt(v_hat) + eps",
        caught_by=TORCH_ADAM | {"first_step_has_length_lr"},
        source=edited(ADAM, ("(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)")),
    ),
    "adam_ignores_lr": Bug(
        function="adam_step",
        mistake="always steps with the default learning rate 1e-3, whatever lr is passed",
        caught_by=TORCH_ADAM | {"first_step_has_length_lr", "zero_lr_changes_nothing"},
        source=edited(ADAM, ("w - lr * m_hat", "w - 1e-3 * m_hat")),
    ),
    "adam_moments_in_place": Bug(
        function="adam_step",
        mistake="updates the caller's moment arrays in place",
        caught_by={"leaves_input_unchanged"},
        source=edited(
            ADAM,
            ("    m = beta1 * m + (1 - beta1) * dw\n", "    m *= beta1\n    m += (1 - beta1) * dw\n"),
            ("    v = beta2 * v + (1 - beta2) * dw**2\n", "    v *= beta2\n    v += (1 - beta2) * dw**2\n"),
        ),
    ),
    "adam_casts_to_float64": Bug(
        function="adam_step",
        mistake="np.asarray(dw, dtype=float) turns a float32 step into float64",
        caught_by={"keeps_shape_and_dtype"},
        source=edited(ADAM, ("    m = beta1 * m", "    dw = np.asarray(dw, dtype=float)\n    m = beta1 * m")),
    ),
    # ------------------------------------------------------------------ minibatch_sgd
    "minibatch_never_shuffles": Bug(
        function="minibatch_sgd",
        mistake="walks the examples in their stored order every epoch",
        caught_by={"shuffles_every_epoch", "shuffles_with_the_given_rng"},
        source=edited(MINIBATCH, ("order = rng.permutation(len(x))", "order = np.arange(len(x))")),
    ),
    "minibatch_shuffles_once": Bug(
        function="minibatch_sgd",
        mistake="draws one permutation before the first epoch and reuses it",
        caught_by={"shuffles_every_epoch"},
        source=edited(
            MINIBATCH,
            ("        order = rng.permutation(len(x))\n", ""),
            ("    history = []\n", "    history = []\n    order = rng.permutation(len(x))\n"),
        ),
    ),
    "minibatch_global_random_state": Bug(
        function="minibatch_sgd",
        mistake="shuffles with np.random.permutation instead of the rng it is given",
        caught_by={"shuffles_with_the_given_rng"},
        source=edited(MINIBATCH, ("rng.permutation(len(x))", "np.random.permutation(len(x))")),
    ),
    "minibatch_reports_the_last_batch_loss": Bug(
        function="minibatch_sgd",
        mistake="records the loss of the epoch's last mini-batch as the epoch's loss",
        caught_by={"epoch_loss_is_mean_of_batches"},
        source=edited(MINIBATCH, ("float(np.mean(losses))", "float(loss)")),
    ),
    "minibatch_drops_the_last_partial_batch": Bug(
        function="minibatch_sgd",
        mistake="range(0, n - batch_size + 1, batch_size): the examples of a short last batch are never used",
        caught_by={
            "epoch_loss_is_mean_of_batches",
            "full_batch_is_gradient_descent",
            "shuffles_every_epoch",
            "shuffles_with_the_given_rng",
            "uses_every_example_once_per_epoch",
        },
        source=edited(MINIBATCH, ("range(0, len(x), batch_size)", "range(0, len(x) - batch_size + 1, batch_size)")),
    ),
    "minibatch_shuffles_x_and_y_apart": Bug(
        function="minibatch_sgd",
        mistake="shuffles x and y with two different permutations, pairing examples with other targets",
        caught_by={"full_batch_is_gradient_descent", "uses_every_example_once_per_epoch"},
        source=edited(
            MINIBATCH,
            ("order = rng.permutation(len(x))", "order, y_order = rng.permutation(len(x)), rng.permutation(len(x))"),
            ("y[idx]", "y[y_order[start:start + batch_size]]"),
        ),
    ),
    "minibatch_updates_in_place": Bug(
        function="minibatch_sgd",
        mistake="p -= lr * g on the caller's parameter arrays",
        caught_by={"leaves_input_unchanged"},
        source=edited(
            MINIBATCH,
            ("    params = [tuple(np.copy(p) for p in layer) for layer in params]\n", ""),
            (
                "            params = [tuple(p - lr * g for p, g in zip(layer, gl))"
                " for layer, gl in zip(params, grads)]",
                "            for layer, gl in zip(params, grads):\n"
                "                for p, g in zip(layer, gl):\n"
                "                    p -= lr * g",
            ),
        ),
    ),
    "minibatch_one_step_per_epoch": Bug(
        function="minibatch_sgd",
        mistake="adds up the mini-batch gradients and takes one step at the end of the epoch",
        caught_by={"steps_from_the_latest_params"},
        source="""
def minibatch_sgd(loss_and_grads, params, x, y, lr, batch_size, epochs, rng):
    params = [tuple(np.copy(p) for p in layer) for layer in params]
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        losses, total = [], None
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss, grads = loss_and_grads(x[idx], y[idx], params)
            losses.append(loss)
            if total is None:
                total = [list(gl) for gl in grads]
            else:
                total = [[a + g for a, g in zip(tl, gl)] for tl, gl in zip(total, grads)]
        params = [tuple(p - lr * g / len(losses) for p, g in zip(layer, tl)) for layer, tl in zip(params, total)]
        history.append(float(np.mean(losses)))
    return params, history
""",
    ),
    "minibatch_copies_params_as_float64": Bug(
        function="minibatch_sgd",
        mistake="copies the params with np.array(p, dtype=float) 'to be safe', so float32 params come back float64",
        caught_by={"keeps_shape_and_dtype"},
        source=edited(
            MINIBATCH, ("tuple(np.copy(p) for p in layer)", "tuple(np.array(p, dtype=float) for p in layer)")
        ),
    ),
}
