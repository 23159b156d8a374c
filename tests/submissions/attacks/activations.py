"""Attacks on the sandbox, each planted in one function of a correct 02_activations submission.

Each attack replaces one function of ``tests/submissions/02_activations/correct.py`` (the correct
version is removed, so nothing honest stands behind it). Placeholders in capitals (``SOLUTION_PATH``,
``LISTENING_PORT``, ``SUBMISSION_DIR``, ``OUTPUT_DIR``, ``OUTSIDE_MARKER``) are filled in by the test
with real paths and ports. Every bomb is bounded, so that a broken sandbox slows a test down but
cannot take the machine down.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "02_activations"))
from bugs import BUGS  # noqa: E402

# A correct, stable sigmoid that is far too slow: the attacks that fake speed start from it.
PYTHON_LOOP_SIGMOID = BUGS["sigmoid_python_loop"].source


@dataclass(frozen=True)
class Attack:
    function: str
    what: str
    source: str


ATTACKS: dict[str, Attack] = {
    "infinite_loop": Attack(
        "relu",
        "never returns",
        """
def relu(z):
    while True:
        pass
""",
    ),
    "memory_bomb": Attack(
        "relu",
        "asks for 6 GiB, 128 MiB at a time (bounded; the limit is 4 GiB of address space)",
        """
def relu(z):
    hoard = [np.zeros(128 << 20, dtype=np.uint8) for _ in range(48)]
    return np.maximum(z, 0) + 0 * len(hoard)
""",
    ),
    "many_processes": Attack(
        "relu",
        "forks 100 sleepers (bounded: each ends after 30 s)",
        """
import os
import time


def relu(z):
    for _ in range(100):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
    return np.maximum(z, 0)
""",
    ),
    "large_file": Attack(
        "relu",
        "writes a 100 MiB file next to itself, 1 MiB at a time (bounded)",
        """
def relu(z):
    block = b"x" * (1 << 20)
    with open("big.bin", "wb") as handle:
        for _ in range(100):
            handle.write(block)
    return np.maximum(z, 0)
""",
    ),
    "sys_exit_at_import": Attack(
        "relu",
        "sys.exit(0) while its definition runs",
        """
import sys


def _leave(function):
    sys.exit(0)


@_leave
def relu(z):
    return np.maximum(z, 0)
""",
    ),
    "os_exit_at_import": Attack(
        "relu",
        "os._exit(0) while its definition runs: the worker process ends at import",
        """
import os


def _vanish(function):
    os._exit(0)


@_vanish
def relu(z):
    return np.maximum(z, 0)
""",
    ),
    "sys_exit_in_function": Attack(
        "relu",
        "sys.exit(0) when called",
        """
import sys


def relu(z):
    sys.exit(0)
""",
    ),
    "os_exit_in_function": Attack(
        "relu",
        "os._exit(0) when called",
        """
import os


def relu(z):
    os._exit(0)
""",
    ),
    "kill_self_and_parent": Attack(
        "relu",
        "SIGKILL to its parent, to every process it may signal, to its group, then to itself",
        """
import os
import signal


def relu(z):
    for target in (os.getppid(), -1, 0):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    os.kill(os.getpid(), signal.SIGKILL)
    return np.maximum(z, 0)
""",
    ),
    "monkeypatch": Attack(
        "relu",
        "patches NumPy's comparisons, numpy.testing, hypothesis.settings and the autograder, then returns zeros",
        """
import importlib


def relu(z):
    import hypothesis
    import numpy
    import numpy.testing

    numpy.allclose = lambda *args, **kwargs: True
    numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
    numpy.array_equal = lambda *args, **kwargs: True
    numpy.all = lambda *args, **kwargs: True
    numpy.testing.assert_allclose = lambda *args, **kwargs: None
    hypothesis.settings.register_profile("cheat", max_examples=1)
    hypothesis.settings.load_profile("cheat")
    grader = ("autograder.grading.checks", "autograder.grading.runner")
    for name in (*grader, "autograder.sandbox.protocol", "autograder.sandbox.worker"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attribute in ("assert_close", "assert_finite", "run_drawn", "check_timing"):
            if hasattr(module, attribute):
                setattr(module, attribute, lambda *args, **kwargs: None)
    return np.zeros_like(z)
""",
    ),
    "lying_subclass": Attack(
        "relu",
        "returns zeros as an ndarray subclass whose comparisons always succeed",
        """
class _AlwaysEqual(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    __le__ = __ge__ = __eq__

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.shape(self), dtype=bool)

    def __array__(self, dtype=None, copy=None):
        return np.full(np.shape(self), 0.5)


def relu(z):
    return np.zeros_like(z).view(_AlwaysEqual)
""",
    ),
    "lying_object": Attack(
        "relu",
        "returns an object whose __eq__, __array__ and __float__ claim anything",
        """
class _Anything:
    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)

    def __float__(self):
        return 0.0


def relu(z):
    return _Anything()
""",
    ),
    "fake_report": Attack(
        "relu",
        "prints a fake Gradescope report (at import and when called) and writes fake results files",
        """
import json
import os
import sys

FAKE = json.dumps({"score": 1000, "tests": [], "output": "all good"})


def _forge():
    print(FAKE)
    os.write(1, FAKE.encode())
    os.write(2, FAKE.encode())
    for folder in ("SUBMISSION_DIR", "OUTPUT_DIR", "/tmp", "."):
        try:
            with open(os.path.join(folder, "results.json"), "w") as handle:
                handle.write(FAKE)
        except OSError:
            pass
    return True


FORGED = _forge()


def relu(z):
    _forge()
    sys.stdout.write(FAKE)
    return np.zeros_like(z)
""",
    ),
    "read_solution": Attack(
        "sigmoid",
        "reads the reference notebook from disk and returns the reference's answers",
        """
import json


def sigmoid(z):
    with open("SOLUTION_PATH") as handle:
        notebook = json.load(handle)
    namespace = {"np": np}
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith(("import", "def sigmoid")):
            exec(source, namespace)
    return namespace["sigmoid"](z)
""",
    ),
    "socket_to_localhost": Attack(
        "relu",
        "connects to a server on 127.0.0.1 and sends it the input",
        """
import socket


def relu(z):
    with socket.create_connection(("127.0.0.1", LISTENING_PORT), timeout=2) as connection:
        connection.sendall(np.asarray(z).tobytes())
    return np.maximum(z, 0)
""",
    ),
    "patched_clocks": Attack(
        "sigmoid",
        "a correct Python loop, with time.perf_counter, time.process_time and friends patched to stand still",
        """
import time


def _stop_the_clocks():
    for name in ("perf_counter", "process_time", "monotonic", "time", "thread_time"):
        setattr(time, name, lambda: 0.0)
    for name in ("perf_counter_ns", "process_time_ns", "monotonic_ns", "time_ns"):
        setattr(time, name, lambda: 0)
    return True


STOPPED = _stop_the_clocks()

"""
        + PYTHON_LOOP_SIGMOID,
    ),
    "skip_timed_work": Attack(
        "sigmoid",
        "a correct Python loop, and a patched worker that answers large (timed) calls at once without it",
        """
import sys


def _answer_timed_calls_at_once():
    modules = (sys.modules.get("autograder.sandbox.worker"), sys.modules["__main__"])
    worker = next(m for m in modules if hasattr(m, "_handle"))
    original = worker._handle

    def handle(request, blobs, namespace, store):
        stored = store.get(request.get("handle"), [])
        if request.get("function") == "sigmoid" and stored and np.size(stored[0]) > 10_000:
            out = []
            return {"ok": True, "result": worker.encode(np.full(np.shape(stored[0]), 0.5), out)}, out
        return original(request, blobs, namespace, store)

    worker._handle = handle
    return True


CHEATING = _answer_timed_calls_at_once()

"""
        + PYTHON_LOOP_SIGMOID,
    ),
    "recursion_bomb": Attack(
        "relu",
        "lifts the recursion limit and takes the repr of a list nested 300,000 deep (bounded)",
        """
import sys


def relu(z):
    sys.setrecursionlimit(10**6)
    nested = []
    for _ in range(300_000):
        nested = [nested]
    return np.maximum(z, 0) + 0 * len(repr(nested))
""",
    ),
    "slow_the_reference": Attack(
        "sigmoid",
        "a Python loop that, after every large call, leaves spinners in sessions of their own to load the CPU "
        "while the reference is timed next",
        """
import math
import os
import time


def _spin_after_returning(seconds):
    for _ in range(5):  # few enough that calls in a row stay under the worker's process limit
        if os.fork() == 0:
            os.setsid()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass
            os._exit(0)


def sigmoid(z):
    out = np.empty_like(z)
    flat, result = z.ravel(), out.ravel()
    for i in range(flat.size):
        result[i] = 1.0 / (1.0 + math.exp(-flat[i])) if flat[i] >= 0 else math.exp(flat[i]) / (1.0 + math.exp(flat[i]))
    if z.size > 10_000:
        _spin_after_returning(0.5)
    return out
""",
    ),
    "wait_during_the_call": Attack(
        "sigmoid",
        "a Python loop that keeps a crowd of spinners runnable while it computes, so that the time its "
        "threads spend waiting for a CPU (which timing takes off on a busy machine) dwarfs its work",
        """
import math
import os
import signal


def sigmoid(z):
    crowd = []
    if z.size > 10_000:
        for _ in range(12):
            pid = os.fork()
            if pid == 0:
                while True:
                    pass
            crowd.append(pid)
    try:
        out = np.empty_like(z)
        flat, result = z.ravel(), out.ravel()
        for i in range(flat.size):
            x = flat[i]
            result[i] = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return out
    finally:
        for pid in crowd:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
""",
    ),
    "answer_of_no_size": Attack(
        "relu",
        "a patched worker that answers with an array of dtype |S0 and shape (10**13,): no bytes, "
        "and a shape a grader that trusted it would try to allocate",
        """
import sys


def _answer_with_elements_of_no_size():
    modules = (sys.modules.get("autograder.sandbox.worker"), sys.modules["__main__"])
    worker = next(m for m in modules if hasattr(m, "_handle"))
    original = worker._handle
    def handle(request, blobs, namespace, store):
        if request.get("function") == "relu":
            return {"ok": True, "result": {"t": "ndarray", "i": 0, "d": "|S0", "s": [10**13]}}, [b""]
        return original(request, blobs, namespace, store)

    worker._handle = handle
    return True


PATCHED = _answer_with_elements_of_no_size()


def relu(z):
    return np.maximum(z, 0)
""",
    ),
    "answer_in_json_of_many_megabytes": Attack(
        "relu",
        "returns a Python list of a million numbers: JSON of about 26 MB, hundreds of MB once decoded",
        """
def relu(z):
    return [0.5] * 1_000_000
""",
    ),
    "background_process": Attack(
        "relu",
        "a correct relu that, once, leaves a sleeper and a double-forked daemon behind, which try to write outside",
        """
import ctypes
import os
import subprocess
import time


LAUNCHED = []


def relu(z):
    if LAUNCHED:
        return np.maximum(z, 0)
    LAUNCHED.append(subprocess.Popen(["sleep", "987.654"], start_new_session=True))
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(15, b"lingering-daemon", 0, 0, 0)  # PR_SET_NAME, to be found
            for _ in range(60):
                time.sleep(1)
                try:
                    with open("OUTSIDE_MARKER", "w") as handle:
                        handle.write("still running")
                except OSError:
                    pass
        os._exit(0)
    os.waitpid(child, 0)
    return np.maximum(z, 0)
""",
    ),
}
