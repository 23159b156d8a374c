"""The only place student code runs: a zygote that forks a confined worker per graded function.

``python -m autograder.sandbox.worker --control-fd N --config JSON`` starts the zygote. It imports NumPy (and
whatever the assignment preloads), seals itself into a private root without network
(:func:`autograder.sandbox.isolation.seal_zygote`), tells the grader which protections hold, and then, for each
request, forks three processes:

1. a **keeper**, outside the worker's PID namespace, that reports the worker's pid, waits for it to end
   and then sends the grader how it ended (its exit status or the signal that killed it);
2. process 1 of a fresh PID namespace (the **init**), which mounts the worker's own ``/proc`` and a
   private ``/tmp``, then only reaps children; when the student's process ends, it ends, and the
   kernel kills everything left in the namespace, so nothing the student started outlives the worker;
3. the **student process**, which starts a session, applies the resource limits, drops to an
   unprivileged user with no capabilities, points stdout and stderr at ``/dev/null``, receives the
   submission's chunks from the grader, runs them (reporting each one before it runs, so a chunk that
   kills the process at import can be named and left out), and answers calls.

Where namespaces are not available the keeper forks the student process directly, which works in a
temporary folder the keeper removes afterwards. The worker reports what happened; it decides nothing.
Every comparison and score is computed by the grader, which treats every answer from here as data.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import functools
import importlib
import json
import os
import shutil
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

from autograder.sandbox import callables, isolation
from autograder.sandbox.protocol import NamedCallable, ProtocolError, decode, encode, recv_message, send_message

PID = struct.Struct("<q")
# Where student code lives (cell labels): tracebacks show these frames and hide the grader's.
STUDENT_FILES: set[str] = set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="autograder.sandbox.worker")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--config", required=True, help="JSON: preload, limits, visible, hidden, scratch")
    options = parser.parse_args(argv)
    config = json.loads(options.config)
    for module in config.get("preload", []):
        importlib.import_module(module)
    control = socket.socket(fileno=options.control_fd)
    if config.get("isolate", True):
        missing = isolation.seal_zygote(config.get("visible", []), config.get("hidden", []), config["scratch"])
    else:
        missing = {name: "isolation switched off" for name in isolation.NAMESPACE_PROTECTIONS}
    send_message(control, {"ready": True, "missing": missing}, [])
    _fork_on_request(control, config)


def _fork_on_request(control: socket.socket, config: dict[str, Any]) -> None:
    """Fork a keeper for every socket the grader sends; end (and end them) when the grader goes."""
    keepers: set[int] = set()
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 16, 1)
        except OSError:
            break
        if not message or not fds:
            break  # the grader has gone: nothing outlives it
        _reap(keepers)
        channel = socket.socket(fileno=fds[0])
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                control.close()
                code = _keep(channel, config)
            finally:
                os._exit(code)
        channel.close()
        keepers.add(pid)
        control.sendall(PID.pack(pid))
    for pid in keepers:
        try:
            os.kill(pid, signal.SIGKILL)  # its worker dies with it (parent-death signal)
        except OSError:
            pass


def _reap(children: set[int]) -> None:
    for pid in list(children):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.discard(pid)


def _keep(channel: socket.socket, config: dict[str, Any]) -> int:
    """The keeper: start the worker, tell the grader its pid, and report how it ended."""
    isolation.die_with_parent()
    isolate = bool(config.get("isolate", True))
    uid, gid = isolation.worker_ids(os.getpid()) if isolate else (os.getuid(), os.getgid())
    namespaced = isolate and isolation.enter_worker_namespaces()
    workdir = None if namespaced else tempfile.mkdtemp(prefix="autograder-worker-")
    if workdir is not None and os.getuid() == 0:
        os.chown(workdir, uid, gid)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _init(channel, config, uid, gid) if namespaced else _student(channel, config, uid, gid, workdir)
        finally:
            os._exit(code)
    send_message(channel, {"worker": pid, "namespace": namespaced}, [])
    _, status = os.waitpid(pid, 0)
    try:
        send_message(channel, {"exit": _ending(status, namespaced)}, [])
    except OSError:
        pass
    channel.close()
    if workdir is not None:
        try:
            os.killpg(pid, signal.SIGKILL)  # what it started in its own session, at least
        except OSError:
            pass
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _ending(status: int, namespaced: bool) -> dict[str, int]:
    """How a worker ended. Through the init, a signal arrives as exit status 128 + its number."""
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    code = os.WEXITSTATUS(status)
    if namespaced and code >= 128:
        return {"signal": code - 128}
    return {"code": code}


def _init(channel: socket.socket, config: dict[str, Any], uid: int, gid: int) -> int:
    """Process 1 of the worker's PID namespace: its file systems, then reap until the student's ends."""
    isolation.die_with_parent()
    missing = isolation.mount_worker_filesystems(int(config["limits"].get("tmp_bytes", 64 << 20)), uid, gid)
    student = os.fork()
    if student == 0:
        code = 1
        try:
            code = _student(channel, config, uid, gid, None, missing)
        finally:
            os._exit(code)
    channel.close()
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == student:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status) & 0x7F


def _student(
    channel: socket.socket,
    config: dict[str, Any],
    uid: int,
    gid: int,
    workdir: str | None,
    missing: dict[str, str] | None = None,
) -> int:
    """The student's process: confine it, then load the submission and answer the grader."""
    missing = dict(missing or {})
    os.setsid()
    home = workdir or "/tmp"
    isolate = bool(config.get("isolate", True))
    # RLIMIT_NPROC counts per user (per user namespace): the worker's alone only when isolated.
    own_count = isolate and isolation.is_linux() and (os.getuid() == 0 or workdir is None)
    missing.update(isolation.apply_limits(dict(config["limits"]), count_processes=own_count))
    if isolate:
        missing.update(isolation.drop_privileges(uid, gid))
    isolation.die_with_parent()
    os.chdir(home)
    os.environ.update({"HOME": home, "TMPDIR": home})
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    keep = channel.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)
    warnings.simplefilter("ignore")
    _serve(channel, missing)
    return 0


def _serve(channel: socket.socket, missing: dict[str, str]) -> None:
    try:
        request, _ = recv_message(channel)
    except (ProtocolError, OSError):
        return
    if request.get("op") != "load":
        return
    send_message(channel, {"confined": missing}, [])  # before any student code runs
    namespace, problems = _load_chunks(request.get("chunks", []), channel)
    defined = sorted(name for name, value in namespace.items() if callable(value) and not name.startswith("__"))
    send_message(channel, {"defined": defined, "problems": problems}, [])
    store: dict[str, list[Any]] = {}
    while True:
        try:
            request, blobs = recv_message(channel)
        except (ProtocolError, OSError):
            return
        if request.get("op") == "siblings":  # these names now call the reference's functions, through the grader
            for name in [str(name) for name in request.get("names", [])][:100]:
                namespace[name] = _Sibling(name, channel)
            send_message(channel, {"ok": True}, [])
            continue
        if request.get("op") == "batch":  # each call names the slice of the blobs that is its own
            for call in request.get("calls", []):
                low, high = call.get("blobs", (0, 0))
                response, out_blobs = _handle(call, blobs[int(low) : int(high)], namespace, store)
                send_message(channel, response, out_blobs)
            continue
        response, out_blobs = _handle(request, blobs, namespace, store)
        send_message(channel, response, out_blobs)


def _load_chunks(chunks: list[dict[str, Any]], channel: socket.socket) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the chunks in one module namespace; tell the grader which one runs, in case it kills us."""
    STUDENT_FILES.update(str(chunk["location"]) for chunk in chunks)
    module = types.ModuleType("submission")
    sys.modules["submission"] = module
    namespace = module.__dict__
    problems = []
    for chunk in chunks:
        send_message(channel, {"chunk": chunk.get("index")}, [])
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
            store[str(request["handle"])] = decode(request["args"], blobs, _resolve)
            return {"ok": True}, []
        if op == "echo":
            out: list[bytes] = []
            return {"ok": True, "result": encode(store[str(request["handle"])], out)}, out
        if op != "call":
            return {"ok": False, "kind": "protocol", "message": f"unknown op {op!r}"}, []
        if "handle" in request:
            args, kwargs = store[str(request["handle"])], {}
        else:
            args = decode(request["args"], blobs, _resolve)
            kwargs = decode(request["kwargs"], blobs, _resolve)
        harness = decode(request["harness"], blobs, _resolve) if "harness" in request else None
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
        return {
            "ok": False,
            "kind": "error",
            "message": _describe(error),
            "type": type(error).__name__,
            **_os_error(error),
        }, []
    out = []
    try:
        response: dict[str, Any] = {"ok": True, "result": encode(result, out)}
        if request.get("return_args"):
            response["args_after"] = encode(list(args), out)
    except (TypeError, ValueError, RecursionError) as error:
        return {"ok": False, "kind": "bad_return", "message": str(error)}, []
    return response, out


# Every callable the grader sent, by id, with the name it travelled by: a sibling's argument travels on so.
_SENT: dict[int, tuple[Any, NamedCallable]] = {}


def _resolve(name: str, args: list[Any]) -> Any:
    """:func:`callables.resolve`, remembering the functions it built (not objects with a state: a generator)."""
    value = callables.resolve(name, args)
    if callable(value) and len(_SENT) < 10_000:
        _SENT[id(value)] = (value, NamedCallable(name, *args))
    return value


class _Sibling:
    """Stands for another graded function while one is graded on its own: each call goes to the grader,
    which answers with the reference's result, computed in a reference worker. It holds a name and this
    worker's channel, nothing of the reference's: student code can call it, never read it."""

    def __init__(self, name: str, channel: socket.socket) -> None:
        self.__name__ = name
        self._channel = channel

    def __repr__(self) -> str:
        return f"<the reference's {self.__name__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        errors = np.geterr()
        request: dict[str, Any] = {"sibling": self.__name__, "errstate": errors.get("over") == "raise"}
        blobs: list[bytes] = []
        restore = None
        try:
            try:
                request["args"] = encode(_travelling(list(args)), blobs)
                request["kwargs"] = encode(_travelling(dict(kwargs)), blobs)
            except _CannotTravel as error:
                blobs = []
                description, restore = _carried(args, kwargs, error)
                request.update({"carried": "torch", "args": encode([description], blobs), "kwargs": encode({}, [])})
        except _CannotTravel as error:
            send_message(self._channel, {"sibling": self.__name__, "unusable": str(error)[:200]}, [])
            recv_message(self._channel)
            raise TypeError(
                f"{self.__name__} got {error}, which cannot reach the reference's {self.__name__}"
            ) from None
        send_message(self._channel, request, blobs)
        response, out = recv_message(self._channel)
        if response.get("ok") is True:
            result = decode(response["result"], out, _resolve)
            if restore is None:
                return result
            try:
                return restore(result)
            except Exception:  # noqa: BLE001 - an answer that does not fit: the student's code sees a failed call
                raise RuntimeError(f"the reference's {self.__name__} answered what cannot be loaded") from None
        kind = getattr(builtins, str(response.get("type")), None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = RuntimeError
        raise kind(f"raised by the reference's {self.__name__}")


def _carried(args: tuple[Any, ...], kwargs: dict[str, Any], error: _CannotTravel) -> tuple[Any, Any]:
    """A call with PyTorch objects as plain data (:func:`autograder.sandbox.torch_harness.carry`), where the assignment
    loads the harness: the description, and what loads the reference's answer into the student's objects."""
    harness = sys.modules.get("autograder.sandbox.torch_harness")
    if harness is None:
        raise error
    try:
        return harness.carry(args, kwargs)  # type: ignore[no-any-return]
    except Exception as refused:  # noqa: BLE001 - CannotCarry, or an object that breaks on being read
        raise _CannotTravel(str(refused) if isinstance(refused, TypeError) else f"a {type(refused).__name__}") from None


class _CannotTravel(Exception):
    pass


def _travelling(value: Any, depth: int = 0) -> Any:
    """``value`` as it can travel to a reference worker: plain data, and the grader's functions by name."""
    if depth > 50:
        raise _CannotTravel("a value nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic)):
        if isinstance(value, np.ndarray) and value.dtype.hasobject:
            raise _CannotTravel("an array of Python objects")
        return value
    if isinstance(value, (list, tuple)):
        items = [_travelling(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {str(key): _travelling(item, depth + 1) for key, item in value.items()}
    sent = _SENT.get(id(value))
    if sent is not None and sent[0] is value:
        return sent[1]
    raise _CannotTravel(f"a {type(value).__name__}")


def _os_error(error: BaseException) -> dict[str, Any]:
    """The errno of the operating-system error behind ``error``, if any (the grader names refusals)."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        number = getattr(current, "errno", None)
        if isinstance(current, OSError) and isinstance(number, int):
            return {"errno": number}
        current = current.__cause__ or current.__context__
        seen += 1
    return {}


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
