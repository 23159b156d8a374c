"""The attack suite: submissions that try to escape or fool the sandbox, each with its exact verdict.

Every attack is planted in one function of a correct 02_activations submission. The grader must
finish; the attacked function must earn only what it earns honestly; every other function keeps its
10 points; nothing outside the worker's own folder changes; and nothing keeps running afterwards.
All submissions are graded in one parallel pass, with fewer examples per property than a real grade
(no attack depends on how many examples are drawn).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from autograder.exercises import load_assignment
from autograder.grading.references import load_references
from autograder.grading.runner import GRADING_SEED, Grader, Mode
from autograder.grading.submission import load_submission
from autograder.sandbox.launcher import Limits, zygote_for

pytestmark = [pytest.mark.sandbox, pytest.mark.activations]

ROOT = Path(__file__).resolve().parents[1]
CORRECT = ROOT / "tests" / "submissions" / "02_activations" / "correct.py"
SOLUTION = ROOT / "solutions" / "02_activations" / "activations.ipynb"
sys.path.insert(0, str(ROOT / "tests" / "submissions" / "attacks"))
from activations import ATTACKS, Attack  # noqa: E402

ASSIGNMENT = load_assignment("02_activations")
ATTACK_MODE = Mode("grade", include_hidden=True, max_examples=10, function_seconds=60.0)
FUNCTIONS = list(ASSIGNMENT.functions)
RELU = {"agrees_with_numpy", "agrees_with_reference", "within_range", "stable_for_large_inputs"}
RELU |= {"keeps_shape_and_dtype", "leaves_input_unchanged", "as_fast_as_reference"}
# relu returning zeros fails these; what else it keeps (shape, range, ...) is gated: 0 of 10 points.
ZEROS_FAIL = {"agrees_with_numpy", "agrees_with_reference"}
SIGMOID = {"agrees_with_scipy", "agrees_with_reference", "within_range", "symmetry", "stable_for_large_inputs"}
SIGMOID |= {"keeps_shape_and_dtype", "leaves_input_unchanged", "as_fast_as_reference"}
# What a wrong relu is not judged on: speed and the unchanged input count only once it agrees with the reference.
UNCHECKED_AFTER_WRONG = {"leaves_input_unchanged", "as_fast_as_reference"}
# A C-level recursion overflows the stack up to Python 3.11; later versions raise RecursionError.
RECURSION = "crashed" if sys.version_info < (3, 12) else "error"

# attack: (points of the attacked function, {verdict: properties with it}); a bare verdict: all of them.
EXPECTED: dict[str, tuple[float, dict[str, set[str]] | str]] = {
    "infinite_loop": (0, "timeout"),
    "memory_bomb": (0, "memory"),
    "many_processes": (0, "forbidden"),
    "large_file": (0, "forbidden"),
    "sys_exit_at_import": (0, "error"),
    "os_exit_at_import": (0, "crashed"),
    "sys_exit_in_function": (0, "error"),
    "os_exit_in_function": (0, "crashed"),
    "kill_self_and_parent": (0, "crashed"),
    "monkeypatch": (0, {"failed": ZEROS_FAIL, "gated": RELU - ZEROS_FAIL}),
    "lying_subclass": (0, {"failed": ZEROS_FAIL, "gated": RELU - ZEROS_FAIL}),
    "lying_object": (0, {"failed": RELU - UNCHECKED_AFTER_WRONG, "gated": UNCHECKED_AFTER_WRONG}),
    "fake_report": (0, {"failed": ZEROS_FAIL, "gated": RELU - ZEROS_FAIL}),
    "read_solution": (0, {"error": SIGMOID - {"as_fast_as_reference"}, "gated": {"as_fast_as_reference"}}),
    "socket_to_localhost": (0, "forbidden"),
    "patched_clocks": (9, {"failed": {"as_fast_as_reference"}, "passed": SIGMOID - {"as_fast_as_reference"}}),
    "skip_timed_work": (9, {"failed": {"as_fast_as_reference"}, "passed": SIGMOID - {"as_fast_as_reference"}}),
    "recursion_bomb": (0, RECURSION),
    "slow_the_reference": (9, {"failed": {"as_fast_as_reference"}, "passed": SIGMOID - {"as_fast_as_reference"}}),
    "wait_during_the_call": (9, {"failed": {"as_fast_as_reference"}, "passed": SIGMOID - {"as_fast_as_reference"}}),
    "answer_of_no_size": (0, "forbidden"),
    "answer_in_json_of_many_megabytes": (0, "memory"),
    "background_process": (10, "passed"),
}
# What the feedback of the attacked function says (a fragment), where it tells the attacks apart.
FEEDBACK = {
    "infinite_loop": "took longer than the time limit of 10 s",
    "memory_bomb": "ran out of memory",
    "many_processes": "a worker may run at most 32 processes and threads",
    "large_file": "files are limited to 16 MiB",
    "sys_exit_at_import": "defining relu failed: SystemExit",
    "os_exit_at_import": "defining relu failed: this code ended the worker process (exit status 0)",
    "sys_exit_in_function": "relu raised SystemExit: 0",
    "os_exit_in_function": "the worker process ended with exit status 0",
    "kill_self_and_parent": "the worker process was killed (SIGKILL)",
    "lying_object": "relu returned an object of type",
    "read_solution": "No such file or directory",
    "socket_to_localhost": "a worker has no network",
    "skip_timed_work": "sigmoid gave a wrong answer on the timing input",
}

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux-only")


class Listener:
    """A TCP server on 127.0.0.1 that records whether anyone connected."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()


def without(function: str, source: str) -> str:
    """``source`` with the definition of ``function`` removed."""
    start = source.index(f"def {function}(")
    end = source.find("\n\ndef ", start)
    return source[:start] + (source[end + 2 :] if end != -1 else "")


def plant(attack: Attack, replacements: dict[str, str]) -> str:
    text = attack.source
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    return without(attack.function, CORRECT.read_text()) + "\n\n# --- planted attack ---\n" + text.strip() + "\n"


def grade_attack(path: Path) -> dict[str, Any]:
    """Grade one attack submission in this process; a summary that pickles across processes."""
    references = load_references(ASSIGNMENT)
    report = Grader(ASSIGNMENT, references, ATTACK_MODE, GRADING_SEED).grade(load_submission(path))
    return {
        "points": report.points_by_function(),
        # An undecided timing keeps its points: for what an attack earns, it passed.
        "verdicts": {
            f.name: {p.property: "passed" if p.passed else p.verdict for p in f.properties} for f in report.functions
        },
        "feedback": {f.name: f.note + "\n" + "\n".join(p.feedback for p in f.properties) for f in report.functions},
        "sandbox": report.sandbox,
    }


def grade_with_cli(path: Path, out: Path) -> dict[str, Any]:
    """Grade through ``autograder grade --format gradescope``: what reaches stdout and the results file."""
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(path), "--assignment", "02_activations"]
        + ["--format", "gradescope", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def fingerprint(*folders: Path) -> dict[str, str]:
    """Every file under ``folders``, by path, with a hash of its contents."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def lingering() -> list[str]:
    """Processes left by the attacks: the sleeper and the daemon they name."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if "987.654" in command or name == "lingering-daemon":
            found.append(f"{entry.name}: {name} {command}")
    return found


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every attack graded once, in parallel, with what stayed the same around them."""
    folder = tmp_path_factory.mktemp("attacks")
    submissions, output = folder / "submissions", folder / "output"
    submissions.mkdir()
    output.mkdir()
    listener = Listener()
    marker = folder / "outside-marker"
    replacements = {
        "SOLUTION_PATH": str(SOLUTION),
        "LISTENING_PORT": str(listener.port),
        "SUBMISSION_DIR": str(submissions),
        "OUTPUT_DIR": str(output),
        "OUTSIDE_MARKER": str(marker),
    }
    paths = {}
    for name, attack in ATTACKS.items():
        paths[name] = submissions / f"{name}.py"
        paths[name].write_text(plant(attack, replacements))
    outside = [submissions, ROOT / "solutions", ROOT / "autograder"]
    before = fingerprint(*outside)
    tmp_results = Path("/tmp/results.json")
    tmp_before = tmp_results.stat().st_mtime if tmp_results.exists() else None
    try:
        with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            cli = pool.submit(grade_with_cli, paths["fake_report"], output / "results.json")
            graded = dict(zip(paths, pool.map(grade_attack, paths.values()), strict=True))
            cli_result = cli.result()
    finally:
        listener.close()
    time.sleep(2)  # a daemon that escaped would have written its marker by now
    yield {
        "graded": graded,
        "cli": cli_result,
        "results_file": output / "results.json",
        "changed": sorted(set(fingerprint(*outside).items()) ^ set(before.items())),
        "connections": listener.connections,
        "marker": marker,
        "tmp_results_changed": (tmp_results.stat().st_mtime if tmp_results.exists() else None) != tmp_before,
        "output": output,
    }


def test_every_attack_has_an_expected_verdict() -> None:
    assert set(EXPECTED) == set(ATTACKS)


@needs_linux
def test_the_sandbox_has_every_protection_on_linux() -> None:
    zygote = zygote_for(ASSIGNMENT.preload, Limits())
    assert zygote.missing == {}, f"missing protections on this machine: {zygote.missing}"


@needs_linux
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_earns_nothing_and_costs_the_others_nothing(name: str, attacked: dict[str, Any]) -> None:
    result = attacked["graded"][name]
    function = ATTACKS[name].function
    points, verdicts = EXPECTED[name]
    expected_points = {f: 10.0 for f in FUNCTIONS}
    expected_points[function] = points
    assert result["points"] == expected_points
    got = result["verdicts"][function]
    if isinstance(verdicts, str):
        # A failure that ends the function's grading gives the timing its verdict too; one that ends a single
        # property leaves the timing gated (speed counts only for a correct function). Either way, no point.
        timed = {p.name for p in ASSIGNMENT.properties_of(function) if p.timing is not None}
        assert {v for p, v in got.items() if p not in timed} == {verdicts}, got
        assert all(got[p] in (verdicts, "gated") for p in timed), got
    else:
        assert {v: {p for p, w in got.items() if w == v} for v in set(got.values())} == verdicts
    if name in FEEDBACK:
        assert FEEDBACK[name] in result["feedback"][function]
    for other in FUNCTIONS:
        if other != function:
            assert set(result["verdicts"][other].values()) == {"passed"}, other


@needs_linux
def test_nothing_outside_the_workers_changed(attacked: dict[str, Any]) -> None:
    assert attacked["changed"] == []
    assert not attacked["marker"].exists()
    assert not attacked["tmp_results_changed"]
    assert sorted(p.name for p in attacked["output"].iterdir()) == ["results.json"]


@needs_linux
def test_nothing_keeps_running(attacked: dict[str, Any]) -> None:
    assert lingering() == []


@needs_linux
def test_no_connection_reaches_the_host(attacked: dict[str, Any]) -> None:
    assert attacked["connections"] == 0


@needs_linux
def test_a_fake_report_reaches_neither_stdout_nor_the_results_file(attacked: dict[str, Any]) -> None:
    cli = attacked["cli"]
    assert cli["returncode"] == 0, cli["stderr"]
    assert cli["stdout"] == "" and "1000" not in cli["stderr"]
    results = json.loads(attacked["results_file"].read_text())
    totals: dict[str, float] = {}
    for test in results["tests"]:
        function = test["extra_data"]["function"]
        totals[function] = totals.get(function, 0.0) + test["score"]
    kept = EXPECTED["fake_report"][0]
    assert totals == {f: (kept if f == "relu" else 10.0) for f in FUNCTIONS}
    assert results["score"] == 90 + kept
    assert results["extra_data"]["sandbox"]["network"] == "on"
