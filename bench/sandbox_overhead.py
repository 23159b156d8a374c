"""What the sandbox costs: grading with isolation on and off, side by side, and how fast workers start.

Run from the repository root::

    python bench/sandbox_overhead.py          # grade and check the reference notebook, 3 rounds each
    python bench/sandbox_overhead.py --quick  # one round of `check` on two functions (CI)

Figures, each measured with isolation on (namespaces, private root, unprivileged user) and off
(separate processes with resource limits only, ``Limits(isolate=False)``), alternating so that load
on the machine hits both: the start of a zygote (a fresh interpreter importing the assignment's
modules, then sealing itself), the start of a worker (fork, confine, load the reference notebook's
code), the wall time of ``check`` and ``grade`` on the reference notebook, and how many student
calls each round trip to a worker carried (batching).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.exercises import load_assignment  # noqa: E402
from autograder.grade import grade_submission  # noqa: E402
from autograder.grading.references import load_references  # noqa: E402
from autograder.grading.runner import CHECK, GRADE, GRADING_SEED, PUBLIC_SEED, Mode  # noqa: E402
from autograder.grading.submission import load_submission  # noqa: E402
from autograder.sandbox import launcher as sandbox  # noqa: E402
from autograder.sandbox.launcher import Limits, Zygote  # noqa: E402

ASSIGNMENT = "02_activations"
NOTEBOOK = ROOT / "solutions" / ASSIGNMENT / "activations.ipynb"


class Traffic:
    """Counts round trips to workers and the student calls they carried, by wrapping the Worker."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.calls = 0
        original_request, original_batch = sandbox.Worker.request, sandbox.Worker.batch

        def request(worker: sandbox.Worker, header: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            self.round_trips += 1
            self.calls += header.get("op") == "call"
            return original_request(worker, header, *args, **kwargs)

        def batch(worker: sandbox.Worker, calls: list[sandbox.PreparedCall]) -> Iterator[Any]:
            self.round_trips += 1
            self.calls += len(calls)
            return original_batch(worker, calls)

        sandbox.Worker.request = request  # type: ignore[method-assign,assignment]
        sandbox.Worker.batch = batch  # type: ignore[method-assign,assignment]

    def reset(self) -> None:
        self.round_trips = self.calls = 0


def grading_seconds(grade: Callable[[], object]) -> float:
    start = time.perf_counter()
    grade()
    return time.perf_counter() - start


def zygote_start(limits: Limits, preload: tuple[str, ...]) -> float:
    zygote = Zygote(preload, limits)
    zygote.close()
    return zygote.start_seconds


def worker_start(zygote: Zygote, chunks: list[Any], count: int) -> float:
    """The median time from asking the zygote for a worker to the worker having loaded ``chunks``."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        worker = zygote.spawn(chunks)
        times.append(time.perf_counter() - start)
        worker.kill()
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of check on two functions")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    rounds = 1 if options.quick else options.rounds
    assignment = load_assignment(ASSIGNMENT)
    references = load_references(assignment, ROOT)
    submission = load_submission(NOTEBOOK)
    functions = list(assignment.functions)[:2] if options.quick else None
    settings: dict[str, Limits] = {"on": Limits(), "off": Limits(isolate=False)}
    traffic = Traffic()
    figures: dict[str, dict[str, list[float]]] = {}

    def record(figure: str, setting: str, value: float) -> None:
        figures.setdefault(figure, {"on": [], "off": []})[setting].append(value)

    modes: list[tuple[str, Mode, int]] = [("check", CHECK, PUBLIC_SEED)]
    if not options.quick:
        modes.append(("grade", GRADE, GRADING_SEED))
    for _ in range(rounds):
        for setting, limits in settings.items():
            record("zygote start (s)", setting, zygote_start(limits, assignment.preload))
            zygote = sandbox.zygote_for(assignment.preload, limits)
            spawns = 3 if options.quick else 10
            record("worker start (ms)", setting, 1e3 * worker_start(zygote, submission.chunks, spawns))
            for name, mode, seed in modes:
                refs = references if mode.include_hidden else None
                traffic.reset()
                seconds = grading_seconds(
                    lambda: grade_submission(submission, assignment, mode, seed, functions, refs, limits)  # noqa: B023
                )
                record(f"{name} the reference (s)", setting, seconds)
                if setting == "on":
                    per_trip = traffic.calls / max(traffic.round_trips, 1)
                    record(f"{name}: student calls per round trip", setting, per_trip)
    sandbox.shutdown()

    print(f"Sandbox overhead, {ASSIGNMENT} reference notebook, best of {rounds} round(s), isolation on vs off")
    print(f"{'figure':<40}{'on':>10}{'off':>10}{'on/off':>10}")
    for figure, values in figures.items():
        on = min(values["on"])
        if values["off"]:
            off = min(values["off"])
            print(f"{figure:<40}{on:>10.3f}{off:>10.3f}{on / off:>10.2f}")
        else:
            print(f"{figure:<40}{on:>10.1f}{'':>10}{'':>10}")


if __name__ == "__main__":
    main()
