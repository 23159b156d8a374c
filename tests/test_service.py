"""The warm grader: `autograder check` through it says what the check in its own process says, only this
user can reach it, stale code is never graded, it stops when told or when idle, and workers cannot reach it.

Each test runs the real command in a subprocess with a cache folder of its own (so a service of its own),
and stops what it started.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder import service

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the service needs Linux"),
]

ROOT = Path(__file__).resolve().parents[1]
CORRECT = ROOT / "tests" / "submissions" / "02_activations" / "correct.py"


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A cache folder (and so a service) of this test's own, with the service switched on."""
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(service.SERVICE_VARIABLE, raising=False)
    yield dict(os.environ)
    service.stop()


def autograder(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "autograder", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment, cwd=ROOT)


def test_a_check_through_the_service_says_what_a_check_in_its_own_process_says(environment: dict[str, str]) -> None:
    alone = autograder(
        {**environment, service.SERVICE_VARIABLE: "off"}, "check", str(CORRECT), "--assignment", "02_activations"
    )
    assert service.status() is None  # switched off: nothing started
    first = autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    running = service.status()
    assert running is not None and running["identity"] == service.identity()
    again = autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    assert first.stdout == again.stdout == alone.stdout != ""
    assert service.status()["checks"] == 2  # type: ignore[index]
    missing = autograder(environment, "check", "/no/such/file.py")
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_a_grade_through_the_service_is_the_grade_in_its_own_process(environment: dict[str, str]) -> None:
    """`autograder grade` is answered by the warm service too (imports and zygote kept), with every property
    and the seed of the command's own environment."""
    arguments = ("grade", str(CORRECT), "--assignment", "02_activations", "--format", "gradescope")
    seeded = {**environment, "AUTOGRADER_SEED": "11"}
    alone = autograder({**seeded, service.SERVICE_VARIABLE: "off"}, *arguments)
    served = autograder(seeded, *arguments)
    assert service.status()["checks"] == 1  # type: ignore[index]
    assert served.returncode == alone.returncode == 0
    assert _scores(served.stdout) == _scores(alone.stdout) and '"seed": 11' in served.stdout


def _scores(report: str) -> list[tuple[str, object]]:
    """Each test's name and score in a Gradescope report (its text holds timings, which differ between runs)."""
    tests = json.loads(report)["tests"]
    return [(str(test["name"]), test["score"]) for test in tests]


def test_only_this_user_can_reach_it(environment: dict[str, str]) -> None:
    autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    folder = service.folder()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "service.sock").stat().st_mode) == 0o600
    if os.getuid() != 0:
        pytest.skip("reaching it as another user needs root to become one")
    child = os.fork()
    if child == 0:  # another user: nobody
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(str(folder / "service.sock"))
            code = 0  # it connected
        except PermissionError:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 3


def test_a_service_of_other_code_stops_instead_of_answering(environment: dict[str, str]) -> None:
    autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    before = service.status()
    assert before is not None
    answer = service._ask({"op": "check", "identity": "a grader of another version", "path": str(CORRECT)})
    assert answer == {"stale": True}
    time.sleep(0.5)
    assert service.status() is None  # the next check starts one with the installed code
    autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    after = service.status()
    assert after is not None and after["pid"] != before["pid"]


def test_every_name_of_one_python_is_one_identity(environment: dict[str, str]) -> None:
    """The ``autograder`` command runs as ``.../bin/python3``, a kernel or ``python -m`` perhaps as
    ``.../bin/python``: one environment, one interpreter, so one service serves them all."""
    names = [Path(sys.prefix) / "bin" / name for name in ("python", "python3")]
    names = [name for name in names if name.exists()]
    if len(names) < 2:
        pytest.skip("this environment has one name for its Python")
    identities = {
        subprocess.run(
            [str(name), "-c", "from autograder import service; print(service.identity())"],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            cwd=ROOT,
        ).stdout.strip()
        for name in names
    }
    assert len(identities) == 1


def test_it_stops_when_told_and_when_idle(environment: dict[str, str]) -> None:
    autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    stopped = autograder(environment, "service", "stop")
    assert stopped.stdout.strip() == "stopped the service"
    assert service.status() is None
    assert autograder(environment, "service", "status").stdout.startswith("no service is running")
    idle = subprocess.Popen(
        [sys.executable, "-c", "from autograder.service import serve; serve(idle_seconds=1)"], env=environment
    )
    assert idle.wait(timeout=60) == 0


def test_a_worker_cannot_reach_the_service(environment: dict[str, str], tmp_path: Path) -> None:
    """Student code runs only in workers, which see neither the cache folder nor the socket in it."""
    autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    reaching = tmp_path / "reaching.py"
    reaching.write_text(
        CORRECT.read_text()
        + f"""

def relu(z):
    import socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect({str(service.folder() / "service.sock")!r})
    except OSError:
        return np.maximum(z, 0)
    return np.zeros_like(z)  # it got through: the check would fail
"""
    )
    checked = autograder(environment, "check", str(reaching), "--assignment", "02_activations")
    assert service.status()["checks"] == 2  # type: ignore[index]  # graded by the service, not in-process
    assert "relu" in checked.stdout and "10 of 10 functions pass every public check" in checked.stdout


# Attacks aimed at whatever grades them: the parent process, the grader's own modules, its decoder, the machine.
ATTACKS_ON_THE_GRADER = ("kill_self_and_parent", "os_exit_in_function", "monkeypatch", "answer_of_no_size")
ATTACKS_ON_THE_GRADER += ("memory_bomb", "many_processes", "fake_report")


def test_the_attack_suite_through_the_warm_service_leaves_it_standing_and_grading_honestly(
    environment: dict[str, str], tmp_path: Path
) -> None:
    """Each attack checked through the service costs the attacked function its public points and nothing else,
    and the service that answered it is the same process afterwards, answering an honest check as before."""
    from test_attacks import ATTACKS, plant

    honest = autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    served = service.status()
    assert honest.returncode == 0 and served is not None
    replacements = {"SUBMISSION_DIR": str(tmp_path), "OUTPUT_DIR": str(tmp_path)}
    for name in ATTACKS_ON_THE_GRADER:
        path = tmp_path / f"{name}.py"
        path.write_text(plant(ATTACKS[name], replacements))
        done = autograder(environment, "check", str(path), "--assignment", "02_activations")
        assert done.returncode == 0, (name, done.stderr)
        lines = _function_lines(done.stdout)
        assert "relu" in lines and "5/5 public properties hold" not in lines["relu"], (name, lines.get("relu"))
        assert {f: line for f, line in lines.items() if f != "relu"} == {
            f: line for f, line in _function_lines(honest.stdout).items() if f != "relu"
        }, name
        still = service.status()
        assert still is not None and still["pid"] == served["pid"], name  # the same service, never restarted
    again = autograder(environment, "check", str(CORRECT), "--assignment", "02_activations")
    assert again.stdout == honest.stdout


def _function_lines(text: str) -> dict[str, str]:
    """Each function's summary line in a check's text report, by function name."""
    functions = ("sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad", "leaky_relu", "leaky_relu_grad")
    functions += ("softmax", "log_softmax")
    return {
        line.split()[0]: line.strip() for line in text.splitlines() if line.split()[:1] and line.split()[0] in functions
    }


def test_a_repeat_of_unchanged_code_is_answered_from_memory_and_an_edit_is_graded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check is a function of the code it reads, so the service answers a repeat of the same cells at once;
    a changed cell, another function or another assignment is graded afresh."""
    import autograder.grade
    from autograder.grading.runner import CHECK, PUBLIC_SEED

    graded: list[str] = []
    real = autograder.grade.grade_submission

    def counting(*args: Any, **kwargs: Any) -> Any:
        graded.append(args[0].path.name)
        return real(*args, **kwargs)

    monkeypatch.setattr(autograder.grade, "grade_submission", counting)
    cells = ["import numpy as np", "def relu(z):\n    return np.maximum(z, 0)"]
    request = {"assignment": "02_activations", "function": "relu", "candidates": [], "cwd": str(tmp_path)}
    first = service._check({**request, "history": [[1, cells[0]], [2, cells[1]]]}, CHECK, PUBLIC_SEED)
    repeated = [[1, cells[0]], [2, cells[1]], [3, "autograde.check(relu)"]]  # the check cell, run again
    again = service._check({**request, "history": repeated}, CHECK, PUBLIC_SEED)
    assert first["ok"] and again == first and len(graded) == 1
    timed = [*repeated, [4, "started = time.perf_counter()"]]  # a demonstration relu does not use, left out
    assert service._check({**request, "history": timed}, CHECK, PUBLIC_SEED) == first and len(graded) == 1
    edited = [[1, cells[0]], [2, cells[1].replace("0)", "0.0)")]]
    assert service._check({**request, "history": edited}, CHECK, PUBLIC_SEED)["ok"] and len(graded) == 2
