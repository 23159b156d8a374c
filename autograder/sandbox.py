"""The grader's side of the sandbox: starting workers, talking to them, and naming what went wrong.

A :class:`Zygote` is started once per submission with that submission's chunks; each graded function
gets a fresh :class:`Worker` forked from it, so one function's crash, hang or monkeypatching never
reaches another's. The grader measures every time limit itself and kills a worker's whole process
group when it is exceeded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.protocol import NamedCallable, ProtocolError, decode, encode, recv_message, send_message
from autograder.submission import Chunk

_PID_BYTES = 8


@dataclass(frozen=True)
class Limits:
    """Budgets for one worker (one graded function)."""

    call_seconds: float = 10.0  # wall time of one call, measured by the grader
    start_seconds: float = 30.0  # wall time to run the submission's top-level code
    cpu_seconds: int = 120
    address_space_bytes: int = 4 << 30
    file_size_bytes: int = 16 << 20

    def for_worker(self) -> dict[str, int]:
        return {
            "cpu_seconds": self.cpu_seconds,
            "address_space_bytes": self.address_space_bytes,
            "file_size_bytes": self.file_size_bytes,
            "core_bytes": 0,
        }


class WorkerFailure(BaseException):
    """The worker could not answer: ``verdict`` is ``timeout``, ``memory`` or ``crashed``.

    A ``BaseException`` on purpose: it must stop a property at once, not be shrunk by Hypothesis.
    """

    def __init__(self, verdict: str, message: str) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.message = message


class NotImplementedYet(BaseException):
    """The function still raises ``NotImplementedError`` (the notebook's stub)."""


class StudentRaised(Exception):
    """The student's function raised an exception; ``message`` says which and where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadReturn(Exception):
    """The function returned something that cannot be sent back as plain data."""


class Missing(Exception):
    """The worker has no callable of that name."""


@dataclass
class CallOutcome:
    value: Any
    args_after: list[Any] | None = None


@dataclass
class Worker:
    """One forked worker process and the grader's end of its socket."""

    pid: int
    sock: socket.socket
    limits: Limits
    defined: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)

    def request(
        self, header: dict[str, Any], blobs: list[bytes], timeout: float | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request and wait for its answer within ``timeout`` seconds of wall time."""
        limit = self.limits.call_seconds if timeout is None else timeout
        self.sock.settimeout(limit)
        try:
            send_message(self.sock, header, blobs)
            return recv_message(self.sock)
        except TimeoutError:
            self.kill()
            raise WorkerFailure("timeout", f"took longer than the time limit of {limit:g} s") from None
        except (ProtocolError, OSError) as error:
            self.kill()
            raise WorkerFailure("crashed", f"the worker process died ({error})") from None

    def call(
        self,
        function: str,
        args: tuple[Any, ...] | list[Any],
        kwargs: dict[str, Any] | None = None,
        errstate: bool = False,
        return_args: bool = False,
        timeout: float | None = None,
        harness: NamedCallable | None = None,
    ) -> CallOutcome:
        """Call ``function(*args, **kwargs)`` in the worker and decode its plain-data answer.

        With ``harness``, the worker calls ``harness(function, *args, **kwargs)`` instead: trusted code
        from :mod:`autograder.callables` that builds what cannot travel (a model, an optimizer), runs
        the student's function on it and returns plain data.
        """
        blobs: list[bytes] = []
        header = {
            "op": "call",
            "function": function,
            "args": encode(list(args), blobs),
            "kwargs": encode(dict(kwargs or {}), blobs),
            "errstate": errstate,
            "return_args": return_args,
        }
        if harness is not None:
            header["harness"] = encode(harness, blobs)
        response, out = self.request(header, blobs, timeout)
        return self._outcome(response, out)

    def store(self, handle: str, args: list[Any]) -> None:
        """Keep ``args`` in the worker under ``handle`` so timed calls do not pay for sending them."""
        blobs: list[bytes] = []
        response, _ = self.request({"op": "store", "handle": handle, "args": encode(args, blobs)}, blobs)
        if not response.get("ok"):
            raise WorkerFailure("crashed", f"the worker could not store inputs: {response.get('message')}")

    def call_stored(self, function: str, handle: str, timeout: float | None = None) -> tuple[float, CallOutcome]:
        """Call ``function`` on stored inputs; returns the round trip's wall time and the outcome."""
        start = time.perf_counter()
        response, out = self.request(
            {"op": "call", "function": function, "handle": handle, "discard": True}, [], timeout
        )
        elapsed = time.perf_counter() - start
        return elapsed, self._outcome(response, out)

    def echo_stored(self, handle: str) -> float:
        """The round trip of echoing a stored value back: the overhead to subtract from timings."""
        start = time.perf_counter()
        self.request({"op": "echo", "handle": handle}, [])
        return time.perf_counter() - start

    def _outcome(self, response: dict[str, Any], blobs: list[bytes]) -> CallOutcome:
        try:
            if response.get("ok") is True:
                value = decode(response["result"], blobs)
                after = decode(response["args_after"], blobs) if "args_after" in response else None
                return CallOutcome(value, after)
        except (ProtocolError, KeyError, TypeError, ValueError, RecursionError) as error:
            self.kill()
            raise WorkerFailure("crashed", f"the worker sent a malformed answer ({error})") from None
        kind = response.get("kind")
        message = str(response.get("message", ""))[:1000]
        if kind == "not_implemented":
            raise NotImplementedYet()
        if kind == "memory":
            self.kill()
            raise WorkerFailure("memory", "ran out of memory (the memory limit was reached)")
        if kind == "error":
            raise StudentRaised(message)
        if kind == "bad_return":
            raise BadReturn(message)
        if kind == "missing":
            raise Missing(message)
        self.kill()
        raise WorkerFailure("crashed", f"the worker sent an unexpected answer ({kind!r})")

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:  # before setsid has run, the worker is not yet a group leader
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class Zygote:
    """A clean process with NumPy imported that forks a :class:`Worker` per graded function."""

    def __init__(
        self, chunks: list[Chunk], limits: Limits | None = None, preload: tuple[str, ...] = ("numpy",)
    ) -> None:
        self.limits = limits or Limits()
        self._dir = Path(tempfile.mkdtemp(prefix="autograder-"))
        config = {
            "chunks": [
                {"source": c.source, "location": c.location, "line": c.line, "defines": list(c.defines)} for c in chunks
            ],
            "limits": self.limits.for_worker(),
            "preload": list(preload),
        }
        config_path = self._dir / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        self._control, child_end = socket.socketpair()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder.worker",
                "--control-fd",
                str(child_end.fileno()),
                "--config",
                str(config_path),
            ],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=worker_environment(),
        )
        child_end.close()
        self._control.settimeout(120)
        try:
            ready = self._control.recv(1)
        except OSError:
            ready = b""
        if ready != b"R":
            error = self._process.stderr.read().decode(errors="replace")[-2000:] if self._process.stderr else ""
            self.close()
            raise RuntimeError(f"the grading worker could not start:\n{error}")
        self._workers: list[Worker] = []

    def spawn(self) -> Worker:
        """Fork a fresh worker, wait for the submission's code to load, and return it."""
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self._control, [b"S"], [theirs.fileno()])
            pid_bytes = _recv_exactly(self._control, _PID_BYTES)
        finally:
            theirs.close()
        worker = Worker(int.from_bytes(pid_bytes, "little", signed=True), ours, self.limits)
        self._workers.append(worker)
        ours.settimeout(self.limits.start_seconds)
        try:
            ready, _ = recv_message(ours)
        except TimeoutError:
            worker.kill()
            raise WorkerFailure(
                "timeout", f"the top-level code took longer than {self.limits.start_seconds:g} s"
            ) from None
        except (ProtocolError, OSError):
            worker.kill()
            raise WorkerFailure("crashed", "the worker process died while loading the submission") from None
        worker.defined = [str(name) for name in ready.get("defined", [])]
        worker.problems = [p for p in ready.get("problems", []) if isinstance(p, dict)]
        return worker

    def close(self) -> None:
        for worker in getattr(self, "_workers", []):
            worker.kill()
        try:
            self._control.close()
        except OSError:
            pass
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stderr:
            self._process.stderr.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def worker_environment() -> dict[str, str]:
    """A scrubbed environment: only what Python needs, single-threaded maths for fair timing."""
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "PYTHONPATH", "VIRTUAL_ENV")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(
        {
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
    )
    return env


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise WorkerFailure("crashed", "the grading zygote stopped")
        data += chunk
    return data
