"""Real student mistakes in 04_regularization, each planted in one function of the correct
submission (``bug_suite.Bug``).

Each bug replaces one function and names the properties that must catch it; the grader must take points
from that function and no other, and what the bug costs follows from the catalogue.
"""

from __future__ import annotations

from bug_suite import Bug

NUMPY = {"agrees_with_numpy", "agrees_with_reference"}
FORMULA = {"agrees_with_formula", "agrees_with_reference"}
SKLEARN = {"agrees_with_sklearn", "agrees_with_reference"}
RULE = {"agrees_with_rule", "agrees_with_reference", "worked_examples"}

BUGS: dict[str, Bug] = {
    "polynomial_features_one_power_short": Bug(
        function="polynomial_features",
        mistake="np.arange(degree): the powers stop at degree - 1",
        caught_by=NUMPY | {"returns_the_right_shape_and_dtype"},
        source="""
def polynomial_features(x, degree):
    return x[:, None] ** np.arange(degree)
""",
    ),
    # np.vander makes a float64 matrix for a float32 x (drawn since issue 14).
    "polynomial_features_decreasing_powers": Bug(
        function="polynomial_features",
        mistake="np.vander's default order: the highest power first",
        caught_by=NUMPY | {"first_column_is_ones", "returns_the_right_shape_and_dtype"},
        source="""
def polynomial_features(x, degree):
    return np.vander(x, degree + 1)
""",
    ),
    "polynomial_features_python_loop": Bug(
        function="polynomial_features",
        mistake="Python loops over the inputs and the powers",
        caught_by={"as_fast_as_reference"},
        source="""
def polynomial_features(x, degree):
    return np.array([[xi ** k for k in range(degree + 1)] for xi in x])
""",
    ),
    # x ** np.arange(...): an int64 exponent promotes a float32 x to float64 (drawn since issue 14).
    "polynomial_features_reshapes_its_input": Bug(
        function="polynomial_features",
        mistake="x.shape = (-1, 1) reshapes the caller's array instead of taking a view",
        caught_by={"leaves_input_unchanged", "returns_the_right_shape_and_dtype"},
        source="""
def polynomial_features(x, degree):
    x.shape = (-1, 1)
    return x ** np.arange(degree + 1)
""",
    ),
    "l2_penalty_on_biases": Bug(
        function="l2_penalty",
        mistake="penalizes the biases too",
        caught_by=FORMULA | {"ignores_biases"},
        source="""
def l2_penalty(params, lam):
    return lam / 2 * sum(np.sum(W ** 2) + np.sum(b ** 2) for W, b in params)
""",
    ),
    "l2_penalty_without_the_half": Bug(
        function="l2_penalty",
        mistake="lam * sum ||W||**2: the 1/2 of the convention is forgotten",
        caught_by=FORMULA,
        source="""
def l2_penalty(params, lam):
    return lam * sum(np.sum(W ** 2) for W, _ in params)
""",
    ),
    "l2_penalty_keeps_the_last_layer_only": Bug(
        function="l2_penalty",
        mistake="total = ... instead of total += ...: only the last layer counts",
        caught_by=FORMULA | {"sums_over_layers"},
        source="""
def l2_penalty(params, lam):
    total = 0.0
    for W, b in params:
        total = np.sum(W ** 2)
    return lam / 2 * total
""",
    ),
    "l2_penalty_forgets_lambda": Bug(
        function="l2_penalty",
        mistake="0.5 * sum ||W||**2: lam is never used",
        caught_by=FORMULA | {"zero_at_zero_lambda"},
        source="""
def l2_penalty(params, lam):
    return 0.5 * sum(np.sum(W ** 2) for W, _ in params)
""",
    ),
    "l2_penalty_squares_in_place": Bug(
        function="l2_penalty",
        mistake="np.square(W, out=W) squares the caller's weights",
        caught_by={"leaves_input_unchanged"},
        source="""
def l2_penalty(params, lam):
    total = 0.0
    for W, b in params:
        total += np.sum(np.square(W, out=W))
    return lam / 2 * total
""",
    ),
    "l2_penalty_grads_twice_lambda": Bug(
        function="l2_penalty_grads",
        mistake="2 * lam * W: differentiates lam * w**2 instead of lam / 2 * w**2",
        caught_by=FORMULA | {"matches_central_differences"},
        source="""
def l2_penalty_grads(params, lam):
    return [(2 * lam * W, np.zeros_like(b)) for W, b in params]
""",
    ),
    "l2_penalty_grads_on_biases": Bug(
        function="l2_penalty_grads",
        mistake="lam * b for the biases, as if they were penalized",
        caught_by={"agrees_with_reference", "matches_central_differences", "zero_bias_gradients"},
        source="""
def l2_penalty_grads(params, lam):
    return [(lam * W, lam * b) for W, b in params]
""",
    ),
    "l2_penalty_grads_scalar_bias_gradient": Bug(
        function="l2_penalty_grads",
        mistake="0.0 for each bias gradient instead of an array of zeros",
        caught_by={"agrees_with_reference", "shaped_like_params"},
        source="""
def l2_penalty_grads(params, lam):
    return [(lam * W, 0.0) for W, b in params]
""",
    ),
    "l2_penalty_grads_scales_in_place": Bug(
        function="l2_penalty_grads",
        mistake="W *= lam scales the caller's weights to make the gradient",
        caught_by={"leaves_input_unchanged"},
        source="""
def l2_penalty_grads(params, lam):
    grads = []
    for W, b in params:
        W *= lam
        grads.append((W, np.zeros_like(b)))
    return grads
""",
    ),
    "ridge_fit_penalizes_the_intercept": Bug(
        function="ridge_fit",
        mistake="lam * I: the intercept is penalized like every other weight",
        caught_by=SKLEARN | {"shift_moves_only_intercept", "huge_lambda_leaves_the_mean"},
        source="""
def ridge_fit(X, y, lam):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)
""",
    ),
    "ridge_fit_half_lambda": Bug(
        function="ridge_fit",
        mistake="lam / 2: mixes up the ridge objective with the network's lam / 2 * ||W||**2 convention",
        caught_by=SKLEARN,
        source="""
def ridge_fit(X, y, lam):
    D = np.eye(X.shape[1])
    D[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + lam / 2 * D, X.T @ y)
""",
    ),
    "ridge_fit_centres_y_in_place": Bug(
        function="ridge_fit",
        mistake="y -= y.mean() centres the caller's targets",
        caught_by={"leaves_input_unchanged"},
        source="""
def ridge_fit(X, y, lam):
    x_mean, y_mean = X[:, 1:].mean(axis=0), y.mean()
    y -= y_mean
    centred = X[:, 1:] - x_mean
    coef = np.linalg.solve(centred.T @ centred + lam * np.eye(X.shape[1] - 1), centred.T @ y)
    return np.concatenate([[y_mean - x_mean @ coef], coef])
""",
    ),
    "ridge_fit_column_of_targets": Bug(
        function="ridge_fit",
        mistake="y.reshape(-1, 1) makes w a column of shape (p, 1)",
        caught_by=SKLEARN | {"shift_moves_only_intercept", "huge_lambda_leaves_the_mean", "returns_the_right_shape"},
        source="""
def ridge_fit(X, y, lam):
    y = y.reshape(-1, 1)
    D = np.eye(X.shape[1])
    D[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + lam * D, X.T @ y)
""",
    ),
    # out = x * mask / (1 - p) is worth 1 since issue 14 gave a point to timing (8, not 7).
    "dropout_without_scaling": Bug(
        function="dropout_forward",
        mistake="x * mask: the kept units are not scaled by 1 / (1 - p)",
        caught_by={"mask_explains_output", "keeps_the_mean"},
        source="""
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = rng.random(x.shape) >= p
    return x * mask, mask
""",
    ),
    "dropout_active_in_evaluation": Bug(
        function="dropout_forward",
        mistake="ignores training: units are dropped at evaluation time too",
        caught_by={"identity_in_evaluation"},
        source="""
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
        function="dropout_forward",
        mistake="rng.random(x.shape) < p: p taken as the probability of keeping a unit",
        caught_by={"keeps_the_mean", "drops_a_fraction_p", "identity_at_p_zero", "zeros_at_p_one"},
        source="""
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
        function="dropout_forward",
        mistake="no special case for p = 1: 0 / 0 gives NaN",
        caught_by={"zeros_at_p_one"},
        source="""
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    mask = rng.random(x.shape) >= p
    return x * mask / (1 - p), mask
""",
    ),
    "dropout_in_place": Bug(
        function="dropout_forward",
        mistake="x *= mask / (1 - p) drops the caller's units",
        caught_by={"leaves_input_unchanged"},
        source="""
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
        function="dropout_forward",
        mistake="np.random.rand instead of the rng it was given",
        caught_by={"uses_the_rng"},
        source="""
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
        function="dropout_forward",
        mistake="CS231n's style: the scale folded into a float mask",
        caught_by={"returns_the_right_dtypes"},
        source="""
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    keep = 1 - p
    mask = (rng.random(x.shape) < keep) / keep if keep > 0 else np.zeros(x.shape)
    return x * mask, mask
""",
    ),
    "dropout_python_loop": Bug(
        function="dropout_forward",
        mistake="right, but one unit at a time: a scalar rng.random() per unit in a Python loop",
        caught_by={"as_fast_as_reference"},
        source="""
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
        function="dropout_forward",
        mistake="scale = keep / (1 - p): a boolean mask divided by a number is float64, which promotes a float32 x",
        caught_by={"returns_the_right_dtypes"},
        source="""
def dropout_forward(x, p, rng, training=True):
    if not training or p == 0:
        return x.copy(), np.ones(x.shape, dtype=bool)
    keep = rng.random(x.shape) >= p
    scale = keep / (1 - p) if p < 1 else np.zeros(x.shape)
    return x * scale, keep
""",
    ),
    "dropout_backward_without_scaling": Bug(
        function="dropout_backward",
        mistake="dout * mask: forgets the 1 / (1 - p) of the forward pass",
        caught_by=FORMULA | {"matches_central_differences"},
        source="""
def dropout_backward(dout, mask, p):
    if p == 1:
        return np.zeros_like(dout)
    return dout * mask
""",
    ),
    "dropout_backward_divides_by_zero_at_p_one": Bug(
        function="dropout_backward",
        mistake="no special case for p = 1: divides by zero",
        caught_by={"zeros_at_p_one"},
        source="""
def dropout_backward(dout, mask, p):
    return dout * mask / (1 - p)
""",
    ),
    "dropout_backward_in_place": Bug(
        function="dropout_backward",
        mistake="dout[~mask] = 0 zeroes the caller's gradient",
        caught_by={"leaves_input_unchanged"},
        source="""
def dropout_backward(dout, mask, p):
    if p == 1:
        return np.zeros_like(dout)
    dout[~mask] = 0.0
    dout /= 1 - p
    return dout
""",
    ),
    "dropout_backward_python_loop": Bug(
        function="dropout_backward",
        mistake="right, but one unit at a time in a Python loop",
        caught_by={"as_fast_as_reference"},
        source="""
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
        function="dropout_backward",
        mistake="mask.astype(float) is float64, which promotes a float32 gradient",
        caught_by={"keeps_shape_and_dtype"},
        source="""
def dropout_backward(dout, mask, p):
    if p == 1:
        return np.zeros_like(dout)
    return dout * mask.astype(float) / (1 - p)
""",
    ),
    "early_stopping_ties_move_the_best": Bug(
        function="early_stopping",
        mistake="<= instead of <: a tie moves the best epoch forward",
        caught_by=RULE | {"ties_keep_the_first_epoch"},
        source="""
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
        function="early_stopping",
        mistake="> instead of >=: stops one epoch late",
        caught_by=RULE | {"waits_exactly_patience_epochs"},
        source="""
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
        function="early_stopping",
        mistake="returns len(val_losses) when it never stops: one past the last epoch",
        caught_by=RULE | {"runs_to_the_end_if_never_triggered"},
        source="""
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
        function="early_stopping",
        mistake="val_losses.size: works on NumPy arrays only, not on a list",
        caught_by={"accepts_a_list"},
        source="""
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
    # Float32 inputs and losses at any magnitude (issue 14).
    "polynomial_features_float64_ones": Bug(
        function="polynomial_features",
        mistake="fills np.ones((n, degree + 1)) column by column: float64 whatever x's dtype",
        caught_by={"returns_the_right_shape_and_dtype"},
        source="""
def polynomial_features(x, degree):
    features = np.ones((len(x), degree + 1))
    for k in range(1, degree + 1):
        features[:, k] = x**k
    return features
""",
    ),
    "l2_penalty_grads_float64_zero_biases": Bug(
        function="l2_penalty_grads",
        mistake="np.zeros(b.shape) for db: float64 for a float32 network",
        caught_by={"shaped_like_params"},
        source="""
def l2_penalty_grads(params, lam):
    return [(lam * W, np.zeros(b.shape)) for W, b in params]
""",
    ),
    "early_stopping_best_starts_at_1e5": Bug(
        function="early_stopping",
        mistake="best_loss = 1e5 as 'a large number' before the loop: losses above it never become the best",
        caught_by=RULE - {"worked_examples"} | {"ties_keep_the_first_epoch", "runs_to_the_end_if_never_triggered"},
        source="""
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
        function="early_stopping",
        mistake="Keras's min_delta: an improvement counts only if it exceeds 1e-4",
        caught_by=RULE - {"worked_examples"} | {"ties_keep_the_first_epoch", "runs_to_the_end_if_never_triggered"},
        source="""
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
