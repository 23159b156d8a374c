"""The only place student code runs: a zygote that forks one worker process per graded function.

``python -m autograder.worker --control-fd N --config FILE`` starts the zygote. It imports NumPy (and
whatever the assignment preloads) once, never runs student code itself, and on each request forks a
worker that:

1. starts a new session (so the grader can kill its whole process group), applies the resource limits,
   moves into a private working directory and points stdout and stderr at ``/dev/null``;
2. executes the submission's chunks, recording which ones failed;
3. answers requests from the grader over its own socket (see :mod:`autograder.protocol`).

The worker reports what happened; it decides nothing. Every comparison and score is computed by the
grader, which treats every answer from here as untrusted data.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import json
import os
import resource
import signal
import socket
import struct
import sys
import tempfile
import traceback
import types
import warnings
from typing import Any, Literal

import numpy as np

from autograder import callables
from autograder.protocol import ProtocolError, decode, encode, recv_message, send_message

PID = struct.Struct("<q")
# Where student code lives (cell labels): tracebacks show these frames and hide the grader's.
STUDENT_FILES: set[str] = set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="autograder.worker")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--config", required=True)
    options = parser.parse_args(argv)
    with open(options.config, encoding="utf-8") as handle:
        config = json.load(handle)
    for module in config.get("preload", []):
        importlib.import_module(module)
    control = socket.socket(fileno=options.control_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped automatically
    control.sendall(b"R")  # ready: imports done
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 16, 1)
        except OSError:
            return
        if not message or not fds:
            return  # the grader has gone: nothing outlives it
        channel = socket.socket(fileno=fds[0])
        pid = os.fork()
        if pid == 0:
            control.close()
            code = 0
            try:
                _serve(channel, config)
            except BaseException:  # noqa: BLE001 - a worker ends quietly, whatever happened
                code = 1
            os._exit(code)
        channel.close()
        control.sendall(PID.pack(pid))


def _serve(channel: socket.socket, config: dict[str, Any]) -> None:
    os.setsid()
    _apply_limits(config.get("limits", {}))
    workdir = tempfile.mkdtemp(prefix="autograder-worker-")
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    warnings.simplefilter("ignore")
    namespace, problems = _load_chunks(config.get("chunks", []))
    defined = sorted(name for name, value in namespace.items() if callable(value) and not name.startswith("__"))
    send_message(channel, {"defined": defined, "problems": problems}, [])
    store: dict[str, list[Any]] = {}
    while True:
        try:
            request, blobs = recv_message(channel)
        except (ProtocolError, OSError):
            return
        response, out_blobs = _handle(request, blobs, namespace, store)
        send_message(channel, response, out_blobs)


def _apply_limits(limits: dict[str, int]) -> None:
    names = {
        "cpu_seconds": resource.RLIMIT_CPU,
        "address_space_bytes": resource.RLIMIT_AS,
        "file_size_bytes": resource.RLIMIT_FSIZE,
        "core_bytes": resource.RLIMIT_CORE,
    }
    for key, value in limits.items():
        if key in names:
            resource.setrlimit(names[key], (value, value))


def _load_chunks(chunks: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    STUDENT_FILES.update(str(chunk["location"]) for chunk in chunks)
    module = types.ModuleType("submission")
    sys.modules["submission"] = module
    namespace = module.__dict__
    problems = []
    for chunk in chunks:
        try:
            tree = ast.parse(chunk["source"])
            ast.increment_lineno(tree, int(chunk["line"]) - 1)
            exec(compile(tree, chunk["location"], "exec"), namespace)  # noqa: S102 - this is the sandbox
        except BaseException as error:  # noqa: BLE001 - SystemExit at import is a problem, not an exit
            problems.append(
                {
                    "origin": f"{chunk['location']}, line {chunk['line']}",
                    "names": list(chunk["defines"]),
                    "message": _describe(error),
                }
            )
    return namespace, problems


def _handle(
    request: dict[str, Any], blobs: list[bytes], namespace: dict[str, Any], store: dict[str, list[Any]]
) -> tuple[dict[str, Any], list[bytes]]:
    op = request.get("op")
    try:
        if op == "store":
            store[str(request["handle"])] = decode(request["args"], blobs, callables.resolve)
            return {"ok": True}, []
        if op == "echo":
            out: list[bytes] = []
            return {"ok": True, "result": encode(store[str(request["handle"])][0], out)}, out
        if op != "call":
            return {"ok": False, "kind": "protocol", "message": f"unknown op {op!r}"}, []
        if "handle" in request:
            args, kwargs = store[str(request["handle"])], {}
        else:
            args = decode(request["args"], blobs, callables.resolve)
            kwargs = decode(request["kwargs"], blobs, callables.resolve)
        harness = decode(request["harness"], blobs, callables.resolve) if "harness" in request else None
    except (ProtocolError, KeyError, TypeError, ValueError) as error:
        return {"ok": False, "kind": "protocol", "message": str(error)}, []
    student_function = namespace.get(str(request["function"]))
    if not callable(student_function):
        return {"ok": False, "kind": "missing"}, []
    function = student_function if harness is None else functools.partial(harness, student_function)
    errors: Literal["raise", "ignore"] = "raise" if request.get("errstate") else "ignore"
    try:
        with np.errstate(over=errors, invalid=errors, divide=errors, under="ignore"):
            result = function(*args, **kwargs)
    except NotImplementedError:
        return {"ok": False, "kind": "not_implemented"}, []
    except MemoryError:
        return {"ok": False, "kind": "memory", "message": "MemoryError"}, []
    except BaseException as error:  # noqa: BLE001 - SystemExit and friends are the student's errors too
        return {"ok": False, "kind": "error", "message": _describe(error)}, []
    out = []
    if request.get("discard"):  # a timed call: only the time matters, not sending the result back
        return {"ok": True, "result": {"t": "none"}}, out
    try:
        response: dict[str, Any] = {"ok": True, "result": encode(result, out)}
        if request.get("return_args"):
            response["args_after"] = encode(list(args), out)
    except (TypeError, ValueError, RecursionError) as error:
        return {"ok": False, "kind": "bad_return", "message": str(error)}, []
    return response, out


def _describe(error: BaseException) -> str:
    """``Type: message (where)``, naming the last frame of student code, never the grader's."""
    try:
        text = f"{type(error).__name__}: {error}"
    except Exception:  # noqa: BLE001 - a hostile __str__
        text = type(error).__name__
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename in STUDENT_FILES]
    if frames:
        last = frames[-1]
        text += f" (at {last.filename}, line {last.lineno})"
    return text[:1000]


if __name__ == "__main__":
    main()
