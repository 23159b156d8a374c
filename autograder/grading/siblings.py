"""Grading a function apart from the other graded functions it calls (its siblings).

A student's ``tanh_grad`` that calls their own ``tanh`` fails wherever ``tanh`` does: a hanging ``tanh``
would cost ``tanh_grad`` its points too. So a function that lost points and calls a sibling is graded a
second time with each sibling it calls standing for the reference's: in its worker, the sibling's name
is bound to a stand-in (``autograder.sandbox.worker._Sibling``) that sends the call's arguments, as plain data,
to the grader; the grader passes them to a reference worker (a sandboxed worker holding the reference
solutions, as timing uses), and hands back the result alone, or the type of exception it raised. The
student's worker never receives any of the reference's code, its source, its bytecode or its error
messages: only values, computed elsewhere, on arguments the student's code chose.

PyTorch objects of the kinds the harness builds (a model of standard layers, the harness's loaders, a
known optimizer, the loss) travel as what rebuilds them, with their state as arrays: the call is marked
``carried`` and the reference worker runs it through the torch harness's ``sibling`` harness, which
rebuilds them and answers with their new state (:func:`autograder.sandbox.torch_harness.carry`). What cannot
travel (a generator with a state, a function the student wrote, a model of their own class) cannot reach
the reference: the call raises ``TypeError`` in the student's code, and the runner keeps the first
grading (docs/GRADING.md says what that leaves out).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autograder.sandbox.launcher import Failure, Launcher, Worker, WorkerFailure
from autograder.sandbox.protocol import NamedCallable, encode, send_message

# Exception types a reference's failure is reported by (anything else is a RuntimeError in the student's code).
_EXCEPTION_TYPES = frozenset(
    {"ArithmeticError", "FloatingPointError", "IndexError", "KeyError", "LookupError", "MemoryError"}
    | {"OverflowError", "TypeError", "ValueError", "ZeroDivisionError"}
)


class SiblingRelay:
    """Answers a student worker's calls of ``names`` with the reference's results, from a reference worker."""

    def __init__(self, names: tuple[str, ...], launcher: Callable[[], Launcher]) -> None:
        self.names = frozenset(names)
        self._launcher = launcher
        self._reference: Worker | None = None
        self.used: set[str] = set()  # the siblings the function really called
        self.unusable = ""  # why a call could not reach the reference, if one could not

    def bind(self, worker: Worker) -> Worker:
        """``worker`` with the siblings' names standing for the reference's functions."""
        response, _ = worker.request({"op": "siblings", "names": sorted(self.names)}, [])
        if response.get("ok") is not True:
            worker.kill()
            raise WorkerFailure(Failure.CRASHED, "the worker did not take the reference's functions")
        return SiblingWorker.around(worker, self)

    def answer(self, student: Worker, request: dict[str, Any], blobs: list[bytes], deadline: float) -> None:
        """Answer one call a student worker made of a sibling, within the student's call's ``deadline``."""
        name = request.get("sibling")
        out: list[bytes] = []
        reply: dict[str, Any] = {"ok": False, "type": "RuntimeError"}
        if not isinstance(name, str) or name not in self.names:
            reply["type"] = "NameError"
        elif "unusable" in request:
            self.unusable = self.unusable or f"your code passes `{name}` {str(request['unusable'])[:200]}"
            reply["type"] = "TypeError"
        else:
            self.used.add(name)
            header = {
                "op": "call",
                "function": name,
                "args": request.get("args"),
                "kwargs": request.get("kwargs", {"t": "dict", "v": {}}),
                "errstate": bool(request.get("errstate")),
            }
            if request.get("carried") == "torch":  # objects described as plain data: the torch harness rebuilds them
                header["harness"] = encode(NamedCallable("torch", "sibling"), [])
            try:
                response, answer = self._worker().request(header, blobs, max(deadline - time.monotonic(), 0.001))
            except WorkerFailure:
                self.close()  # the next call gets a fresh reference worker
            else:
                if response.get("ok") is True and "result" in response:
                    reply, out = {"ok": True, "result": response["result"]}, answer
                elif response.get("kind") == "error":
                    raised = str(response.get("message", "")).split(":", 1)[0]
                    reply["type"] = raised if raised in _EXCEPTION_TYPES else "RuntimeError"
        try:
            send_message(student.sock, reply, out)
        except OSError:
            student.kill()  # it died while it waited: its next answer says how

    def _worker(self) -> Worker:
        if self._reference is None or self._reference.dead:
            self._reference = self._launcher().spawn()
        return self._reference

    def close(self) -> None:
        if self._reference is not None:
            self._reference.kill()
            self._reference = None


@dataclass
class SiblingWorker(Worker):
    """A student's worker whose calls may call siblings: the grader answers those while it waits."""

    relay: SiblingRelay | None = None

    @classmethod
    def around(cls, worker: Worker, relay: SiblingRelay) -> SiblingWorker:
        fields = {field.name: getattr(worker, field.name) for field in dataclasses.fields(Worker)}
        return cls(**fields, relay=relay)

    def receive(self, limit: float) -> tuple[dict[str, Any], list[bytes]]:
        """The next answer within ``limit`` seconds, the siblings' calls it makes on the way answered here."""
        deadline = time.monotonic() + limit
        while True:
            try:
                response, blobs = super().receive(max(deadline - time.monotonic(), 0.0))
            except WorkerFailure as failure:
                if failure.waited_out:  # reported against the whole call's limit, not the slice left
                    message = f"took longer than the time limit of {limit:g} s"
                    raise WorkerFailure(Failure.TIMEOUT, message, waited_out=True) from None
                raise
            if "sibling" not in response or self.relay is None:
                return response, blobs
            self.relay.answer(self, response, blobs, deadline)
