"""Real student mistakes in 04_regularization, each planted in one function of ``correct.py``.

Each bug replaces one function; the grader must take points from that function and no other.
"""

from __future__ import annotations

from bug_suite import Bug

BUGS: dict[str, Bug] = {
    "polynomial_features_one_power_short": Bug(
        "polynomial_features",
        "np.arange(degree): the powers stop at degree - 1",
        """
def polynomial_features(x, degree):
    return x[:, None] ** np.arange(degree)
""",
    ),
    "polynomial_features_decreasing_powers": Bug(
        "polynomial_features",
        "np.vander's default order: the highest power first",
        """
def polynomial_features(x, degree):
    return np.vander(x, degree + 1)
""",
    ),
    "polynomial_features_python_loop": Bug(
        "polynomial_features",
        "Python loops over the inputs and the powers",
        """
def polynomial_features(x, degree):
    return np.array([[xi ** k for k in range(degree + 1)] for xi in x])
""",
    ),
    "polynomial_features_reshapes_its_input": Bug(
        "polynomial_features",
        "x.shape = (-1, 1) reshapes the caller's array instead of taking a view",
        """
def polynomial_features(x, degree):
    x.shape = (-1, 1)
    return x ** np.arange(degree + 1)
""",
    ),
    "l2_penalty_on_biases": Bug(
        "l2_penalty",
        "penalizes the biases too",
        """
def l2_penalty(params, lam):
    return lam / 2 * sum(np.sum(W ** 2) + np.sum(b ** 2) for W, b in params)
""",
    ),
    "l2_penalty_without_the_half": Bug(
        "l2_penalty",
        "lam * sum ||W||**2: the 1/2 of the convention is forgotten",
        """
def l2_penalty(params, lam):
    return lam * sum(np.sum(W ** 2) for W, _ in params)
""",
    ),
    "l2_penalty_keeps_the_last_layer_only": Bug(
        "l2_penalty",
        "total = ... instead of total += ...: only the last layer counts",
        """
def l2_penalty(params, lam):
    total = 0.0
    for W, b in params:
        total = np.sum(W ** 2)
    return lam / 2 * total
""",
    ),
    "l2_penalty_forgets_lambda": Bug(
        "l2_penalty",
        "0.5 * sum ||W||**2: lam is never used",
        """
def l2_penalty(params, lam):
    return 0.5 * sum(np.sum(W ** 2) for W, _ in params)
""",
    ),
    "l2_penalty_squares_in_place": Bug(
        "l2_penalty",
        "np.square(W, out=W) squares the caller's weights",
        """
def l2_penalty(params, lam):
    total = 0.0
    for W, b in params:
        total += np.sum(np.square(W, out=W))
    return lam / 2 * total
""",
    ),
    "l2_penalty_grads_twice_lambda": Bug(
        "l2_penalty_grads",
        "2 * lam * W: differentiates lam * w**2 instead of lam / 2 * w**2",
        """
def l2_penalty_grads(params, lam):
    return [(2 * lam * W, np.zeros_like(b)) for W, b in params]
""",
    ),
    "l2_penalty_grads_on_biases": Bug(
        "l2_penalty_grads",
        "lam * b for the biases, as if they were penalized",
        """
def l2_penalty_grads(params, lam):
    return [(lam * W, lam * b) for W, b in params]
""",
    ),
    "l2_penalty_grads_scalar_bias_gradient": Bug(
        "l2_penalty_grads",
        "0.0 for each bias gradient instead of an array of zeros",
        """
def l2_penalty_grads(params, lam):
    return [(lam * W, 0.0) for W, b in params]
""",
    ),
    "l2_penalty_grads_scales_in_place": Bug(
        "l2_penalty_grads",
        "W *= lam scales the caller's weights to make the gradient",
        """
def l2_penalty_grads(params, lam):
    grads = []
    for W, b in params:
        W *= lam
        grads.append((W, np.zeros_like(b)))
    return grads
""",
    ),
    "ridge_fit_penalizes_the_intercept": Bug(
        "ridge_fit",
        "lam * I: the intercept is penalized like every other weight",
        """
def ridge_fit(X, y, lam):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)
""",
    ),
    "ridge_fit_half_lambda": Bug(
        "ridge_fit",
        "lam / 2: mixes up the ridge objective with the network's lam / 2 * ||W||**2 convention",
        """
def ridge_fit(X, y, lam):
    D = np.eye(X.shape[1])
    D[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + lam / 2 * D, X.T @ y)
""",
    ),
    "ridge_fit_centres_y_in_place": Bug(
        "ridge_fit",
        "y -= y.mean() centres the caller's targets",
        """
def ridge_fit(X, y, lam):
    x_mean, y_mean = X[:, 1:].mean(axis=0), y.mean()
    y -= y_mean
    centred = X[:, 1:] - x_mean
    coef = np.linalg.solve(centred.T @ centred + lam * np.eye(X.shape[1] - 1), centred.T @ y)
    return np.concatenate([[y_mean - x_mean @ coef], coef])
""",
    ),
    "ridge_fit_column_of_targets": Bug(
        "ridge_fit",
        "y.reshape(-1, 1) makes w a column of shape (p, 1)",
        """
def ridge_fit(X, y, lam):
    y = y.reshape(-1, 1)
    D = np.eye(X.shape[1])
    D[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + lam * D, X.T @ y)
""",
    ),
    "dropout_without_scaling": Bug(
        "dropout_forward",
        "x * mask: the kept units are not scaled by 1 / (1 - p)",
        """
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = rng.random(x.shape) >= p
    return x * mask, mask
""",
    ),
    "dropout_active_in_evaluation": Bug(
        "dropout_forward",
        "ignores training: units are dropped at evaluation time too",
        """
def dropout_forward(x, p, rng, training=True):
    if p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = rng.random(x.shape) >= p
    if p == 1:
        return np.zeros_like(x), mask
    return x * mask / (1 - p), mask
""",
    ),
    "dropout_keeps_with_probability_p": Bug(
        "dropout_forward",
        "rng.random(x.shape) < p: p taken as the probability of keeping a unit",
        """
def dropout_forward(x, p, rng, training=True):
    if not training:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = rng.random(x.shape) < p
    if p == 1:
        return np.zeros_like(x), mask
    return x * mask / (1 - p), mask
""",
    ),
    "dropout_divides_by_zero_at_p_one": Bug(
        "dropout_forward",
        "no special case for p = 1: 0 / 0 gives NaN",
        """
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), mask
""",
    ),
    "dropout_in_place": Bug(
        "dropout_forward",
        "x *= mask / (1 - p) drops the caller's units",
        """
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = rng.random(x.shape) >= p
    if p == 1:
        return np.zeros_like(x), mask
    x *= mask / (1 - p)
    return x, mask
""",
    ),
    "dropout_global_numpy_random": Bug(
        "dropout_forward",
        "np.random.rand instead of the rng it was given",
        """
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = np.random.rand(*x.shape) >= p
    if p == 1:
        return np.zeros_like(x), mask
    return x * mask / (1 - p), mask
""",
    ),
    "dropout_scaled_float_mask": Bug(
        "dropout_forward",
        "CS231n's style: the scale folded into a float mask",
        """
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    keep = 1 - p
    mask = (rng.random(x.shape) < keep) / keep if keep > 0 else np.zeros(x.shape)
    return x * mask, mask
""",
    ),
    "dropout_python_loop": Bug(
        "dropout_forward",
        "right, but one unit at a time: a scalar rng.random() per unit in a Python loop",
        """
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    out = np.zeros_like(x)
    mask = np.zeros(x.shape, dtype=bool)
    for i in range(x.size):
        if rng.random() >= p:
            mask.flat[i] = True
            out.flat[i] = x.flat[i] / (1 - p)
    return out, mask
""",
    ),
    "dropout_scales_with_a_float64_mask": Bug(
        "dropout_forward",
        "scale = keep / (1 - p): a boolean mask divided by a number is float64, which promotes a float32 x",
        """
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    keep = rng.random(x.shape) >= p
    scale = keep / (1 - p) if p < 1 else np.zeros(x.shape)
    return x * scale, keep
""",
    ),
    "dropout_backward_without_scaling": Bug(
        "dropout_backward",
        "dout * mask: forgets the 1 / (1 - p) of the forward pass",
        """
def dropout_backward(dout, mask, p):
    if p == 1:
        return np.zeros_like(dout)
    return dout * mask
""",
    ),
    "dropout_backward_divides_by_zero_at_p_one": Bug(
        "dropout_backward",
        "no special case for p = 1: divides by zero",
        """
def dropout_backward(dout, mask, p):
    return dout * mask / (1 - p)
""",
    ),
    "dropout_backward_in_place": Bug(
        "dropout_backward",
        "dout[~mask] = 0 zeroes the caller's gradient",
        """
def dropout_backward(dout, mask, p):
    if p == 1:
        return np.zeros_like(dout)
    dout[~mask] = 0.0
    dout /= 1 - p
    return dout
""",
    ),
    "dropout_backward_python_loop": Bug(
        "dropout_backward",
        "right, but one unit at a time in a Python loop",
        """
def dropout_backward(dout, mask, p):
    if p == 1:
        return np.zeros_like(dout)
    grad = np.zeros_like(dout)
    for i in range(dout.size):
        if mask.flat[i]:
            grad.flat[i] = dout.flat[i] / (1 - p)
    return grad
""",
    ),
    "dropout_backward_float_mask": Bug(
        "dropout_backward",
        "mask.astype(float) is float64, which promotes a float32 gradient",
        """
def dropout_backward(dout, mask, p):
    if p == 1:
        return np.zeros_like(dout)
    return dout * mask.astype(float) / (1 - p)
""",
    ),
    "early_stopping_ties_move_the_best": Bug(
        "early_stopping",
        "<= instead of <: a tie moves the best epoch forward",
        """
def early_stopping(val_losses, patience):
    best = 0
    for epoch in range(len(val_losses)):
        if val_losses[epoch] <= val_losses[best]:
            best = epoch
        if epoch - best >= patience:
            return epoch, best
    return len(val_losses) - 1, best
""",
    ),
    "early_stopping_waits_one_epoch_too_many": Bug(
        "early_stopping",
        "> instead of >=: stops one epoch late",
        """
def early_stopping(val_losses, patience):
    best = 0
    for epoch in range(len(val_losses)):
        if val_losses[epoch] < val_losses[best]:
            best = epoch
        if epoch - best > patience:
            return epoch, best
    return len(val_losses) - 1, best
""",
    ),
    "early_stopping_returns_the_length": Bug(
        "early_stopping",
        "returns len(val_losses) when it never stops: one past the last epoch",
        """
def early_stopping(val_losses, patience):
    best = 0
    for epoch in range(len(val_losses)):
        if val_losses[epoch] < val_losses[best]:
            best = epoch
        if epoch - best >= patience:
            return epoch, best
    return len(val_losses), best
""",
    ),
    "early_stopping_needs_an_array": Bug(
        "early_stopping",
        "val_losses.size: works on NumPy arrays only, not on a list",
        """
def early_stopping(val_losses, patience):
    best = 0
    for epoch in range(val_losses.size):
        if val_losses[epoch] < val_losses[best]:
            best = epoch
        if epoch - best >= patience:
            return epoch, best
    return val_losses.size - 1, best
""",
    ),
    "polynomial_features_float64_ones": Bug(
        "polynomial_features",
        "fills np.ones((n, degree + 1)) column by column: float64 whatever x's dtype",
        """
def polynomial_features(x, degree):
    features = np.ones((len(x), degree + 1))
    for k in range(1, degree + 1):
        features[:, k] = x**k
    return features
""",
    ),
    "l2_penalty_grads_float64_zero_biases": Bug(
        "l2_penalty_grads",
        "np.zeros(b.shape) for db: float64 for a float32 network",
        """
def l2_penalty_grads(params, lam):
    return [(lam * W, np.zeros(b.shape)) for W, b in params]
""",
    ),
    "early_stopping_best_starts_at_1e5": Bug(
        "early_stopping",
        "best_loss = 1e5 as 'a large number' before the loop: losses above it never become the best",
        """
def early_stopping(val_losses, patience):
    best_loss, best, stop = 1e5, 0, len(val_losses) - 1
    for epoch, loss in enumerate(val_losses):
        if loss < best_loss:
            best_loss, best = loss, epoch
        elif epoch - best >= patience:
            stop = epoch
            break
    return stop, best
""",
    ),
    "early_stopping_min_delta": Bug(
        "early_stopping",
        "Keras's min_delta: an improvement counts only if it exceeds 1e-4",
        """
def early_stopping(val_losses, patience, min_delta=1e-4):
    best, waited = 0, 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best] - min_delta:
            best, waited = epoch, 0
        else:
            waited += 1
        if waited >= patience:
            return epoch, best
    return len(val_losses) - 1, best
""",
    ),
}
