"""Real student mistakes in 05_training_loop, each planted in one function of ``correct.py``.

Each bug replaces one function; the grader must take points from that function and no other. Most bugs
are one small edit of the correct function (``edits``: pairs of text to find and its replacement), as a
student's mistakes usually are; the loaders that are built differently are written out (``source``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    function: str
    mistake: str
    edits: tuple[tuple[str, str], ...] = ()
    source: str = ""

    def definition(self, correct_source: str) -> str:
        """The buggy function (with any class it needs): ``source``, or the correct one with ``edits``."""
        if self.source:
            return self.source
        start = correct_source.index(f"\ndef {self.function}(") + 1
        end = correct_source.find("\n\n\n", start)
        text = correct_source[start : end if end != -1 else len(correct_source)]
        for before, after in self.edits:
            assert text.count(before) == 1, (self.function, before)
            text = text.replace(before, after)
        return text


def edit(function: str, mistake: str, *edits: tuple[str, str]) -> Bug:
    return Bug(function, mistake, edits=edits)


MOVE = "inputs, targets = inputs.to(device), targets.to(device)\n"
BATCH_TOTAL = "batch_total = loss.detach() * inputs.shape[0]"

BUGS: dict[str, Bug] = {
    # -- get_device -------------------------------------------------------------------------------------
    "get_device_ignores_prefer": edit(
        "get_device", "always returns the best device, whatever was asked for", ("if prefer is None:", "if True:")
    ),
    "get_device_mps_before_cuda": edit(
        "get_device",
        "asks for MPS before CUDA",
        (
            '(("cuda", torch.cuda.is_available), ("mps", torch.backends.mps.is_available))',
            '(("mps", torch.backends.mps.is_available), ("cuda", torch.cuda.is_available))',
        ),
    ),
    "get_device_trusts_prefer": edit(
        "get_device",
        "returns whatever was asked for, available or not: the error comes later, far away",
        ('        raise ValueError(f"{device} is not available here")\n', "        pass\n"),
    ),
    # -- make_loader ------------------------------------------------------------------------------------
    "make_loader_shuffles_with_global_generator": Bug(
        "make_loader",
        "shuffles every loader (the validation set too) with the global generator: the order is not "
        "reproducible and shuffle=False is ignored",
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
        "make_loader",
        "draws one permutation when the loader is made: every epoch has the same order",
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
        "make_loader",
        "keeps the data on the host and moves the whole data set to the device for every batch",
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
        "make_loader",
        "a DataLoader over a TensorDataset: batches built one example at a time, on the host",
        source="""
from torch.utils.data import DataLoader, TensorDataset


def make_loader(x, y, batch_size, shuffle, seed, device):
    generator = torch.Generator().manual_seed(seed)
    dataset = TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
""",
    ),
    # -- make_mlp ---------------------------------------------------------------------------------------
    "make_mlp_activation_after_last_layer": edit(
        "make_mlp",
        "an activation after the output layer too: the logits are squashed",
        (
            "        if index < len(linears) - 1:\n            modules.append(",
            "        if True:\n            modules.append(",
        ),
    ),
    "make_mlp_ignores_activation": edit(
        "make_mlp",
        "always uses ReLU, whatever activation is asked for",
        ("modules.append(kinds[activation]())", "modules.append(nn.ReLU())"),
        ('        raise ValueError(f"activation must be one of {sorted(kinds)}, not {activation!r}")', "        pass"),
    ),
    "make_mlp_builds_layers_backwards": edit(
        "make_mlp",
        "creates the layers from the last to the first, so a seed no longer reproduces the reference network",
        (
            "for a, b in zip(widths[:-1], widths[1:], strict=True)]",
            "for a, b in zip(widths[-2::-1], widths[:0:-1])][::-1]",
        ),
    ),
    "make_mlp_forgets_output_layer": edit(
        "make_mlp",
        "stops at the last hidden layer: there is no linear layer to d_out, so the network has the wrong outputs",
        (
            "for a, b in zip(widths[:-1], widths[1:], strict=True)]",
            "for a, b in zip(widths[:-2], widths[1:-1], strict=True)]",
        ),
    ),
    # -- train_one_epoch --------------------------------------------------------------------------------
    "train_forgets_zero_grad": edit(
        "train_one_epoch",
        "never zeroes the gradients: each step uses the sum of all earlier batches' gradients",
        ("        optimizer.zero_grad()\n", ""),
    ),
    "train_steps_before_backward": edit(
        "train_one_epoch",
        "calls optimizer.step() before loss.backward(): each step uses no gradient (or a stale one)",
        ("        loss.backward()\n        optimizer.step()\n", "        optimizer.step()\n        loss.backward()\n"),
    ),
    "train_forgets_model_train": edit(
        "train_one_epoch",
        "never calls model.train(): after an evaluation, dropout stays off and batch norm uses running statistics",
        ("    model.train()\n", ""),
    ),
    "train_averages_batch_means": edit(
        "train_one_epoch",
        "returns the mean of the batch means: the short last batch counts as much as a full one",
        (BATCH_TOTAL, "batch_total = loss.detach()"),
        ("seen += inputs.shape[0]", "seen += 1"),
    ),
    "train_item_per_batch": edit(
        "train_one_epoch",
        "calls loss.item() on every batch: the host waits for the device each time",
        (BATCH_TOTAL, "batch_total = loss.item() * inputs.shape[0]"),
    ),
    "train_accumulates_loss_tensor": edit(
        "train_one_epoch",
        "adds up loss rather than loss.detach(): every batch's graph stays alive until the epoch ends",
        (BATCH_TOTAL, "batch_total = loss * inputs.shape[0]"),
    ),
    "train_forgets_to_move_batches": edit(
        "train_one_epoch",
        "never moves the batches: they reach the model wherever the loader left them",
        ("        " + MOVE, ""),
    ),
    "train_hard_codes_cuda": edit(
        "train_one_epoch",
        "moves batches with .cuda(): the code only runs, and only on the right device, where there is a GPU",
        (MOVE, "inputs, targets = inputs.cuda(), targets.cuda()\n"),
    ),
    "train_loops_over_samples": edit(
        "train_one_epoch",
        "computes the loss one example at a time in a Python loop (the same number, many times slower)",
        (
            "loss = loss_fn(outputs, targets)",
            "loss = sum(loss_fn(outputs[i : i + 1], targets[i : i + 1]) for i in range(len(outputs))) / len(outputs)",
        ),
    ),
    "train_ignores_amp": edit(
        "train_one_epoch",
        "never autocasts: amp=True trains in float32",
        (
            "torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()",
            "contextlib.nullcontext()",
        ),
    ),
    # -- evaluate ---------------------------------------------------------------------------------------
    "evaluate_without_no_grad": edit(
        "evaluate",
        "forgets torch.no_grad(): every forward pass records a graph nobody will use",
        ("with torch.inference_mode():", "with contextlib.nullcontext():"),
    ),
    "evaluate_never_switches_back": edit(
        "evaluate", "calls model.eval() and leaves the model in evaluation mode", ("    model.train(mode)\n", "")
    ),
    "evaluate_zeroes_gradients": edit(
        "evaluate",
        "calls model.zero_grad() first, to be safe: it throws away the caller's gradients",
        ("    model.eval()\n", "    model.eval()\n    model.zero_grad()\n"),
    ),
    "evaluate_forgets_eval": edit(
        "evaluate",
        "never calls model.eval(): Dropout keeps dropping and BatchNorm normalises with the batch's statistics",
        ("    model.eval()\n", ""),
    ),
    "evaluate_leaves_labels_behind": edit(
        "evaluate", "moves the inputs but not the labels to the device", (MOVE, "inputs = inputs.to(device)\n")
    ),
    "evaluate_averages_batch_accuracies": edit(
        "evaluate",
        "averages the batches' accuracies: the short last batch counts as much as a full one",
        (".float().sum()", ".float().mean()"),
        ("hits.item() / seen", "hits.item() / len(loader)"),
    ),
    # -- fit ----------------------------------------------------------------------------------------------
    "fit_does_not_restore_best": edit(
        "fit",
        "stops early but keeps the last weights, not the best ones",
        ("    if patience is not None and best_state is not None:\n        model.load_state_dict(best_state)\n", ""),
    ),
    "fit_ignores_patience": edit(
        "fit",
        "records the best weights but never stops early",
        ("            if patience is not None and waited >= patience:\n                break\n", ""),
    ),
    "fit_zero_grad_after_backward": edit(
        "fit",
        "zeroes the gradients between backward and step: nothing is learnt",
        ("            loss.backward()\n", "            loss.backward()\n            optimizer.zero_grad()\n"),
    ),
    "fit_accuracy_in_percent": edit(
        "fit",
        "records the validation accuracy in percent",
        (
            'history["val_acc"].append(hits.item() / val_seen)',
            'history["val_acc"].append(100 * hits.item() / val_seen)',
        ),
    ),
    "fit_forgets_to_move_batches": edit(
        "fit",
        "trains on the batches where the loader left them",
        (
            "        for inputs, targets in train_loader:\n            " + MOVE,
            "        for inputs, targets in train_loader:\n",
        ),
    ),
    "fit_always_shows_progress": edit(
        "fit",
        "shows the progress bar even with progress=False",
        ("trange(epochs, disable=not progress)", "trange(epochs)"),
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
    fit = Bug("fit", "").definition(correct_source)
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


def submission_with(bug: Bug, correct_source: str) -> str:
    """The correct submission with ``bug``'s function replaced (a later ``def`` wins)."""
    return correct_source + "\n\n# --- planted bug ---\n" + bug.definition(correct_source).strip() + "\n"
