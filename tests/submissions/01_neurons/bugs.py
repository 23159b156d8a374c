"""Real student mistakes in 01_neurons, each planted in one function of the correct
submission (``bug_suite.Bug``).

Each bug replaces one function and names the properties that must catch it; the grader must take points
from that function and no other, and what the bug costs follows from the catalogue.
"""

from __future__ import annotations

from bug_suite import Bug

FORMULA = {"agrees_with_formula", "agrees_with_reference"}

BUGS: dict[str, Bug] = {
    "neuron_bias_after_activation": Bug(
        function="neuron",
        mistake="adds the bias after the activation: g(x·w) + b",
        caught_by=FORMULA | {"within_activation_range"},
        source="""
def neuron(x, w, b, activation):
    return activation(x @ w) + b
""",
    ),
    "neuron_sums_the_whole_batch": Bug(
        function="neuron",
        mistake="np.sum(x * w) sums over the examples too: a batch gives one number",
        caught_by=FORMULA | {"returns_the_right_shape_and_dtype", "rows_are_independent"},
        source="""
def neuron(x, w, b, activation):
    return activation(np.sum(x * w) + b)
""",
    ),
    # np.empty(n) to fill is float64: a float32 batch comes out float64 (drawn since issue 14).
    "neuron_loops_over_examples": Bug(
        function="neuron",
        mistake="a Python loop over the examples of a batch",
        caught_by={"as_fast_as_reference", "returns_the_right_shape_and_dtype"},
        source="""
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
        function="neuron",
        mistake="x.shape = (-1, d) turns the caller's single example into a batch of one",
        caught_by={"leaves_input_unchanged"},
        source="""
def neuron(x, w, b, activation):
    single = x.ndim == 1
    x.shape = (-1, w.shape[0])
    out = activation(x @ w + b)
    return out[0] if single else out
""",
    ),
    "dense_forward_transposed_weights": Bug(
        function="dense_forward",
        mistake="x @ W.T: weights stored the other way round",
        caught_by=FORMULA
        | {
            "returns_the_right_shape_and_dtype",
            "rows_are_independent",
            "within_activation_range",
            "leaves_input_unchanged",
        },
        source="""
def dense_forward(x, W, b, activation):
    return activation(x @ W.T + b)
""",
    ),
    "dense_forward_forgets_the_bias": Bug(
        function="dense_forward",
        mistake="g(x @ W): the bias is never added",
        caught_by=FORMULA,
        source="""
def dense_forward(x, W, b, activation):
    return activation(x @ W)
""",
    ),
    "dense_forward_bias_after_activation": Bug(
        function="dense_forward",
        mistake="adds the bias after the activation: g(x @ W) + b",
        caught_by=FORMULA | {"within_activation_range"},
        source="""
def dense_forward(x, W, b, activation):
    return activation(x @ W) + b
""",
    ),
    "dense_forward_loops_over_examples": Bug(
        function="dense_forward",
        mistake="a Python loop over the rows of the batch",
        caught_by={"as_fast_as_reference"},
        source="""
def dense_forward(x, W, b, activation):
    return np.array([activation(row @ W + b) for row in x])
""",
    ),
    "dense_forward_centres_inputs_in_place": Bug(
        function="dense_forward",
        mistake="x -= x.mean(axis=0): centres the caller's batch in place, so each row depends on the others",
        caught_by=FORMULA | {"rows_are_independent", "leaves_input_unchanged"},
        source="""
def dense_forward(x, W, b, activation):
    x -= x.mean(axis=0)
    return activation(x @ W + b)
""",
    ),
    "init_dense_variance_as_scale": Bug(
        function="init_dense",
        mistake="passes the variance 2 / d_in to rng.normal, whose scale is the standard deviation",
        caught_by={"he_std", "glorot_std"},
        source="""
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
        function="init_dense",
        mistake="He initialization with the fan-out d_out instead of the fan-in d_in",
        caught_by={"he_std"},
        source="""
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
        function="init_dense",
        mistake="Keras's glorot_uniform and he_uniform: the right variance, but a uniform distribution",
        caught_by={"normally_distributed"},
        source="""
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
        function="init_dense",
        mistake="rng.random (uniform on [0, 1), like np.random.rand) where rng.standard_normal (randn) was meant",
        caught_by={"zero_mean", "he_std", "glorot_std", "normally_distributed"},
        source="""
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme not in ("he", "glorot"):
        raise ValueError(f"unknown scheme {scheme!r}")
    std = np.sqrt(2.0 / d_in) if scheme == "he" else np.sqrt(2.0 / (d_in + d_out))
    return rng.random((d_in, d_out)) * std, np.zeros(d_out)
""",
    ),
    "init_dense_global_numpy_random": Bug(
        function="init_dense",
        mistake="draws from np.random instead of the rng it was given",
        caught_by={"uses_the_rng"},
        source="""
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme not in ("he", "glorot"):
        raise ValueError(f"unknown scheme {scheme!r}")
    std = np.sqrt(2.0 / d_in) if scheme == "he" else np.sqrt(2.0 / (d_in + d_out))
    return np.random.randn(d_in, d_out) * std, np.zeros(d_out)
""",
    ),
    "init_dense_pytorch_layout": Bug(
        function="init_dense",
        mistake="W of shape (d_out, d_in), as torch.nn.Linear stores it",
        caught_by={"returns_the_right_shapes"},
        source="""
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme not in ("he", "glorot"):
        raise ValueError(f"unknown scheme {scheme!r}")
    std = np.sqrt(2.0 / d_in) if scheme == "he" else np.sqrt(2.0 / (d_in + d_out))
    return rng.normal(0.0, std, size=(d_out, d_in)), np.zeros(d_out)
""",
    ),
    "init_dense_key_error_for_unknown_scheme": Bug(
        function="init_dense",
        mistake="a dictionary lookup: an unknown scheme raises KeyError, not ValueError",
        caught_by={"rejects_unknown_schemes"},
        source="""
def init_dense(d_in, d_out, rng, scheme="he"):
    std = {"he": np.sqrt(2.0 / d_in), "glorot": np.sqrt(2.0 / (d_in + d_out))}[scheme]
    return rng.normal(0.0, std, size=(d_in, d_out)), np.zeros(d_out)
""",
    ),
    "init_dense_random_biases": Bug(
        function="init_dense",
        mistake="draws the biases at random too",
        caught_by={"zero_biases"},
        source="""
def init_dense(d_in, d_out, rng, scheme="he"):
    if scheme not in ("he", "glorot"):
        raise ValueError(f"unknown scheme {scheme!r}")
    std = np.sqrt(2.0 / d_in) if scheme == "he" else np.sqrt(2.0 / (d_in + d_out))
    return rng.normal(0.0, std, size=(d_in, d_out)), rng.normal(0.0, std, size=d_out)
""",
    ),
    "mlp_forward_activation_on_the_output": Bug(
        function="mlp_forward",
        mistake="applies the hidden activation to the output layer too",
        caught_by=FORMULA | {"single_layer_network"},
        source="""
def mlp_forward(x, params, activation, output_activation=None):
    h = x
    for W, b in params:
        h = activation(h @ W + b)
    return h if output_activation is None else output_activation(h)
""",
    ),
    "mlp_forward_skips_the_last_layer": Bug(
        function="mlp_forward",
        mistake="loops over params[:-1] for the hidden layers and never applies the output layer",
        caught_by=FORMULA | {"single_layer_network", "returns_the_right_shape_and_dtype"},
        source="""
def mlp_forward(x, params, activation, output_activation=None):
    h = x
    for W, b in params[:-1]:
        h = activation(h @ W + b)
    return h if output_activation is None else output_activation(h)
""",
    ),
    # Each timed call gets a freshly stored input, so the in-place change costs its own property only.
    "mlp_forward_pops_the_last_layer": Bug(
        function="mlp_forward",
        mistake="params.pop() takes the output layer out of the caller's list",
        caught_by={"leaves_input_unchanged"},
        source="""
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
        function="mlp_forward",
        mistake="runs the network on one example at a time",
        caught_by={"as_fast_as_reference"},
        source="""
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
        function="mlp_forward",
        mistake="standardises the inputs with the batch's mean and standard deviation inside the forward pass",
        caught_by=FORMULA | {"single_layer_network", "rows_are_independent"},
        source="""
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
    # Float32 inputs (issue 14): float64 for a float32 batch costs the shape-and-dtype property.
    "neuron_casts_to_float64": Bug(
        function="neuron",
        mistake="np.asarray(x, dtype=float) 'to be safe' turns a float32 batch into float64",
        caught_by={"returns_the_right_shape_and_dtype"},
        source="""
def neuron(x, w, b, activation):
    x = np.asarray(x, dtype=float)
    return activation(x @ w + b)
""",
    ),
    "dense_forward_casts_the_weights_to_float64": Bug(
        function="dense_forward",
        mistake="np.asarray(W, dtype=float) 'to be safe' promotes a float32 layer to float64",
        caught_by={"returns_the_right_shape_and_dtype"},
        source="""
def dense_forward(x, W, b, activation):
    return activation(x @ np.asarray(W, dtype=float) + b)
""",
    ),
    "mlp_forward_float64_copy_of_x": Bug(
        function="mlp_forward",
        mistake="np.array(x, dtype=float) to start from a fresh copy: a float32 batch comes out float64",
        caught_by={"returns_the_right_shape_and_dtype"},
        source="""
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
