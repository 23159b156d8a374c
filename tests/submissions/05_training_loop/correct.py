"""A correct student submission for 05_training_loop, written differently from the reference.

Every function stands alone (fit has its own loops rather than calling train_one_epoch and evaluate),
so a bug planted in one function cannot cost another its points.
"""

import contextlib

import torch
from torch import nn
from tqdm.auto import trange


def get_device(prefer=None):
    if prefer is None:
        for kind, available in (("cuda", torch.cuda.is_available), ("mps", torch.backends.mps.is_available)):
            if available():
                return torch.device(kind)
        return torch.device("cpu")
    device = torch.device(prefer)
    checks = {
        "cpu": lambda: True,
        "cuda": lambda: torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available,
    }
    if device.type not in checks or not checks[device.type]():
        raise ValueError(f"{device} is not available here")
    return device


class Batches:
    def __init__(self, x, y, batch_size, shuffle, seed, device):
        self.x = torch.as_tensor(x).to(device)
        self.y = torch.as_tensor(y).to(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = torch.Generator()
        self.rng.manual_seed(seed)

    def __iter__(self):
        n = self.x.shape[0]
        order = torch.randperm(n, generator=self.rng) if self.shuffle else torch.arange(n)
        order = order.to(self.x.device)
        for chunk in order.split(self.batch_size):
            yield self.x[chunk], self.y[chunk]


def make_loader(x, y, batch_size, shuffle, seed, device):
    return Batches(x, y, batch_size, shuffle, seed, device)


def make_mlp(d_in, hidden, d_out, activation="relu"):
    kinds = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    if activation not in kinds:
        raise ValueError(f"activation must be one of {sorted(kinds)}, not {activation!r}")
    widths = [d_in, *hidden, d_out]
    linears = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)]
    modules = []
    for index, linear in enumerate(linears):
        modules.append(linear)
        if index < len(linears) - 1:
            modules.append(kinds[activation]())
    return nn.Sequential(*modules)


def train_one_epoch(model, loader, loss_fn, optimizer, device, amp=False):
    model.train()
    running, seen = None, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        cast = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
        with cast:
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        batch_total = loss.detach() * inputs.shape[0]
        running = batch_total if running is None else running + batch_total
        seen += inputs.shape[0]
    return float(running) / seen if seen else 0.0


def evaluate(model, loader, loss_fn, device):
    mode = model.training
    model.eval()
    loss_sum = torch.tensor(0.0, device=device)
    hits = torch.tensor(0.0, device=device)
    seen = 0
    with torch.inference_mode():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            loss_sum += loss_fn(outputs, targets) * inputs.shape[0]
            hits += (outputs.argmax(1) == targets).float().sum()
            seen += inputs.shape[0]
    model.train(mode)
    return loss_sum.item() / seen, hits.item() / seen


def fit(model, train_loader, val_loader, loss_fn, optimizer, device, epochs, patience=None, progress=False):
    history = {"train_loss": [], "val_loss": [], "val_acc": []}
    best, best_state, waited = float("inf"), None, 0
    for _ in trange(epochs, disable=not progress):
        model.train()
        total, seen = torch.tensor(0.0, device=device), 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(inputs)
            seen += len(inputs)
        model.eval()
        val_total, hits, val_seen = torch.tensor(0.0, device=device), torch.tensor(0.0, device=device), 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                outputs = model(inputs)
                val_total += loss_fn(outputs, targets) * len(inputs)
                hits += (outputs.argmax(1) == targets).sum()
                val_seen += len(inputs)
        history["train_loss"].append(total.item() / seen)
        history["val_loss"].append(val_total.item() / val_seen)
        history["val_acc"].append(hits.item() / val_seen)
        if history["val_loss"][-1] < best:
            best, waited = history["val_loss"][-1], 0
            best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        else:
            waited += 1
            if patience is not None and waited >= patience:
                break
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
    return history
