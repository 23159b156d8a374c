"""A warm grader for ``check``: one per user, started by the first check, gone after an idle spell.

A check in a fresh process pays for the interpreter, the imports (NumPy, Hypothesis, the catalogues,
PyTorch for 05) and a sealed zygote before it grades anything: most of the seconds a student waits. The
service keeps all of that loaded. ``autograder check`` and ``autograde.check`` are thin clients: they
send the path (or the kernel's cells) over a Unix socket and print the text that comes back; when no
service answers they start one in the background, and when it cannot start they grade in their own
process as before. Student code still runs only in the sandbox's workers, which cannot see the socket
(it lives in the grader's cache folder, hidden from every worker).

Only the user who started it can talk to it: the socket sits in a folder of mode 0700 that the user owns,
and each connection's peer credentials must name that user. Stale code is never graded: every request
carries the client's :func:`identity` (the grader's version and the hash of its own source, the course
root, the Python), and a service with another identity stops instead of answering, so the client starts
a fresh one. A changed notebook needs nothing: each check reads it anew.

    autograder service status     # is one running, since when, how many checks
    autograder service stop
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.sandbox.locations import cache_folder, find_course_root

if TYPE_CHECKING:
    from autograder.grading.runner import Mode
    from autograder.grading.submission import Submission

IDLE_SECONDS = 15 * 60
START_SECONDS = 10.0  # how long a client waits for a service it started (imports on a busy machine)
_SOCKET = "service.sock"
_REQUEST_SECONDS = 600.0  # a whole check, 05 included, on a slow machine
_LOOK_AROUND_SECONDS = 30.0  # how often an idle service checks that its socket is still its own
SERVICE_VARIABLE = "AUTOGRADER_SERVICE"  # "off": every check grades in its own process


class ServiceUnavailable(Exception):
    """No service could be reached or started: the caller grades in its own process."""


def folder() -> Path:
    """The service's folder in the grader's cache: created 0700, and refused unless this user owns it alone."""
    if not sys.platform.startswith("linux"):
        raise ServiceUnavailable("the service needs Linux (peer credentials on a Unix socket)")
    path = cache_folder() / "service"
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = path.lstat()
        if path.is_symlink() or not path.is_dir() or info.st_uid != os.getuid():
            raise ServiceUnavailable(f"{path} is not a folder of this user")
        if info.st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError as error:
        raise ServiceUnavailable(f"no private folder for the service at {path} ({error.strerror})") from None
    return path


def identity() -> str:
    """What a service must match to answer: the grader's version and source, the course, the Python.

    The Python is its environment (``sys.prefix``) and the interpreter the executable's path leads to, not
    that path itself: ``.venv/bin/python``, ``.venv/bin/python3`` (the ``autograder`` command's) and a
    kernel's own spelling are one Python, and a student who checks from a terminal and from a notebook in
    turn must not replace the service at every switch.
    """
    from autograder import __version__

    package = Path(__file__).resolve().parent
    python = f"{sys.prefix}|{os.path.realpath(sys.executable)}"
    digest = hashlib.sha256(f"{__version__}|{find_course_root()}|{python}".encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# -- the wire: a length, then JSON (no NumPy here, so that the client starts in a few milliseconds) ----------
_LENGTH = struct.Struct("<I")
_MAX_MESSAGE = 64 << 20  # a notebook's cells, or a report's text


def _send(connection: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode("utf-8", "backslashreplace")
    connection.sendall(_LENGTH.pack(len(data)) + data)


def _receive(connection: socket.socket, seconds: float) -> dict[str, Any]:
    """One message within ``seconds``; :class:`ServiceUnavailable` for anything else."""
    connection.settimeout(seconds)
    try:
        (length,) = _LENGTH.unpack(_exactly(connection, _LENGTH.size))
        if length > _MAX_MESSAGE:
            raise ServiceUnavailable(f"a message of {length} bytes, more than the service takes")
        message = json.loads(_exactly(connection, length))
    except (OSError, ValueError, struct.error) as error:
        raise ServiceUnavailable(f"no answer ({error})") from None
    if not isinstance(message, dict):
        raise ServiceUnavailable("a message that is not an object")
    return message


def _exactly(connection: socket.socket, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = connection.recv(min(left, 1 << 20))
        if not part:
            raise ConnectionError("the other end closed the connection")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


# -- the client --------------------------------------------------------------------------------------------------
def check(request: dict[str, Any], start: bool = True) -> dict[str, Any]:
    """Send one check to the service (starting it if need be) and return its answer.

    ``request`` holds ``path`` (a file to read) or ``cells`` and ``notebook`` (a kernel's history, with
    optionally each cell's name in ``locations`` and notes to show first in ``notes``), and optionally
    ``assignment`` and ``functions``. Raises :class:`ServiceUnavailable` when no service can
    answer; the caller then grades in its own process.
    """
    request = {**request, "op": "check", "identity": identity()}
    for attempt in range(2):
        try:
            answer = _ask(request)
        except ServiceUnavailable:
            if not start or attempt:
                raise
            _start()
            continue
        if answer.get("stale"):  # it stopped itself: start one with this code
            if not start or attempt:
                raise ServiceUnavailable("the running service is for other code")
            _start()
            continue
        return answer
    raise ServiceUnavailable("no service answered")


def quick_check(argv: list[str]) -> int | None:
    """``autograder check PATH [--assignment ID]`` (or ``grade PATH [--assignment ID] [--seed N] [--format F]``)
    answered by the service, before any grader import.

    None when the command is anything else (``grade --out`` included), the service is switched off
    (``$AUTOGRADER_SERVICE=off``) or cannot answer: the full command line then runs, and grades in its own process.
    """
    if not argv or argv[0] not in ("check", "grade") or os.environ.get(SERVICE_VARIABLE, "on") == "off":
        return None
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("path", type=Path)
    parser.add_argument("--assignment")
    if argv[0] == "grade":
        parser.add_argument("--seed", type=int)
        parser.add_argument("--format", choices=("text", "gradescope"), default="text")
    try:
        options, unknown = parser.parse_known_args(argv[1:])
    except (argparse.ArgumentError, SystemExit):
        return None
    if unknown or not options.path.exists():
        return None  # the full command line says what is wrong
    request: dict[str, Any] = {"path": str(options.path.absolute()), "assignment": options.assignment}
    if argv[0] == "grade":  # the seed as this command's environment sets it, not the service's
        request |= {"mode": "grade", "seed": options.seed, "format": options.format}
        request["seed_setting"] = os.environ.get("AUTOGRADER_SEED")
    try:
        answer = check(request)
    except ServiceUnavailable:
        return None
    if answer.get("ok"):
        sys.stdout.write(str(answer["text"]))
        return 0
    if answer.get("fallback"):
        return None
    print(f"autograder: {answer.get('error')}", file=sys.stderr)
    return 2


def prepare(assignment_id: str) -> None:
    """Ask the service to load ``assignment_id``'s catalogue and zygote now, without waiting for it.

    A notebook's first cell calls this (:class:`autograder.notebook.AssignmentChecks`), so that the first
    check finds them warm. Best effort and non-blocking: a service that is not running is started in the
    background (the first check waits for it), and nothing is read back.
    """
    request = {"op": "prepare", "assignment": assignment_id, "identity": identity()}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(0.5)
            connection.connect(str(folder() / _SOCKET))
            _send(connection, request)
    except (OSError, ServiceUnavailable):
        with contextlib.suppress(OSError, ServiceUnavailable):
            _launch([assignment_id])


def status() -> dict[str, Any] | None:
    """The running service's pid, identity, start time and checks so far, or None when none runs."""
    try:
        return _ask({"op": "status"}, connect_seconds=1.0)
    except ServiceUnavailable:
        return None


def stop() -> bool:
    """Ask the running service to stop; False when none was running."""
    try:
        _ask({"op": "stop"}, connect_seconds=1.0)
    except ServiceUnavailable:
        return False
    return True


def _ask(request: dict[str, Any], connect_seconds: float = 0.5) -> dict[str, Any]:
    path = folder() / _SOCKET
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(connect_seconds)
        try:
            connection.connect(str(path))
        except OSError as error:
            raise ServiceUnavailable(f"no service at {path} ({error.strerror})") from None
        try:
            _send(connection, request)
        except OSError as error:
            raise ServiceUnavailable(f"the service did not take the request ({error})") from None
        return _receive(connection, _REQUEST_SECONDS)


_launched: list[float] = []  # when this process last started a service (a second start would replace it)


def _launch(prepare: list[str]) -> None:
    """Start a service in the background, which loads the ``prepare`` assignments first; do not wait."""
    log = folder() / "service.log"
    with log.open("ab") as output:
        subprocess.Popen(
            [sys.executable, "-m", "autograder.service", *prepare],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # it outlives the command that started it
            cwd=str(Path.cwd()),
        )
    _launched[:] = [time.monotonic()]


def _start() -> None:
    """Start a service in the background (unless this process just did) and wait until it listens."""
    if not _launched or time.monotonic() - _launched[0] > START_SECONDS:
        _launch([])
    deadline = _launched[0] + START_SECONDS
    while time.monotonic() < deadline:
        if status() is not None:
            return
        time.sleep(0.02)
    raise ServiceUnavailable(f"the service did not start within {START_SECONDS:g} s (see {folder() / 'service.log'})")


# -- the service ------------------------------------------------------------------------------------------------
def serve(idle_seconds: float = IDLE_SECONDS, prepare: tuple[str, ...] = ()) -> None:
    """Listen until idle for ``idle_seconds`` or told to stop; answer one check at a time.

    The ``prepare`` assignments' catalogues and zygotes are loaded once it listens (see :func:`prepare`).
    """
    from autograder.grading.runner import CHECK, PUBLIC_SEED  # the warm part: imported once, kept
    from autograder.sandbox.launcher import shutdown

    private = folder()
    path = private / _SOCKET
    mine = identity()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a service that died left it; a live one would have answered the client
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(8)
        listener.settimeout(min(idle_seconds, _LOOK_AROUND_SECONDS))
        bound = path.stat().st_ino
        started, checks, last = time.time(), 0, time.monotonic()
        try:
            for assignment_id in prepare:  # clients wait in the listen queue meanwhile
                _prepare(assignment_id)
            while True:
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    if time.monotonic() - last > idle_seconds or not _still_bound(path, bound):
                        return  # idle long enough, or its folder was removed (a test's, a cleaned cache)
                    continue
                last = time.monotonic()
                with connection:
                    if _peer_uid(connection) != os.getuid():
                        continue  # only the user who started it
                    try:
                        request = _receive(connection, 10.0)
                    except ServiceUnavailable:
                        continue
                    op = request.get("op")
                    if op == "status":
                        answer = {"pid": os.getpid(), "identity": mine, "started": started, "checks": checks}
                    elif op == "stop":
                        _send(connection, {"stopped": True})
                        return
                    elif request.get("identity") != mine:
                        _send(connection, {"stale": True})
                        return  # the client starts a service with its own code
                    elif op == "prepare":
                        answer = _prepare(str(request.get("assignment")))
                    else:
                        checks += 1
                        answer = _check(request, CHECK, PUBLIC_SEED)
                    with contextlib.suppress(OSError):
                        _send(connection, answer)
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            shutdown()


def _prepare(assignment_id: str) -> dict[str, Any]:
    """Load an assignment's catalogue, start its zygote and warm its outside references, so that its first
    check finds them all warm."""
    from autograder.exercises import load_assignment
    from autograder.grading.runner import Grader
    from autograder.sandbox.launcher import zygote_for

    try:
        assignment = load_assignment(assignment_id)
        zygote_for(assignment.preload, Grader(assignment, None).limits)
        if assignment.warm_up is not None:
            assignment.warm_up()
    except Exception as error:  # noqa: BLE001 - a check reports it, in its own words
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"ok": True}


# The answers to the last few in-notebook checks, by what was checked (see _repeat_key): a check is a function
# of the code it reads (seeded examples, no timing), so a repeat of unchanged code is answered from here
# instead of keeping the student waiting for the same feedback again.
_ANSWERS: collections.OrderedDict[str, str] = collections.OrderedDict()
_ANSWERS_KEPT = 32


def _repeat_key(assignment_id: str, function: str, submission: Submission, warning: str) -> str:
    """What a check's answer depends on: the assignment, the function, every chunk of code the worker would run
    (with where it came from), what could not be read, what was left out that the function uses (a check
    names only that), and the warning shown first."""
    code = [[c.source, c.location, c.line] for c in submission.chunks]
    uses = {function} | submission.reads_of(function)
    unread = [[p.origin, p.message] for p in submission.problems]
    unread += [[o.origin, o.reason] for o in submission.left_out if uses & set(o.names)]
    return hashlib.sha256(json.dumps([assignment_id, function, warning, code, unread]).encode()).hexdigest()


def _check(request: dict[str, Any], mode: Mode, seed: int) -> dict[str, Any]:
    """Grade one check request as ``autograder check`` would in its own process; the text to print."""
    from autograder.exercises import UnknownAssignment, load_assignment
    from autograder.grade import SEED_VARIABLE, UsageError, grade_path, grade_submission, grading_seed
    from autograder.grading.calls import GraderError
    from autograder.grading.kernel_cells import kernel_submission
    from autograder.grading.references import ReferenceUnusable
    from autograder.grading.report import render_text, rendered
    from autograder.grading.runner import GRADE
    from autograder.grading.submission import submission_from_cells

    try:
        if "history" in request:  # a kernel's cells: autograde.check in a notebook
            assignment = load_assignment(str(request["assignment"]))
            name = str(request.get("function"))
            if name not in assignment.functions:
                known = ", ".join(assignment.functions)
                error = f"{name!r} is not graded in {assignment.id}; the graded functions are {known}"
                return {"ok": False, "refused": True, "error": error}
            history = [(int(count), str(text)) for count, text in request["history"]]
            candidates = [str(c) for c in request.get("candidates") or []]
            submission, warning = kernel_submission(assignment, name, history, candidates, str(request.get("cwd", "")))
            key = _repeat_key(assignment.id, name, submission, warning)
            if key in _ANSWERS:
                _ANSWERS.move_to_end(key)
                return {"ok": True, "text": _ANSWERS[key]}
            report = grade_submission(submission, assignment, mode, seed, [name])
            report.notes[:0] = [warning] if warning else []
            _ANSWERS[key] = render_text(report)
            while len(_ANSWERS) > _ANSWERS_KEPT:
                _ANSWERS.popitem(last=False)
        elif "cells" in request:
            assignment = load_assignment(str(request["assignment"]))
            cells, locations = [str(c) for c in request["cells"]], request.get("locations")
            locations = [str(n) for n in locations] if isinstance(locations, list) else None
            submission = submission_from_cells(Path(str(request["notebook"])), cells, locations)
            functions = [str(f) for f in request.get("functions") or []] or None
            report = grade_submission(submission, assignment, mode, seed, functions)
            report.notes[:0] = [str(note) for note in request.get("notes") or []]  # the kernel's own (unsaved work)
        elif request.get("mode") == "grade":  # an instructor's `autograder grade`: every property
            setting = request.get("seed_setting")
            seed = grading_seed(request.get("seed"), {} if setting is None else {SEED_VARIABLE: str(setting)})
            report = grade_path(Path(str(request["path"])), request.get("assignment"), GRADE, seed)
            return {"ok": True, "text": rendered(report, str(request.get("format", "text")))}
        else:
            report = grade_path(Path(str(request["path"])), request.get("assignment"), mode, seed)
    except (UsageError, UnknownAssignment, ReferenceUnusable, GraderError) as error:
        return {"ok": False, "error": str(error)}
    except Exception as error:  # noqa: BLE001 - the client falls back to grading in its own process
        return {"ok": False, "error": f"the service failed: {type(error).__name__}: {error}", "fallback": True}
    return {"ok": True, "text": render_text(report)}


def _still_bound(path: Path, inode: int) -> bool:
    try:
        return path.stat().st_ino == inode
    except OSError:
        return False


def _peer_uid(connection: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket (Linux's SO_PEERCRED)."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, getattr(socket, "SO_PEERCRED", 17), struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", credentials)
    return int(uid)


if __name__ == "__main__":
    serve(prepare=tuple(sys.argv[1:]))
