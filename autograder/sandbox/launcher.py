"""The grader's side of the sandbox: starting workers, talking to them, and naming what went wrong.

A :class:`Zygote` is started once per grader process and set of preloaded modules (NumPy, SciPy,
PyTorch...), seals itself into the isolation of :mod:`autograder.sandbox.isolation`, and forks a fresh confined
:class:`Worker` for each graded function of each submission; the submission's code reaches the worker
directly, never the zygote. One function's crash, hang or monkeypatching never reaches another's.

The grader measures every time limit itself, and kills a worker when one is exceeded: the worker is
the first process of its own PID namespace, so everything it started dies with it. A
:class:`Launcher` starts the workers of one submission and leaves out a chunk of top-level code that
kills or hangs its worker at import, so that the functions defined elsewhere are still graded.
"""

from __future__ import annotations

import atexit
import errno
import hashlib
import json
import os
import shutil
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from autograder.sandbox import cgroups, isolation
from autograder.sandbox.chunks import Chunk
from autograder.sandbox.protocol import (
    MAX_ANSWER_HEADER_BYTES,
    FrameTooLarge,
    NamedCallable,
    ProtocolError,
    decode,
    encode,
    recv_message,
    send_message,
)

_PID_BYTES = 8
# Packages a worker may import besides the interpreter's own: the course's scaffolding.
VISIBLE_PACKAGES = ("course_lib",)
# Leave out at most this many chunks that kill their worker at import; then give up on the submission.
MAX_LEFT_OUT = 5


@dataclass(frozen=True)
class Limits:
    """Budgets for one worker (one graded function), enforced by the grader and the kernel."""

    call_seconds: float = 10.0  # wall time of one call, measured by the grader
    start_seconds: float = 30.0  # wall time to run the submission's top-level code
    cpu_seconds: int = 120
    address_space_bytes: int = 4 << 30
    file_size_bytes: int = 16 << 20
    processes: int = 32  # processes and threads of the worker's own user
    tmp_bytes: int = 64 << 20  # the private /tmp and /dev/shm
    memory_bytes: int = 4 << 30  # what all of the worker's processes hold together (a control group)
    open_files: int = 256
    # Namespaces, a private root and an unprivileged user. Off only to measure what they cost
    # (bench/sandbox_overhead.py): then workers are separate processes with resource limits, no more.
    isolate: bool = True

    def for_worker(self) -> dict[str, int]:
        return {
            "cpu_seconds": self.cpu_seconds,
            "address_space_bytes": self.address_space_bytes,
            "file_size_bytes": self.file_size_bytes,
            "processes": self.processes,
            "tmp_bytes": self.tmp_bytes,
            "open_files": self.open_files,
            "core_bytes": 0,
        }


class Failure(str, Enum):  # enum.StrEnum, which Python 3.10 lacks
    """How a call in a worker went wrong; each is also a verdict of the report (autograder.grading.report.Verdict)."""

    ERROR = "error"  # the student's code raised
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASHED = "crashed"
    FORBIDDEN = "forbidden"  # the sandbox refused what it tried, or the worker lied about itself

    def __str__(self) -> str:
        return str(self.value)


class WorkerFailure(BaseException):
    """The worker could not answer: ``verdict`` says why (any :class:`Failure` but ``ERROR``).

    A ``BaseException`` on purpose: it must stop a property at once, not be shrunk by Hypothesis.
    """

    def __init__(self, verdict: Failure, message: str, *, did: str = "", waited_out: bool = False) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.message = message
        self.did = did  # what the code did to its worker, as a clause ("ended the worker process (exit status 0)")
        self.waited_out = waited_out  # the grader stopped waiting for an answer (its wall-clock limit)
        self.example: Any = None  # the example being checked when it happened, set by the runner


class NotImplementedYet(BaseException):
    """The function still raises ``NotImplementedError`` (the notebook's stub)."""


class StudentRaised(Exception):
    """The student's function raised ``raised`` (an exception type's name, as the worker reported it);
    ``verdict`` is ``FORBIDDEN`` when the sandbox refused what it tried."""

    def __init__(self, message: str, verdict: Failure = Failure.ERROR, raised: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.verdict = verdict
        self.raised = raised


def _exception_name(name: Any) -> str:
    """The name of the exception type a worker says the student's code raised ("" if it is not a name)."""
    return name if isinstance(name, str) and len(name) <= 100 and name.isidentifier() else ""


class BadReturn(Exception):
    """The function returned something that cannot be sent back as plain data."""


class Missing(Exception):
    """The worker has no callable of that name."""


class LoadFailure(Exception):
    """The worker died or hung while chunk ``index`` of the submission ran at import."""

    def __init__(self, index: int, failure: WorkerFailure) -> None:
        super().__init__(failure.message)
        self.index = index
        self.failure = failure


@dataclass
class CallOutcome:
    value: Any
    args_after: list[Any] | None = None


@dataclass(frozen=True)
class PreparedCall:
    """One encoded call, ready to send; ``key`` names it for the answer cache."""

    header: dict[str, Any]
    blobs: list[bytes]
    key: str


def prepare_call(
    function: str,
    args: tuple[Any, ...] | list[Any],
    kwargs: dict[str, Any] | None = None,
    errstate: bool = False,
    return_args: bool = False,
    harness: NamedCallable | None = None,
    repeat: int = 0,
) -> PreparedCall:
    """Encode ``function(*args, **kwargs)`` (or ``harness(function, *args)``) for a worker.

    Calls with the same encoding share one answer; ``repeat`` > 0 makes a call of its own, for a test
    that calls a function again on purpose (to see that a seeded generator, not a global one, decides).
    """
    blobs: list[bytes] = []
    header: dict[str, Any] = {
        "op": "call",
        "function": function,
        "args": encode(list(args), blobs),
        "kwargs": encode(dict(kwargs or {}), blobs),
        "errstate": errstate,
        "return_args": return_args,
    }
    if harness is not None:
        header["harness"] = encode(harness, blobs)
    if repeat:
        header["repeat"] = repeat
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for blob in blobs:
        digest.update(len(blob).to_bytes(8, "little"))
        digest.update(blob)
    return PreparedCall(header, blobs, digest.hexdigest())


# What the sandbox refused, by the errno the student's code met: the verdict is then ``forbidden``.
_REFUSALS = {
    errno.EFBIG: "files are limited to {file_size}",
    errno.ENOSPC: "the private temporary folder is limited to {tmp}",
    errno.EDQUOT: "the private temporary folder is limited to {tmp}",
    errno.EAGAIN: "a worker may run at most {processes} processes and threads",
    errno.EMFILE: "a worker may open at most {open_files} files",
    errno.EACCES: "a worker may not read or change anything outside its private temporary folder",
    errno.EPERM: "a worker may not read or change anything outside its private temporary folder",
    errno.EROFS: "a worker may not change anything outside its private temporary folder",
    errno.ENETUNREACH: "a worker has no network",
    errno.ENETDOWN: "a worker has no network",
    errno.EHOSTUNREACH: "a worker has no network",
    errno.ECONNREFUSED: "a worker has no network",
    errno.EADDRNOTAVAIL: "a worker has no network",
}


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count} bytes"


@dataclass
class Worker:
    """One worker process and the grader's end of its socket."""

    pid: int
    sock: socket.socket
    limits: Limits
    defined: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # protections it could not get, and why
    dead: bool = False
    group: cgroups.WorkerGroup | None = None  # the control group that binds all of its processes

    def request(
        self, header: dict[str, Any], blobs: list[bytes], timeout: float | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request and wait for its answer within ``timeout`` seconds of wall time."""
        self._send(header, blobs)
        return self.receive(self.limits.call_seconds if timeout is None else timeout)

    def _send(self, header: dict[str, Any], blobs: list[bytes]) -> None:
        try:
            send_message(self.sock, header, blobs)
        except OSError as error:
            self.kill()
            raise WorkerFailure(Failure.CRASHED, f"the worker process died ({error})") from None

    def receive(self, limit: float) -> tuple[dict[str, Any], list[bytes]]:
        """The next message, within ``limit`` seconds; a worker that ended raises how it ended."""
        try:
            response, blobs = recv_message(self.sock, time.monotonic() + limit, MAX_ANSWER_HEADER_BYTES)
        except TimeoutError:
            self.kill()
            raise WorkerFailure(
                Failure.TIMEOUT, f"took longer than the time limit of {limit:g} s", waited_out=True
            ) from None
        except FrameTooLarge as error:
            self.kill()
            raise WorkerFailure(Failure.MEMORY, f"sent back an answer larger than the grader takes ({error})") from None
        except (ProtocolError, OSError) as error:
            self.kill()
            raise WorkerFailure(Failure.CRASHED, f"the worker process died ({error})") from None
        if "exit" in response:
            failure = self._ended(response["exit"])  # before kill: its control group still says why
            self.kill()
            raise failure
        return response, blobs

    def _ended(self, how: Any) -> WorkerFailure:
        """The failure that names how the worker ended (as its keeper, outside it, saw it)."""
        how = how if isinstance(how, dict) else {}
        number = how.get("signal")
        if isinstance(number, int):
            if number == getattr(signal, "SIGXCPU", -1):
                return WorkerFailure(Failure.TIMEOUT, f"used up its CPU-time limit of {self.limits.cpu_seconds} s")
            if number == getattr(signal, "SIGXFSZ", -1):
                return WorkerFailure(
                    Failure.FORBIDDEN, f"wrote past the file-size limit of {_size(self.limits.file_size_bytes)}"
                )
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f"signal {number}"
            if name == "SIGKILL" and self.group is not None and self.group.ran_out_of_memory():
                return WorkerFailure(
                    Failure.MEMORY,
                    f"its processes together held more than the memory limit of {_size(self.limits.memory_bytes)}",
                )
            if name == "SIGSEGV":
                name += ": a crash in native code, or a recursion too deep for the stack"
            return WorkerFailure(
                Failure.CRASHED, f"the worker process was killed ({name})", did=f"killed the worker process ({name})"
            )
        code = how.get("code")
        return WorkerFailure(
            Failure.CRASHED,
            f"the worker process ended with exit status {code}",
            did=f"ended the worker process (exit status {code})",
        )

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
        from :mod:`autograder.sandbox.callables` that builds what cannot travel (a model, an optimizer), runs
        the student's function on it and returns plain data.
        """
        return self.call_prepared(prepare_call(function, args, kwargs, errstate, return_args, harness), timeout)

    def call_prepared(self, call: PreparedCall, timeout: float | None = None) -> CallOutcome:
        response, out = self.request(call.header, call.blobs, timeout)
        return self._outcome(response, out)

    def batch(self, calls: list[PreparedCall]) -> Iterator[CallOutcome | BaseException]:
        """Send ``calls`` in one message; yield each one's outcome, or the exception it raises, in order.

        Every answer has the per-call time limit, counted from the one before. After a failure that
        ends the worker the batch stops there. A caller that stops early must :meth:`kill` the worker,
        which is still working through the rest.
        """
        blobs: list[bytes] = []
        headers = []
        for call in calls:
            headers.append({**call.header, "blobs": [len(blobs), len(blobs) + len(call.blobs)]})
            blobs.extend(call.blobs)
        self._send({"op": "batch", "calls": headers}, blobs)
        for _ in calls:
            try:
                response, out = self.receive(self.limits.call_seconds)
                yield self._outcome(response, out)
            except (WorkerFailure, NotImplementedYet, StudentRaised, BadReturn, Missing) as error:
                yield error
                if isinstance(error, WorkerFailure):
                    return

    def store(self, handle: str, args: list[Any]) -> None:
        """Keep ``args`` in the worker under ``handle`` so timed calls do not pay for sending them."""
        blobs: list[bytes] = []
        response, _ = self.request({"op": "store", "handle": handle, "args": encode(args, blobs)}, blobs)
        if not response.get("ok"):
            raise WorkerFailure(Failure.CRASHED, f"the worker could not store inputs: {response.get('message')}")

    def call_stored(
        self, function: str, handle: str, timeout: float | None = None, harness: NamedCallable | None = None
    ) -> tuple[float, CallOutcome]:
        """Call ``function`` on the inputs stored under ``handle``: the round trip's wall time, and the outcome."""
        header: dict[str, Any] = {"op": "call", "function": function, "handle": handle}
        blobs: list[bytes] = []
        if harness is not None:
            header["harness"] = encode(harness, blobs)
        start = time.perf_counter()
        response, out = self.request(header, blobs, timeout)
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
        except MemoryError:
            self.kill()
            raise WorkerFailure(Failure.MEMORY, "sent back an answer too large for the grader to decode") from None
        except (ProtocolError, KeyError, TypeError, ValueError, RecursionError) as error:
            self.kill()  # an honest worker never sends one: its process was patched to lie
            raise WorkerFailure(Failure.FORBIDDEN, f"the worker sent a malformed answer ({error})") from None
        kind = response.get("kind")
        message = str(response.get("message", ""))[:1000]
        if kind == "not_implemented":
            raise NotImplementedYet()
        if kind == "memory":
            self.kill()
            raise WorkerFailure(Failure.MEMORY, "ran out of memory (the memory limit was reached)")
        if kind == "error":
            raise self._raised(message, response.get("errno"), _exception_name(response.get("type")))
        if kind == "bad_return":
            raise BadReturn(message)
        if kind == "missing":
            raise Missing(message)
        self.kill()
        raise WorkerFailure(Failure.CRASHED, f"the worker sent an unexpected answer ({kind!r})")

    def _raised(self, message: str, number: Any, raised: str) -> StudentRaised | WorkerFailure:
        """The student's exception: ``forbidden`` when the operating-system error behind it is a refusal,
        and a memory failure when a library could not allocate (PyTorch raises a RuntimeError)."""
        if "can't allocate memory" in message or number == errno.ENOMEM:
            self.kill()
            return WorkerFailure(Failure.MEMORY, "ran out of memory (the memory limit was reached)")
        refusal = _REFUSALS.get(number) if isinstance(number, int) else None
        if refusal is None and isinstance(number, int) and number < 0:
            refusal = "a worker has no network"  # socket.gaierror: no name can be resolved
        if refusal is None:
            return StudentRaised(message, raised=raised)
        limits = self.limits
        why = refusal.format(
            file_size=_size(limits.file_size_bytes),
            tmp=_size(limits.tmp_bytes),
            processes=limits.processes,
            open_files=limits.open_files,
        )
        return StudentRaised(f"{message}\nthe sandbox refused it: {why}", Failure.FORBIDDEN, raised)

    def processes(self) -> set[int]:
        """Every process of this worker: its PID namespace, or the worker alone without one."""
        if "no_leftovers" in self.missing:
            return {self.pid}
        return isolation.processes_sharing_pid_namespace(self.pid)

    def idle_thread_times(self, limit: float = 0.05) -> dict[int, tuple[int, int, bool]]:
        """:func:`isolation.thread_times` of this worker once none of its threads is runnable (an idle
        worker waits for the grader), or as they are after ``limit`` seconds."""
        deadline = time.monotonic() + limit
        while True:
            times = isolation.thread_times(self.processes())
            if not any(runnable for _, _, runnable in times.values()) or time.monotonic() > deadline:
                return times
            time.sleep(0.0005)

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Stop every process of this worker until the block ends: its whole PID namespace, else its session.

        Timing runs each side with the other frozen, so that nothing the student's code started (spinners
        in sessions of their own included) competes with the reference for the CPU. The block starts once
        every process has stopped; stopped processes cannot fork, so the namespace is read again until no
        running process is left in it.
        """
        stopped: set[int] = set()
        if "no_leftovers" in self.missing:
            _signal_quietly(os.killpg, self.pid, signal.SIGSTOP)
        else:
            for _ in range(_FREEZE_PASSES):
                running = isolation.processes_sharing_pid_namespace(self.pid) - stopped
                if not running:
                    break
                for pid in running:
                    _signal_quietly(os.kill, pid, signal.SIGSTOP)
                stopped |= running
                isolation.wait_until_stopped(running)  # a fork under way completes or stops first
        try:
            yield
        finally:
            if "no_leftovers" in self.missing:
                _signal_quietly(os.killpg, self.pid, signal.SIGCONT)
            for pid in stopped:
                _signal_quietly(os.kill, pid, signal.SIGCONT)

    def kill(self) -> None:
        """Kill the worker and everything it started (its PID namespace, or else its session)."""
        self.dead = True
        for kill in (os.kill, getattr(os, "killpg", None)):
            if kill is not None:
                _signal_quietly(kill, self.pid, signal.SIGKILL)
        try:
            self.sock.close()
        except OSError:
            pass
        if self.group is not None:
            self.group.remove()


# Reads of a worker's PID namespace while putting it in its control group.
_BIND_PASSES = 20
# Reads of a worker's PID namespace while freezing it: a fork under way during one read is caught by the next.
_FREEZE_PASSES = 10


def _signal_quietly(send: Any, pid: int, number: int) -> None:
    """Send a signal to a process (or group) that may have ended already."""
    try:
        send(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


class Zygote:
    """A sealed process with the assignment's modules imported that forks a :class:`Worker` per function."""

    def __init__(self, preload: tuple[str, ...] = ("numpy",), limits: Limits | None = None) -> None:
        self.preload = tuple(preload)
        self.limits = limits or Limits()
        self.owner = os.getpid()
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="autograder-"))
        scratch = self._dir / "root"
        scratch.mkdir()
        config = {
            "preload": list(preload),
            "limits": self.limits.for_worker(),
            "visible": isolation.visible_paths(VISIBLE_PACKAGES),
            "hidden": [str(path) for path in _secrets()],
            "scratch": str(scratch),
            "isolate": self.limits.isolate,
        }
        self._control, child_end = socket.socketpair()
        self._stderr = open(self._dir / "stderr", "w+b")  # noqa: SIM115 - kept open for the zygote's life
        started = time.perf_counter()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "autograder.sandbox.worker", "--control-fd", str(child_end.fileno())]
            + ["--config", json.dumps(config)],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=worker_environment(),
            cwd="/",
            start_new_session=True,
        )
        child_end.close()
        try:
            ready, _ = recv_message(self._control, time.monotonic() + 120)
        except (TimeoutError, ProtocolError, OSError):
            ready = {}
        if not ready.get("ready"):
            self._stderr.seek(0)
            error = self._stderr.read().decode(errors="replace")[-2000:]
            self.close()
            raise RuntimeError(f"the grading worker could not start:\n{error}")
        self.start_seconds = time.perf_counter() - started
        self._control.settimeout(60)
        self.missing: dict[str, str] = {str(k): str(v) for k, v in dict(ready.get("missing", {})).items()}
        shutil.rmtree(scratch, ignore_errors=True)  # the zygote's root lives on in its own namespace

    def alive(self) -> bool:
        return self._process.poll() is None

    def spawn(self, chunks: list[Chunk], left_out: set[int] | frozenset[int] = frozenset()) -> Worker:
        """Fork a fresh worker, load ``chunks`` (but those ``left_out``) into it, and return it.

        Raises :class:`LoadFailure` naming the chunk that killed or hung the worker at import, and
        :class:`WorkerFailure` when it died before running any.
        """
        ours, theirs = socket.socketpair()
        try:
            with self._lock:
                socket.send_fds(self._control, [b"S"], [theirs.fileno()])
                _recv_exactly(self._control, _PID_BYTES)
        except OSError:
            ours.close()
            raise WorkerFailure(Failure.CRASHED, "the grading zygote stopped") from None
        finally:
            theirs.close()
        limit = self.limits.start_seconds
        try:
            hello, _ = recv_message(ours, time.monotonic() + limit)
        except (TimeoutError, ProtocolError, OSError):
            ours.close()
            raise WorkerFailure(Failure.CRASHED, "the worker process could not start") from None
        worker = Worker(int(hello.get("worker", 0)), ours, self.limits)
        if not hello.get("namespace"):
            worker.missing["no_leftovers"] = "no PID namespace for the worker: a process may outlive it"
        self._bind(worker)
        load = [
            {"index": i, "source": c.source, "location": c.location, "line": c.line, "defines": list(c.defines)}
            for i, c in enumerate(chunks)
            if i not in left_out
        ]
        worker._send({"op": "load", "chunks": load}, [])
        deadline = time.monotonic() + limit
        running: int | None = None
        while True:
            try:
                message, _ = worker.receive(max(deadline - time.monotonic(), 0.0))
            except WorkerFailure as failure:
                if failure.verdict == Failure.TIMEOUT:
                    took = f"took longer than {limit:g} s"
                    failure = WorkerFailure(Failure.TIMEOUT, f"the top-level code {took}", did=took)
                if running is None:
                    raise failure from None
                raise LoadFailure(running, failure) from None
            if "confined" in message:
                worker.missing.update({str(k): str(v) for k, v in dict(message["confined"]).items()})
            elif "chunk" in message:
                running = message["chunk"] if isinstance(message["chunk"], int) else None
            else:
                break
        worker.defined = [str(name)[:200] for name in message.get("defined", [])][:10_000]
        worker.problems = [_problem(p) for p in message.get("problems", []) if isinstance(p, dict)][:10_000]
        return worker

    def _bind(self, worker: Worker) -> None:
        """Put all of the worker's processes (nothing of the student's runs yet) in a control group of its own."""
        if not self.limits.isolate:
            worker.missing.update(dict.fromkeys(cgroups.PROTECTIONS, "isolation switched off"))
            return
        if worker.pid <= 0 or "no_leftovers" in worker.missing:
            reason = "no PID namespace for the worker, so its processes cannot be bound together"
            worker.missing.update(dict.fromkeys(cgroups.PROTECTIONS, reason))
            return
        cgroups.remove_empty_groups(wait=0.0)  # those of workers killed since
        group, reason = cgroups.create(f"{os.getpid()}-{worker.pid}", self.limits.memory_bytes, self.limits.processes)
        if group is None:
            worker.missing.update(dict.fromkeys(cgroups.PROTECTIONS, reason))
            return
        # A process forked while the others were being moved stays behind: read the namespace again until
        # all of them are in (the student's process waits for its code, so nothing of the student's runs yet).
        for _ in range(_BIND_PASSES):
            processes = worker.processes()
            group.add(processes)
            if group.holds(processes) and worker.processes() == processes:
                break
        worker.group = group

    def close(self) -> None:
        try:
            self._control.close()
        except OSError:
            pass
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._stderr.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def abandon(self) -> None:
        """In a forked child: let go of the parent's zygote without stopping it."""
        try:
            self._control.close()
            self._stderr.close()
        except OSError:
            pass


class Launcher:
    """Starts the workers of one submission, leaving out chunks that kill or hang a worker at import.

    With ``ahead``, each worker handed out has the next one started behind it, in a thread, while the first
    works: every worker of a submission loads the same chunks, so a check of several functions stops waiting
    for a fork, a control group and the student's top-level code between them (a second core does that
    meanwhile). Only where nothing is timed: a worker starting beside a timed call would slow it. The one
    started last is killed by :meth:`close`.
    """

    def __init__(self, zygote: Zygote, chunks: list[Chunk], *, ahead: bool = False) -> None:
        self.zygote = zygote
        self.chunks = chunks
        self.left_out: dict[int, dict[str, Any]] = {}
        self.missing: dict[str, str] = {}  # protections some worker reported missing
        self._ahead = ahead
        self._spare: _Spare | None = None

    def spawn(self) -> Worker:
        worker = self._take_spare() or self._spawn_now()
        if self._ahead:
            self._spare = _Spare(self.zygote, self.chunks, frozenset(self.left_out))
        return worker

    def close(self) -> None:
        """Kill the worker started ahead, if one was (it never ran a call)."""
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

    def _take_spare(self) -> Worker | None:
        """The worker started ahead, if it started with the chunks that are left out now; else None."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        if spare.left_out != frozenset(self.left_out) or not self.zygote.alive():
            spare.discard()
            return None
        worker = spare.result()  # a worker that failed to start is started again below, where its failure counts
        return None if worker is None else self._handed_out(worker)

    def _spawn_now(self) -> Worker:
        while True:
            if not self.zygote.alive():  # it never runs student code, but it may have been stopped
                self.zygote = zygote_for(self.zygote.preload, self.zygote.limits)
            try:
                worker = self.zygote.spawn(self.chunks, frozenset(self.left_out))
            except LoadFailure as failure:
                if len(self.left_out) >= MAX_LEFT_OUT or failure.index in self.left_out:
                    raise failure.failure from None
                chunk = self.chunks[failure.index]
                self.left_out[failure.index] = {
                    "origin": chunk.origin,
                    "names": list(chunk.defines),
                    "message": f"this code {_at_import(failure.failure)} when it ran at import, so it was left out",
                    "verdict": failure.failure.verdict,
                }
                continue
            return self._handed_out(worker)

    def _handed_out(self, worker: Worker) -> Worker:
        """``worker``, told what was left out, its missing protections noted for the report."""
        worker.problems.extend(self.left_out.values())
        self.missing.update(worker.missing)
        return worker

    def notes(self, graded: tuple[str, ...]) -> list[str]:
        """The left-out chunks that define none of the graded functions (those get their own message)."""
        return [
            f"{problem['origin']}: {problem['message']}"
            for problem in self.left_out.values()
            if not set(problem["names"]) & set(graded)
        ]


class _Spare:
    """A worker being started in a thread of its own, for :class:`Launcher` to hand out next."""

    def __init__(self, zygote: Zygote, chunks: list[Chunk], left_out: frozenset[int]) -> None:
        self.left_out = left_out
        self._worker: Worker | None = None
        self._discarded = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._start, args=(zygote, chunks), daemon=True)
        self._thread.start()

    def _start(self, zygote: Zygote, chunks: list[Chunk]) -> None:
        try:
            worker = zygote.spawn(chunks, self.left_out)
        except (WorkerFailure, LoadFailure, RuntimeError, OSError):
            return  # started again when it is asked for, where the failure is reported
        with self._lock:
            if not self._discarded:
                self._worker = worker
                return
        worker.kill()

    def result(self) -> Worker | None:
        self._thread.join()
        return self._worker

    def discard(self) -> None:
        """Kill the worker, now or as soon as it has started; never wait for it."""
        with self._lock:
            self._discarded = True
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()


def _problem(reported: dict[str, Any]) -> dict[str, Any]:
    """A problem as a worker reported it, kept to its plain text (the grader alone sets verdicts)."""
    names = reported.get("names")
    return {
        "origin": str(reported.get("origin", ""))[:200],
        "names": [str(name)[:200] for name in names][:100] if isinstance(names, list) else [],
        "message": str(reported.get("message", ""))[:1000],
    }


def _at_import(failure: WorkerFailure) -> str:
    """What a chunk did to its worker at import, as the problem reports it."""
    return failure.did or f"stopped the worker process ({failure.message})"


_zygotes: dict[tuple[tuple[str, ...], Limits], Zygote] = {}
_zygotes_lock = threading.Lock()


def zygote_for(preload: tuple[str, ...], limits: Limits) -> Zygote:
    """The running zygote for these modules and limits, started on first use and shared afterwards."""
    key = (tuple(preload), limits)
    with _zygotes_lock:
        zygote = _zygotes.get(key)
        if zygote is None or not zygote.alive() or zygote.owner != os.getpid():
            zygote = Zygote(tuple(preload), limits)
            _zygotes[key] = zygote
        return zygote


def shutdown() -> None:
    """Stop every zygote this process started (their workers die with them)."""
    with _zygotes_lock:
        for zygote in _zygotes.values():
            if zygote.owner == os.getpid():
                zygote.close()
        _zygotes.clear()
    cgroups.remove_empty_groups(wait=2.0)


def _forget_after_fork() -> None:
    for zygote in _zygotes.values():
        zygote.abandon()
    _zygotes.clear()


atexit.register(shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _secrets() -> list[Path]:
    """What no worker may see, found by what it is wherever it is installed.

    Every copy of the grader package where this interpreter finds packages (an editable checkout,
    site-packages, Gradescope's venv beside the unpacked bundle), the course's solutions, tests and
    nbgrader folders, and the grader's cache (the example bank and its key). The sandbox covers each
    of them wherever a folder a worker sees would show it (:func:`autograder.sandbox.isolation.seal_zygote`).
    """
    from autograder.sandbox.locations import cache_folder

    package = Path(__file__).resolve().parents[1]
    roots = {package.parent}
    if os.environ.get("AUTOGRADER_COURSE_ROOT"):
        roots.add(Path(os.environ["AUTOGRADER_COURSE_ROOT"]))
    cache = cache_folder()
    try:  # made now: a folder made after the zygote seals would show in a visible folder uncovered
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        pass  # then the bank is not written either
    found = {package, cache, *_grader_copies()}
    found |= {root / name for root in roots for name in ("autograder", "solutions", "tests", "source", "release")}
    return sorted(found | {path.resolve() for path in found})


def _grader_copies() -> set[Path]:
    """Every ``autograder`` package in a folder Python takes packages from, on its path or not."""
    places = {Path(entry or os.getcwd()) for entry in sys.path}
    places |= {Path(place) for place in site.getsitepackages()}
    places |= {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, "/usr", "/usr/local"}
    for prefix in prefixes:
        for pattern in ("lib*/python3*/site-packages", "lib*/python3*/dist-packages", "lib/python3/dist-packages"):
            places |= set(Path(prefix).glob(pattern))
    return {place / "autograder" for place in places if (place / "autograder" / "__init__.py").is_file()}


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
            # glibc's malloc: keep freed memory for reuse instead of handing large blocks back to the kernel
            # and faulting fresh pages in on the next call. A call that allocates megabytes otherwise costs
            # a different time on every run, and timing compares runs of two workers.
            "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
            "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
            "MALLOC_TOP_PAD_": str(64 << 20),
        }
    )
    return env


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the grading zygote stopped")
        data += chunk
    return data
