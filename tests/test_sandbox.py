"""The sandbox piece by piece: what a worker sees, top-level code that kills its worker, and batching.

The attack suite (test_attacks.py) grades whole submissions; these tests drive a zygote and its
workers directly, and compare batched properties with Hypothesis calling the worker once per example.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import seed as hypothesis_seed

from autograder.exercises import load_assignment
from autograder.grading.calls import Calls, WorkerSlot
from autograder.grading.catalogue import Property
from autograder.grading.checks import PropertyFailure
from autograder.grading.example_bank import hypothesis_settings
from autograder.grading.report import to_gradescope
from autograder.grading.runner import (
    CHECK,
    GRADING_SEED,
    PUBLIC_SEED,
    Grader,
    _describe_example,
    property_seed,
    run_drawn,
)
from autograder.grading.submission import load_submission
from autograder.sandbox.chunks import Chunk
from autograder.sandbox.launcher import Launcher, Limits, WorkerFailure, Zygote, zygote_for

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "tests" / "submissions" / "02_activations"
from bug_files import load_bugs  # noqa: E402
from bug_suite import plant  # noqa: E402

_BUG_FILE = load_bugs("02_activations")
BUGS = _BUG_FILE.BUGS

ASSIGNMENT = load_assignment("02_activations")
needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux-only")

LOOK_AROUND = """
def look_around():
    import os, resource, socket
    seen = {"course": sorted(os.listdir(COURSE)), "proc": sorted(p for p in os.listdir("/proc") if p.isdigit())}
    seen["uid"] = os.getuid()
    seen["status"] = [line.split()[0] + line.split()[1] for line in open("/proc/self/status")
                      if line.startswith(("CapEff", "CapBnd", "NoNewPrivs"))]
    seen["cwd"] = os.getcwd()
    seen["home"] = os.environ.get("HOME")
    seen["environment"] = sorted(os.environ)
    open("scratch.txt", "w").write("mine")
    attempts = (("usr", lambda: open("/usr/x", "w")), ("net", lambda: socket.create_connection(("127.0.0.1", 9))))
    for attempt, action in attempts:
        try:
            action()
            seen[attempt] = "allowed"
        except OSError as error:
            seen[attempt] = error.strerror
    seen["nproc"] = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    return repr(seen)
"""


def chunk(source: str, name: str, line: int = 1) -> Chunk:
    tree = ast.parse(source)
    names = tuple(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
    names += tuple(t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name))
    return Chunk(source, f"{name}.py", line, names)


@pytest.fixture(scope="module")
def zygote() -> Zygote:
    return zygote_for(ASSIGNMENT.preload, Limits())


@needs_linux
def test_a_worker_sees_python_and_its_own_tmp_only(zygote: Zygote) -> None:
    assert zygote.missing == {}
    source = f"COURSE = {str(ROOT)!r}\n" + LOOK_AROUND
    worker = zygote.spawn([chunk(source, "look")])
    try:
        seen = ast.literal_eval(worker.call("look_around", []).value)
    finally:
        worker.kill()
    assert worker.missing == {}
    assert not {"solutions", "autograder", "tests", "assignments"} & set(seen["course"])  # course_lib, .venv at most
    assert seen["proc"] == ["1", "2"]  # its init and itself: no grader, no zygote, no other worker
    assert seen["uid"] != 0
    assert seen["status"] == ["CapEff:0000000000000000", "CapBnd:0000000000000000", "NoNewPrivs:1"]
    assert seen["cwd"] == seen["home"] == "/tmp"
    assert "AUTOGRADER_COURSE_ROOT" not in seen["environment"]
    assert seen["usr"] == "Read-only file system"
    assert seen["net"] == "Network is unreachable"
    assert seen["nproc"] == Limits().processes


SPINNERS = """
def start_spinners():
    import os, time
    for _ in range(3):
        if os.fork() == 0:
            os.setsid()  # a session of its own: out of reach of the worker's process group
            while True:
                pass
    time.sleep(0.2)
    return len([p for p in os.listdir("/proc") if p.isdigit()])
"""


def _states(pids: set[int]) -> set[str]:
    """The scheduler state of each process (R running, S sleeping, T stopped)."""
    states = set()
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            states.add(stat.read().rsplit(")", 1)[1].split()[0])
    return states


@needs_linux
def test_freezing_a_worker_stops_everything_it_started_and_thawing_resumes_it(zygote: Zygote) -> None:
    """The reference is timed with the student's worker frozen: spinners in sessions of their own stop too."""
    from autograder.sandbox.isolation import processes_sharing_pid_namespace

    worker = zygote.spawn([chunk(SPINNERS, "spin")])
    try:
        assert worker.call("start_spinners", []).value == 5  # its init, itself and three spinners
        pids = processes_sharing_pid_namespace(worker.pid)
        assert len(pids) == 5
        with worker.frozen():
            assert _states(pids) == {"T"}
        time.sleep(0.1)
        assert "T" not in _states(pids)
        assert "R" in _states(pids)  # the spinners spin again
    finally:
        worker.kill()
    time.sleep(0.2)
    assert not processes_sharing_pid_namespace(worker.pid)


HOARDERS = """
def hold_shared_memory(mib):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.restype = ctypes.c_int
    libc.shmat.restype = ctypes.c_void_p
    segment = libc.shmget(0, mib << 20, 0o1600)  # IPC_CREAT | 0600: outlives this process
    address = libc.shmat(segment, None, 0)
    ctypes.memset(address, 1, mib << 20)
    libc.shmdt(ctypes.c_void_p(address))
    return segment

def spin_in_many_processes(count, seconds):
    import os, time
    for _ in range(count):
        if os.fork() == 0:
            while True:
                pass
    time.sleep(seconds)
    return count
"""


def _members_of_ipc_namespace(inode: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}/ns/ipc").st_ino == inode:
                members.append(int(entry))
        except OSError:
            pass
    return members


@needs_linux
def test_shared_memory_counts_against_the_worker_s_memory_and_dies_with_it() -> None:
    """SysV shared memory outlives the process that made it: the worker's control group and IPC namespace
    still bind it. Over the limit the verdict is memory; under it, it is freed when the worker ends (the
    kernel destroys an IPC namespace, and every segment in it, once no process is left in it)."""
    zygote = zygote_for(ASSIGNMENT.preload, Limits(memory_bytes=256 << 20))
    worker = zygote.spawn([chunk(HOARDERS, "hoard")])
    if worker.group is None:
        worker.kill()
        pytest.skip(f"no control groups here: {worker.missing.get('memory_together')}")
    with pytest.raises(WorkerFailure) as failure:
        worker.call("hold_shared_memory", [512])
    assert failure.value.verdict == "memory"
    assert "held more than the memory limit of 256 MiB" in failure.value.message

    worker = zygote.spawn([chunk(HOARDERS, "hoard")])
    namespace = os.stat(f"/proc/{worker.pid}/ns/ipc").st_ino
    assert namespace != os.stat(f"/proc/{zygote._process.pid}/ns/ipc").st_ino  # not shared with other workers
    worker.call("hold_shared_memory", [64])
    assert _members_of_ipc_namespace(namespace)
    worker.kill()
    deadline = time.monotonic() + 10
    while _members_of_ipc_namespace(namespace) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _members_of_ipc_namespace(namespace)


@needs_linux
def test_all_of_a_worker_s_processes_together_get_one_core_s_share() -> None:
    zygote = zygote_for(ASSIGNMENT.preload, Limits())
    worker = zygote.spawn([chunk(HOARDERS, "hoard")])
    try:
        if worker.group is None:
            pytest.skip(f"no control groups here: {worker.missing.get('cpu_together')}")
        before = worker.group.cpu_seconds()
        started = time.monotonic()
        worker.call("spin_in_many_processes", [4, 1.0])
        wall = time.monotonic() - started
        # Four spinners ask for four cores (all of this machine's, and more); the group holds them to one.
        assert worker.group.cpu_seconds() - before <= 1.15 * wall + 0.1
    finally:
        worker.kill()


def test_top_level_code_that_ends_the_worker_is_left_out_and_the_rest_loads(zygote: Zygote) -> None:
    chunks = [
        chunk("def first(z):\n    return z\n", "a"),
        chunk("import os\nGONE = os._exit(3)\n", "b"),
        chunk("def second(z):\n    return z\n", "c"),
    ]
    launcher = Launcher(zygote, chunks)
    worker = launcher.spawn()
    try:
        assert {"first", "second"} <= set(worker.defined)
        assert worker.call("second", [2]).value == 2
    finally:
        worker.kill()
    assert list(launcher.left_out) == [1]
    assert launcher.left_out[1]["verdict"] == "crashed"
    assert launcher.notes(("first", "second")) == [
        "b.py, line 1: this code ended the worker process (exit status 3) when it ran at import, so it was left out"
    ]


def test_a_launcher_ahead_hands_out_the_worker_it_started_and_kills_the_last_one_on_close(zygote: Zygote) -> None:
    """Each worker handed out has the next one started behind it, with the same code and what was left out;
    the one started last never runs a call and dies with ``close``."""
    chunks = [chunk("def first(z):\n    return z\n", "a"), chunk("import os\nGONE = os._exit(3)\n", "b")]
    launcher = Launcher(zygote, chunks, ahead=True)
    workers = [launcher.spawn(), launcher.spawn()]
    spare = launcher._spare
    assert spare is not None and spare.left_out == frozenset({1})
    last = spare.result()
    try:
        assert last is not None and last not in workers and workers[0] is not workers[1]
        for worker in workers:
            assert worker.call("first", [2]).value == 2
            assert [p["origin"] for p in worker.problems] == ["b.py, line 1"]
    finally:
        for worker in workers:
            worker.kill()
        launcher.close()
    assert last.dead and launcher._spare is None
    assert list(launcher.left_out) == [1]


def test_a_check_grades_the_same_with_workers_started_ahead_or_not(tmp_path: Path) -> None:
    """Starting workers ahead is only about time: every verdict, point and line of feedback is the same."""
    source = (FOLDER / "correct.py").read_text()
    buggy = plant(source, [BUGS["softmax_without_max_shift"], BUGS["relu_grad_one_at_zero"]])
    seen: dict[tuple[bool, str], list[Any]] = {}
    for ahead in (True, False):
        mode = dataclasses.replace(CHECK, start_workers_ahead=ahead)
        for name, text in (("correct", source), ("buggy", buggy)):
            path = tmp_path / f"{name}.py"
            path.write_text(text)
            report = Grader(ASSIGNMENT, None, mode, PUBLIC_SEED).grade(load_submission(path), ["softmax", "relu_grad"])
            seen[ahead, name] = [
                (p.property, p.verdict, p.points, p.feedback) for f in report.functions for p in f.properties
            ]
    assert seen[True, "correct"] == seen[False, "correct"]
    assert seen[True, "buggy"] == seen[False, "buggy"] != seen[True, "correct"]


def test_top_level_code_that_hangs_is_left_out_after_the_start_limit() -> None:
    zygote = zygote_for(("numpy",), Limits(start_seconds=2.0))
    chunks = [chunk("import time\nNEVER = time.sleep(60)\n", "a"), chunk("def kept(z):\n    return z\n", "b")]
    launcher = Launcher(zygote, chunks)
    started = time.monotonic()
    worker = launcher.spawn()
    worker.kill()
    assert time.monotonic() - started < 20
    assert "kept" in worker.defined
    assert launcher.left_out[0]["verdict"] == "timeout"
    assert launcher.left_out[0]["message"].startswith("this code took longer than 2 s")


def test_switching_isolation_off_is_reported() -> None:
    zygote = zygote_for(("numpy",), Limits(isolate=False))
    assert set(zygote.missing) >= {"network", "filesystem", "unprivileged", "no_leftovers"}


PEEK = """
def peek(paths):
    seen = {}
    for path in paths:
        try:
            with open(path) as handle:
                seen[path] = handle.read()
        except OSError as error:
            seen[path] = error.strerror
    return repr(seen)
"""


@needs_linux
def test_a_hidden_folder_is_hidden_wherever_a_visible_folder_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret in a visible folder is covered wherever that folder shows: through a link to it, too."""
    from autograder.sandbox import isolation
    from autograder.sandbox import launcher as sandbox

    real = tmp_path / "real"
    (real / "secret").mkdir(parents=True)
    (real / "secret" / "answers.txt").write_text("the answers")
    (real / "open.txt").write_text("open")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    visible, secrets = isolation.visible_paths, sandbox._secrets
    monkeypatch.setattr(isolation, "visible_paths", lambda packages: visible(packages) + [str(tmp_path / "link")])
    monkeypatch.setattr(sandbox, "_secrets", lambda: secrets() + [real / "secret"])  # found by what it really is
    zygote = Zygote(("numpy",), Limits())
    try:
        worker = zygote.spawn([chunk(PEEK, "peek")])
        paths = [str(tmp_path / "link" / "open.txt")]
        paths += [str(folder / "secret" / "answers.txt") for folder in (tmp_path / "link", real)]
        seen = ast.literal_eval(worker.call("peek", [paths]).value)
        worker.kill()
    finally:
        zygote.close()
    assert zygote.missing == {}
    assert seen == {paths[0]: "open", paths[1]: "Permission denied", paths[2]: "No such file or directory"}


def test_every_copy_of_the_grader_and_its_cache_are_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.sandbox import launcher as sandbox

    site = tmp_path / "site-packages"
    (site / "autograder" / "exercises").mkdir(parents=True)
    (site / "autograder" / "__init__.py").write_text("")
    (site / "not_the_grader").mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    secrets = set(sandbox._secrets())
    assert {site / "autograder", tmp_path / "cache", ROOT / "autograder", ROOT / "solutions"} <= secrets
    assert site not in secrets and site / "not_the_grader" not in secrets
    assert (tmp_path / "cache").is_dir()  # made before a zygote seals, so that it is covered


@needs_linux
def test_the_report_names_every_protection() -> None:
    submission = load_submission(FOLDER / "correct.py")
    report = Grader(ASSIGNMENT, None, CHECK, PUBLIC_SEED).grade(submission, ["relu"])
    assert report.function("relu").verdict == "passed"
    assert set(report.sandbox.values()) == {"on"}
    assert "separate_process" in report.sandbox and "network" in report.sandbox


class Counted:
    """Round trips to a worker and the student calls they carried."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from autograder.sandbox import launcher as sandbox

        self.round_trips = 0
        self.calls = 0
        request, batch = sandbox.Worker.request, sandbox.Worker.batch

        def counted_request(worker: Any, header: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            self.round_trips += 1
            self.calls += 1
            return request(worker, header, *args, **kwargs)

        def counted_batch(worker: Any, calls: list[Any]) -> Iterator[Any]:
            self.round_trips += 1
            self.calls += len(calls)
            return batch(worker, calls)

        monkeypatch.setattr(sandbox.Worker, "request", counted_request)
        monkeypatch.setattr(sandbox.Worker, "batch", counted_batch)


def one_call_per_example(prop: Property, calls: Calls, seed: int, max_examples: int) -> str:
    """The property as Hypothesis runs it calling the worker for every example: its failure, or ''."""
    assert prop.test is not None
    test = prop.test
    failures: list[tuple[Any, PropertyFailure]] = []

    def body(example: Any) -> None:
        try:
            test(calls, example)
        except PropertyFailure as failure:
            failures.append((example, failure))
            raise

    assert prop.strategy is not None
    hypothesis_test = hypothesis_settings(max_examples)(given(prop.strategy)(body))
    try:
        hypothesis_seed(property_seed(seed, prop))(hypothesis_test)()
    except PropertyFailure:
        example, failure = failures[-1]
        return failure.message + "\n" + _describe_example(example)
    return ""


def batched(prop: Property, calls: Calls, seed: int, max_examples: int) -> str:
    try:
        run_drawn(prop, calls, seed, max_examples)
    except PropertyFailure as failure:
        return failure.message
    return ""


CASES = [  # (bug or "correct", function, property): failing and passing, one call and two per example
    ("naive_sigmoid_overflows", "sigmoid", "stable_for_large_inputs"),
    ("softmax_over_wrong_axis", "softmax", "sums_to_one"),
    ("tanh_absolute_value", "tanh", "symmetry"),
    ("relu_in_place", "relu", "leaves_input_unchanged"),
    ("correct", "softmax", "shift_invariant"),
    ("correct", "leaky_relu_grad", "matches_central_differences"),
]


@pytest.mark.parametrize(("submission", "function", "name"), CASES)
def test_a_batched_property_ends_as_one_call_per_example_would(
    submission: str, function: str, name: str, zygote: Zygote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (FOLDER / "correct.py").read_text()
    path = tmp_path / "submission.py"
    path.write_text(source if submission == "correct" else plant(source, [BUGS[submission]]))
    prop = next(p for p in ASSIGNMENT.properties_of(function) if p.name == name)
    launcher = Launcher(zygote, load_submission(path).chunks)
    results = {}
    for run in (one_call_per_example, batched):
        counted = Counted(monkeypatch)
        slot = WorkerSlot(launcher)
        try:
            text = run(prop, Calls(function, slot, None, time.monotonic() + 120), GRADING_SEED, 60)
        finally:
            slot.kill()
        monkeypatch.undo()
        results[run.__name__] = (text.split(" | ")[0], counted.round_trips, counted.calls)
    message, trips, calls = results["batched"]
    assert message == results["one_call_per_example"][0]
    assert (message == "") == (submission == "correct")
    if submission == "correct":
        assert trips <= 8 < calls  # 60 examples: chunks of 8, 16, 32 and 4, one or two rounds each


def test_a_crash_in_a_batch_is_blamed_on_its_example(zygote: Zygote) -> None:
    source = "import os\nimport numpy as np\n\n\ndef relu(z):\n    if z.size == 3:\n        os._exit(1)\n"
    source += "    return np.maximum(z, 0)\n"
    prop = next(p for p in ASSIGNMENT.properties_of("relu") if p.name == "within_range")
    launcher = Launcher(zygote, [chunk(source, "crash")])
    slot = WorkerSlot(launcher)
    try:
        with pytest.raises(WorkerFailure) as caught:
            run_drawn(prop, Calls("relu", slot, None, time.monotonic() + 120), GRADING_SEED, 60)
    finally:
        slot.kill()
    assert caught.value.verdict == "crashed"
    assert caught.value.message == "the worker process ended with exit status 1"
    assert caught.value.example["z"].size == 3


def test_verdicts_that_rest_on_what_the_worker_says_about_itself_are_marked() -> None:
    """A patched worker can forge its inputs after the call and its floating-point errors (never what the
    function returned: that it would have to compute): the report marks those verdicts ``self_reported``."""
    submission = load_submission(FOLDER / "correct.py")
    report = Grader(ASSIGNMENT, None, CHECK, PUBLIC_SEED).grade(submission, ["relu"])
    marked = {p.property for p in report.function("relu").properties if p.self_reported}
    assert marked == {"leaves_input_unchanged", "stable_for_large_inputs"}
    tests = to_gradescope(report)["tests"]
    assert {t["extra_data"]["property"] for t in tests if t["extra_data"]["self_reported"]} == marked


@needs_linux
def test_groups_left_by_a_grader_that_ended_are_removed() -> None:
    """A grader killed before it could remove its workers' control groups leaves them empty; the next
    grader on the machine removes them, so that a grading machine does not collect thousands."""
    zygote = zygote_for(ASSIGNMENT.preload, Limits())
    worker = zygote.spawn([chunk("def f():\n    return 1\n", "f")])
    if worker.group is None:
        worker.kill()
        pytest.skip(f"no control groups here: {worker.missing.get('memory_together')}")
    parents = [folder.parent for folder in worker.group.folders]
    worker.kill()
    orphans = [parent / "999999999-1" for parent in parents]  # no process has that pid
    for orphan in orphans:
        orphan.mkdir(exist_ok=True)
    from autograder.sandbox import cgroups

    cgroups._CLEARED.clear()  # as in a grader started now: each process clears them once, at its first worker
    zygote.spawn([chunk("def f():\n    return 1\n", "f")]).kill()
    assert not [orphan for orphan in orphans if orphan.exists()]
