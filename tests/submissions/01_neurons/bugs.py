"""Real student mistakes in 01_neurons, each planted in one function of ``correct.py``.

Each bug replaces one function; the grader must take points from that function and no other.
"""

from __future__ import annotations

from bug_suite import Bug

BUGS: dict[str, Bug] = {
    "neuron_bias_after_activation": Bug(
        "neuron",
        "adds the bias after the activation: g(x·w) + b",
        """
def neuron(x, w, b, activation):
    return activation(x @ w) + b
""",
    ),
    "neuron_sums_the_whole_batch": Bug(
        "neuron",
        "np.sum(x * w) sums over the examples too: a batch gives one number",
        """
def neuron(x, w, b, activation):
    return activation(np.sum(x * w) + b)
""",
    ),
    "neuron_loops_over_examples": Bug(
        "neuron",
        "a Python loop over the examples of a batch",
        """
def neuron(x, w, b, activation):
    if x.ndim == 1:
        return activation(np.dot(x, w) + b)
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = activation(np.dot(x[i], w) + b)
    return out
""",
    ),
    "neuron_reshapes_its_input": Bug(
        "neuron",
        "x.shape = (-1, d) turns the caller's single example into a batch of one",
        """
def neuron(x, w, b, activation):
    single = x.ndim == 1
    x.shape = (-1, w.shape[0])
    out = activation(x @ w + b)
    return out[0] if single else out
""",
    ),
    "dense_forward_transposed_weights": Bug(
        "dense_forward",
        "x @ W.T: weights stored the other way round",
        """
def dense_forward(x, W, b, activation):
    return activation(x @ W.T + b)
""",
    ),
    "dense_forward_forgets_the_bias": Bug(
        "dense_forward",
        "g(x @ W): the bias is never added",
        """
def dense_forward(x, W, b, activation):
    return activation(x @ W)
""",
    ),
    "dense_forward_bias_after_activation": Bug(
        "dense_forward",
        "adds the bias after the activation: g(x @ W) + b",
        """
def dense_forward(x, W, b, activation):
    return activation(x @ W) + b
""",
    ),
    "dense_forward_loops_over_examples": Bug(
        "dense_forward",
        "a Python loop over the rows of the batch",
        """
def dense_forward(x, W, b, activation):
    return np.array([activation(row @ W + b) for row in x])
""",
    ),
    "dense_forward_centres_inputs_in_place": Bug(
        "dense_forward",
        "x -= x.mean(axis=0): centres the caller's batch in place, so each row depends on the others",
        """
def dense_forward(x, W, b, activation):
    x -= x.mean(axis=0)
    return activation(x @ W + b)
""",
    ),
    "init_dense_variance_as_scale": Bug(
        "init_dense",
        "passes the variance 2 / d_in to rng.normal, whose scale is the standard deviation",
        """
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme == "he":
        variance = 2.0 / d_in
    elif scheme == "glorot":
        variance = 2.0 / (d_in + d_out)
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    return rng.normal(0.0, variance, size=(d_in, d_out)), np.zeros(d_out)
""",
    ),
    "init_dense_he_counts_outputs": Bug(
        "init_dense",
        "He initialization with the fan-out d_out instead of the fan-in d_in",
        """
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme == "he":
        std = np.sqrt(2.0 / d_out)
    elif scheme == "glorot":
        std = np.sqrt(2.0 / (d_in + d_out))
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    return rng.normal(0.0, std, size=(d_in, d_out)), np.zeros(d_out)
""",
    ),
    "init_dense_uniform_with_the_right_variance": Bug(
        "init_dense",
        "Keras's glorot_uniform and he_uniform: the right variance, but a uniform distribution",
        """
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme == "he":
        limit = np.sqrt(6.0 / d_in)
    elif scheme == "glorot":
        limit = np.sqrt(6.0 / (d_in + d_out))
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    return rng.uniform(-limit, limit, size=(d_in, d_out)), np.zeros(d_out)
""",
    ),
    "init_dense_random_instead_of_normal": Bug(
        "init_dense",
        "rng.random (uniform on [0, 1), like np.random.rand) where rng.standard_normal (randn) was meant",
        """
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme not in ("he", "glorot"):
        raise ValueError(f"unknown scheme {scheme!r}")
    std = np.sqrt(2.0 / d_in) if scheme == "he" else np.sqrt(2.0 / (d_in + d_out))
    return rng.random((d_in, d_out)) * std, np.zeros(d_out)
""",
    ),
    "init_dense_global_numpy_random": Bug(
        "init_dense",
        "draws from np.random instead of the rng it was given",
        """
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme not in ("he", "glorot"):
        raise ValueError(f"unknown scheme {scheme!r}")
    std = np.sqrt(2.0 / d_in) if scheme == "he" else np.sqrt(2.0 / (d_in + d_out))
    return np.random.randn(d_in, d_out) * std, np.zeros(d_out)
""",
    ),
    "init_dense_pytorch_layout": Bug(
        "init_dense",
        "W of shape (d_out, d_in), as torch.nn.Linear stores it",
        """
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme not in ("he", "glorot"):
        raise ValueError(f"unknown scheme {scheme!r}")
    std = np.sqrt(2.0 / d_in) if scheme == "he" else np.sqrt(2.0 / (d_in + d_out))
    return rng.normal(0.0, std, size=(d_out, d_in)), np.zeros(d_out)
""",
    ),
    "init_dense_key_error_for_unknown_scheme": Bug(
        "init_dense",
        "a dictionary lookup: an unknown scheme raises KeyError, not ValueError",
        """
def init_dense(d_in, d_out, rng, scheme="he"):
    std = {"he": np.sqrt(2.0 / d_in), "glorot": np.sqrt(2.0 / (d_in + d_out))}[scheme]
    return rng.normal(0.0, std, size=(d_in, d_out)), np.zeros(d_out)
""",
    ),
    "init_dense_random_biases": Bug(
        "init_dense",
        "draws the biases at random too",
        """
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme not in ("he", "glorot"):
        raise ValueError(f"unknown scheme {scheme!r}")
    std = np.sqrt(2.0 / d_in) if scheme == "he" else np.sqrt(2.0 / (d_in + d_out))
    return rng.normal(0.0, std, size=(d_in, d_out)), rng.normal(0.0, std, size=d_out)
""",
    ),
    "mlp_forward_activation_on_the_output": Bug(
        "mlp_forward",
        "applies the hidden activation to the output layer too",
        """
def mlp_forward(x, params, activation, output_activation=None):
    h = x
    for W, b in params:
        h = activation(h @ W + b)
    return h if output_activation is None else output_activation(h)
""",
    ),
    "mlp_forward_skips_the_last_layer": Bug(
        "mlp_forward",
        "loops over params[:-1] for the hidden layers and never applies the output layer",
        """
def mlp_forward(x, params, activation, output_activation=None):
    h = x
    for W, b in params[:-1]:
        h = activation(h @ W + b)
    return h if output_activation is None else output_activation(h)
""",
    ),
    "mlp_forward_pops_the_last_layer": Bug(
        "mlp_forward",
        "params.pop() takes the output layer out of the caller's list",
        """
def mlp_forward(x, params, activation, output_activation=None):
    W_out, b_out = params.pop()
    h = x
    for W, b in params:
        h = activation(h @ W + b)
    z = h @ W_out + b_out
    return z if output_activation is None else output_activation(z)
""",
    ),
    "mlp_forward_loops_over_examples": Bug(
        "mlp_forward",
        "runs the network on one example at a time",
        """
def mlp_forward(x, params, activation, output_activation=None):
    rows = []
    for row in x:
        h = row
        for i, (W, b) in enumerate(params):
            z = h @ W + b
            if i < len(params) - 1:
                h = activation(z)
            else:
                h = z if output_activation is None else output_activation(z)
        rows.append(h)
    return np.array(rows)
""",
    ),
    "mlp_forward_standardises_the_batch": Bug(
        "mlp_forward",
        "standardises the inputs with the batch's mean and standard deviation inside the forward pass",
        """
def mlp_forward(x, params, activation, output_activation=None):
    h = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)
    for i, (W, b) in enumerate(params):
        z = h @ W + b
        if i < len(params) - 1:
            h = activation(z)
        else:
            h = z if output_activation is None else output_activation(z)
    return h
""",
    ),
    "neuron_casts_to_float64": Bug(
        "neuron",
        "np.asarray(x, dtype=float) 'to be safe' turns a float32 batch into float64",
        """
def neuron(x, w, b, activation):
    x = np.asarray(x, dtype=float)
    return activation(x @ w + b)
""",
    ),
    "dense_forward_casts_the_weights_to_float64": Bug(
        "dense_forward",
        "np.asarray(W, dtype=float) 'to be safe' promotes a float32 layer to float64",
        """
def dense_forward(x, W, b, activation):
    return activation(x @ np.asarray(W, dtype=float) + b)
""",
    ),
    "mlp_forward_float64_copy_of_x": Bug(
        "mlp_forward",
        "np.array(x, dtype=float) to start from a fresh copy: a float32 batch comes out float64",
        """
def mlp_forward(x, params, activation, output_activation=None):
    out = np.array(x, dtype=float)
    last = len(params) - 1
    for layer, (W, b) in enumerate(params):
        out = out @ W + b
        if layer != last:
            out = activation(out)
    return out if output_activation is None else output_activation(out)
""",
    ),
}
