"""Real student mistakes in 05_training_loop, each planted in one function of the correct
submission (``bug_suite.Bug``).

Each bug replaces one function and names the properties that must catch it; the grader must take points
from that function and no other, and what the bug costs follows from the catalogue. Most bugs
are one small edit of the correct function (``edits``: pairs of text to find and its replacement), as a
student's mistakes usually are; the loaders that are built differently are written out (``source``).
"""

from __future__ import annotations

from bug_suite import Bug, function_text

MOVE = "inputs, targets = inputs.to(device), targets.to(device)\n"
BATCH_TOTAL = "batch_total = loss.detach() * inputs.shape[0]"

BUGS: dict[str, Bug] = {
    # -- get_device -------------------------------------------------------------------------------------
    "get_device_ignores_prefer": Bug(
        function="get_device",
        mistake="always returns the best device, whatever was asked for",
        caught_by={"honours_prefer", "fails_clearly_when_unavailable"},
        edits=(("if prefer is None:", "if True:"),),
    ),
    "get_device_mps_before_cuda": Bug(
        function="get_device",
        mistake="asks for MPS before CUDA",
        caught_by={"prefers_cuda_then_mps_then_cpu"},
        edits=(
            (
                '(("cuda", torch.cuda.is_available), ("mps", torch.backends.mps.is_available))',
                '(("mps", torch.backends.mps.is_available), ("cuda", torch.cuda.is_available))',
            ),
        ),
    ),
    "get_device_trusts_prefer": Bug(
        function="get_device",
        mistake="returns whatever was asked for, available or not: the error comes later, far away",
        caught_by={"fails_clearly_when_unavailable"},
        edits=(('        raise ValueError(f"{device} is not available here")\n', "        pass\n"),),
    ),
    # -- make_loader ------------------------------------------------------------------------------------
    "make_loader_shuffles_with_global_generator": Bug(
        function="make_loader",
        mistake="shuffles every loader (the validation set too) with the global generator: the order is not "
        "reproducible and shuffle=False is ignored",
        caught_by={"covers_each_example_once", "deterministic_for_seed"},
        source="""
class GlobalShuffle:
    def __init__(self, x, y, batch_size, device):
        self.x, self.y, self.batch_size = torch.as_tensor(x).to(device), torch.as_tensor(y).to(device), batch_size

    def __iter__(self):
        order = torch.randperm(len(self.x)).to(self.x.device)
        for chunk in order.split(self.batch_size):
            yield self.x[chunk], self.y[chunk]


def make_loader(x, y, batch_size, shuffle, seed, device):
    return GlobalShuffle(x, y, batch_size, device)
""",
    ),
    "make_loader_shuffles_once": Bug(
        function="make_loader",
        mistake="draws one permutation when the loader is made: every epoch has the same order",
        caught_by={"reshuffles_each_epoch"},
        source="""
class ShuffledOnce:
    def __init__(self, x, y, batch_size, shuffle, seed, device):
        self.x, self.y, self.batch_size = torch.as_tensor(x).to(device), torch.as_tensor(y).to(device), batch_size
        n = len(self.x)
        self.order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(n)

    def __iter__(self):
        for chunk in self.order.to(self.x.device).split(self.batch_size):
            yield self.x[chunk], self.y[chunk]


def make_loader(x, y, batch_size, shuffle, seed, device):
    return ShuffledOnce(x, y, batch_size, shuffle, seed, device)
""",
    ),
    "make_loader_moves_data_set_per_batch": Bug(
        function="make_loader",
        mistake="keeps the data on the host and moves the whole data set to the device for every batch",
        caught_by={"batches_on_device"},
        source="""
class MovesEverything:
    def __init__(self, x, y, batch_size, shuffle, seed, device):
        self.x, self.y, self.batch_size = torch.as_tensor(x), torch.as_tensor(y), batch_size
        self.shuffle, self.device = shuffle, device
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for chunk in order.split(self.batch_size):
            yield self.x.to(self.device)[chunk.to(self.device)], self.y.to(self.device)[chunk.to(self.device)]


def make_loader(x, y, batch_size, shuffle, seed, device):
    return MovesEverything(x, y, batch_size, shuffle, seed, device)
""",
    ),
    "make_loader_per_sample_data_loader": Bug(
        function="make_loader",
        mistake="a DataLoader over a TensorDataset: batches built one example at a time, on the host",
        caught_by={"batches_on_device", "as_fast_as_reference"},
        source="""
from torch.utils.data import DataLoader, TensorDataset


def make_loader(x, y, batch_size, shuffle, seed, device):
    generator = torch.Generator().manual_seed(seed)
    dataset = TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
""",
    ),
    # -- make_mlp ---------------------------------------------------------------------------------------
    "make_mlp_activation_after_last_layer": Bug(
        function="make_mlp",
        mistake="an activation after the output layer too: the logits are squashed",
        caught_by={"activation_between_layers", "relu_by_default"},
        edits=(
            (
                "        if index < len(linears) - 1:\n            modules.append(",
                "        if True:\n            modules.append(",
            ),
        ),
    ),
    "make_mlp_ignores_activation": Bug(
        function="make_mlp",
        mistake="always uses ReLU, whatever activation is asked for",
        caught_by={"activation_between_layers", "rejects_unknown_activation"},
        edits=(
            ("modules.append(kinds[activation]())", "modules.append(nn.ReLU())"),
            (
                '        raise ValueError(f"activation must be one of {sorted(kinds)}, not {activation!r}")',
                "        pass",
            ),
        ),
    ),
    "make_mlp_builds_layers_backwards": Bug(
        function="make_mlp",
        mistake="creates the layers from the last to the first, so a seed no longer reproduces the reference network",
        caught_by={"agrees_with_reference"},
        edits=(
            (
                "for a, b in zip(widths[:-1], widths[1:], strict=True)]",
                "for a, b in zip(widths[-2::-1], widths[:0:-1])][::-1]",
            ),
        ),
    ),
    "make_mlp_forgets_output_layer": Bug(
        function="make_mlp",
        mistake="stops at the last hidden layer: there is no linear layer to d_out, so the network has the wrong "
        "outputs",
        caught_by={"has_the_requested_layers", "agrees_with_reference"},
        edits=(
            (
                "for a, b in zip(widths[:-1], widths[1:], strict=True)]",
                "for a, b in zip(widths[:-2], widths[1:-1], strict=True)]",
            ),
        ),
    ),
    # -- train_one_epoch --------------------------------------------------------------------------------
    "train_forgets_zero_grad": Bug(
        function="train_one_epoch",
        mistake="never zeroes the gradients: each step uses the sum of all earlier batches' gradients",
        caught_by={"agrees_with_reference"},
        edits=(("        optimizer.zero_grad()\n", ""),),
    ),
    "train_steps_before_backward": Bug(
        function="train_one_epoch",
        mistake="calls optimizer.step() before loss.backward(): each step uses no gradient (or a stale one)",
        caught_by={"agrees_with_reference"},
        edits=(
            (
                "        loss.backward()\n        optimizer.step()\n",
                "        optimizer.step()\n        loss.backward()\n",
            ),
        ),
    ),
    "train_forgets_model_train": Bug(
        function="train_one_epoch",
        mistake="never calls model.train(): after an evaluation, dropout stays off and batch norm uses running "
        "statistics",
        caught_by={"agrees_with_reference", "trains_in_train_mode"},
        edits=(("    model.train()\n", ""),),
    ),
    "train_averages_batch_means": Bug(
        function="train_one_epoch",
        mistake="returns the mean of the batch means: the short last batch counts as much as a full one",
        caught_by={"agrees_with_reference", "returns_mean_loss_over_samples"},
        edits=(
            (BATCH_TOTAL, "batch_total = loss.detach()"),
            ("seen += inputs.shape[0]", "seen += 1"),
        ),
    ),
    "train_item_per_batch": Bug(
        function="train_one_epoch",
        mistake="calls loss.item() on every batch: the host waits for the device each time",
        caught_by={"synchronises_once_per_epoch"},
        edits=((BATCH_TOTAL, "batch_total = loss.item() * inputs.shape[0]"),),
    ),
    "train_accumulates_loss_tensor": Bug(
        function="train_one_epoch",
        mistake="adds up loss rather than loss.detach(): every batch's graph stays alive until the epoch ends",
        caught_by={"keeps_no_graph_across_batches"},
        edits=((BATCH_TOTAL, "batch_total = loss * inputs.shape[0]"),),
    ),
    "train_forgets_to_move_batches": Bug(
        function="train_one_epoch",
        mistake="never moves the batches: they reach the model wherever the loader left them",
        caught_by={"moves_batches_to_device"},
        edits=(("        " + MOVE, ""),),
    ),
    # On a machine without CUDA the timed epoch (which runs unaudited) fails outright: the code cannot run.
    "train_hard_codes_cuda": Bug(
        function="train_one_epoch",
        mistake="moves batches with .cuda(): the code only runs, and only on the right device, where there is a GPU",
        caught_by={"moves_batches_to_device", "as_fast_as_reference"},
        edits=((MOVE, "inputs, targets = inputs.cuda(), targets.cuda()\n"),),
    ),
    "train_loops_over_samples": Bug(
        function="train_one_epoch",
        mistake="computes the loss one example at a time in a Python loop (the same number, many times slower)",
        caught_by={"as_fast_as_reference"},
        edits=(
            (
                "loss = loss_fn(outputs, targets)",
                "loss = sum(loss_fn(outputs[i : i + 1], targets[i : i + 1]) for i in range(len(outputs)))"
                " / len(outputs)",
            ),
        ),
    ),
    "train_ignores_amp": Bug(
        function="train_one_epoch",
        mistake="never autocasts: amp=True trains in float32",
        caught_by={"amp_autocasts_to_bfloat16"},
        edits=(
            (
                "torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()",
                "contextlib.nullcontext()",
            ),
        ),
    ),
    # -- evaluate ---------------------------------------------------------------------------------------
    "evaluate_without_no_grad": Bug(
        function="evaluate",
        mistake="forgets torch.no_grad(): every forward pass records a graph nobody will use",
        caught_by={"builds_no_graph"},
        edits=(("with torch.inference_mode():", "with contextlib.nullcontext():"),),
    ),
    "evaluate_never_switches_back": Bug(
        function="evaluate",
        mistake="calls model.eval() and leaves the model in evaluation mode",
        caught_by={"restores_mode"},
        edits=(("    model.train(mode)\n", ""),),
    ),
    "evaluate_zeroes_gradients": Bug(
        function="evaluate",
        mistake="calls model.zero_grad() first, to be safe: it throws away the caller's gradients",
        caught_by={"leaves_model_unchanged"},
        edits=(("    model.eval()\n", "    model.eval()\n    model.zero_grad()\n"),),
    ),
    "evaluate_forgets_eval": Bug(
        function="evaluate",
        mistake="never calls model.eval(): Dropout keeps dropping and BatchNorm normalises with the batch's statistics",
        caught_by={"agrees_with_reference", "leaves_model_unchanged", "restores_mode"},
        edits=(("    model.eval()\n", ""),),
    ),
    "evaluate_leaves_labels_behind": Bug(
        function="evaluate",
        mistake="moves the inputs but not the labels to the device",
        caught_by={"moves_batches_to_device"},
        edits=((MOVE, "inputs = inputs.to(device)\n"),),
    ),
    "evaluate_averages_batch_accuracies": Bug(
        function="evaluate",
        mistake="averages the batches' accuracies: the short last batch counts as much as a full one",
        caught_by={"agrees_with_reference", "mean_loss_and_accuracy"},
        edits=(
            (".float().sum()", ".float().mean()"),
            ("hits.item() / seen", "hits.item() / len(loader)"),
        ),
    ),
    # -- fit ----------------------------------------------------------------------------------------------
    "fit_does_not_restore_best": Bug(
        function="fit",
        mistake="stops early but keeps the last weights, not the best ones",
        caught_by={"early_stopping_restores_best", "agrees_with_reference"},
        edits=(
            (
                "    if patience is not None and best_state is not None:\n        model.load_state_dict(best_state)\n",
                "",
            ),
        ),
    ),
    "fit_ignores_patience": Bug(
        function="fit",
        mistake="records the best weights but never stops early",
        caught_by={"early_stopping_restores_best", "agrees_with_reference"},
        edits=(("            if patience is not None and waited >= patience:\n                break\n", ""),),
    ),
    "fit_zero_grad_after_backward": Bug(
        function="fit",
        mistake="zeroes the gradients between backward and step: nothing is learnt",
        caught_by={"reaches_95_percent_on_digits", "agrees_with_reference"},
        edits=(("            loss.backward()\n", "            loss.backward()\n            optimizer.zero_grad()\n"),),
    ),
    "fit_accuracy_in_percent": Bug(
        function="fit",
        mistake="records the validation accuracy in percent",
        caught_by={"history_has_every_epoch", "agrees_with_reference"},
        edits=(
            (
                'history["val_acc"].append(hits.item() / val_seen)',
                'history["val_acc"].append(100 * hits.item() / val_seen)',
            ),
        ),
    ),
    "fit_forgets_to_move_batches": Bug(
        function="fit",
        mistake="trains on the batches where the loader left them",
        caught_by={"moves_batches_to_device"},
        edits=(
            (
                "        for inputs, targets in train_loader:\n            " + MOVE,
                "        for inputs, targets in train_loader:\n",
            ),
        ),
    ),
    "fit_always_shows_progress": Bug(
        function="fit",
        mistake="shows the progress bar even with progress=False",
        caught_by={"shows_progress_bar"},
        edits=(("trange(epochs, disable=not progress)", "trange(epochs)"),),
    ),
}


EPOCH_THROUGH_SIBLINGS = """\
        train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        val_loss, val_acc = evaluate(model, val_loader, loss_fn, device)
        inspect_what_came_back(model, optimizer, train_loss, val_loss, val_acc, scan=not history["train_loss"])
        for key, value in zip(("train_loss", "val_loss", "val_acc"), (train_loss, val_loss, val_acc), strict=True):
            history[key].append(value)
"""


def fit_through_siblings(correct_source: str) -> str:
    """The correct ``fit`` with its epoch written the reference's way, through the student's own
    train_one_epoch and evaluate: a bug in either shows in fit too, unless fit is graded with the
    reference's in their place (autograder.grading.siblings). ``inspect_what_came_back`` does nothing
    (see INSPECTING)."""
    fit = function_text(correct_source, "fit")
    start, end = fit.index("        model.train()\n"), fit.index('        if history["val_loss"][-1] < best:')
    inspect = "def inspect_what_came_back(model, optimizer, train_loss, val_loss, val_acc, scan):\n    pass\n"
    return fit[:start] + EPOCH_THROUGH_SIBLINGS + fit[end:] + "\n\n\n" + inspect


# The attack: a fit that looks at everything its siblings' calls gave its process, and fails (losing its
# points) if any of the reference's code reached it. The reference's docstrings are in its functions'
# code objects; the student's own marker proves the search would find them.
INSPECTING = """
def inspect_what_came_back(model, optimizer, train_loss, val_loss, val_acc, scan):
    \"\"\"A marker of the student's own: INSPECTING-STUDENT-MARKER.\"\"\"
    import gc
    import types

    assert type(train_loss) is float and type(val_loss) is float and type(val_acc) is float
    assert all(type(value) is torch.Tensor for value in model.state_dict().values())
    for state in optimizer.state.values():
        assert all(type(value) in (torch.Tensor, int, float) for value in state.values())
    if not isinstance(train_one_epoch, types.FunctionType):  # the stand-in holds a name and a channel, no more
        assert set(vars(train_one_epoch)) == {"__name__", "_channel"}
    if not scan:  # every object of the process, once per fit: seconds with PyTorch loaded
        return
    # Joined at run time: a constant would put the words in this function's own code.
    reference_words = ["".join(["one optimizer step ", "per mini-batch"]), "".join(["in evaluation mode, ", "without"])]
    here = inspect_what_came_back.__code__.co_filename
    own, leaked = False, []
    for thing in gc.get_objects():
        try:
            code = getattr(thing, "__code__", None)
        except Exception:  # lazy modules' objects may raise (torch.cuda's, without CUDA)
            continue
        if not isinstance(code, types.CodeType):
            continue
        texts = [c for c in code.co_consts if isinstance(c, str)] + [str(getattr(thing, "__doc__", ""))]
        own = own or any("INSPECTING-STUDENT-MARKER" in t for t in texts)
        leaked += [t for t in texts if any(w in t for w in reference_words)]
        # The reference's functions would be its notebook's: "training_loop.ipynb, code cell ...".
        named = getattr(thing, "__name__", "") in ("train_one_epoch", "evaluate")
        if named and code.co_filename != here and ".ipynb" in code.co_filename:
            leaked.append(code.co_filename)
    if not own or leaked:
        raise RuntimeError(f"the search failed, or found the reference's code: {leaked[:2]}")
"""
