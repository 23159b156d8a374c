"""Budgets for all of a worker's processes together: one control group per worker (docs/SANDBOX.md).

Resource limits (``setrlimit``) bind one process each: a worker that forks twenty spinners gets twenty
CPU-time budgets, and memory held outside any process (SysV shared memory, files in a tmpfs) counts
against none. A control group binds the worker's whole PID namespace: the memory its processes hold
together (heap, shared memory, tmpfs pages, pipe buffers) is capped and charged to the group, their CPU
together gets at most one core's share, and their number is capped. The grader creates the group
outside the sandbox, moves the worker's processes in before any student code runs (their children
follow by themselves), and removes it when the worker ends.

The kernel's two interfaces are both supported: the unified hierarchy (cgroup v2) and the separate
controllers of cgroup v1; either way the groups go below the grader's own, inside whatever limits the
machine puts on the grader. Where neither can be written
(no permission, no controllers delegated), nothing is limited together and the report says so, with
the reason.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_PERIOD_US = 100_000
_CONTROLLERS_V1 = ("memory", "cpu", "pids", "cpuacct")

# The protections a control group gives (described in isolation.PROTECTIONS, where the report finds them).
PROTECTIONS = ("memory_together", "cpu_together")


@dataclass
class WorkerGroup:
    """The control group(s) of one worker: one folder in v2, one per controller in v1."""

    folders: list[Path]
    version: int
    memory_bytes: int
    _removed: bool = field(default=False, repr=False)

    def add(self, pids: set[int]) -> None:
        """Move ``pids`` into the group; their children are born in it."""
        for folder in self.folders:
            for pid in sorted(pids):
                with contextlib.suppress(ProcessLookupError, OSError):
                    (folder / "cgroup.procs").write_text(str(pid))

    def holds(self, pids: set[int]) -> bool:
        """Whether every process of ``pids`` that still runs is in the group (in each of its folders)."""
        return all(pids <= set(_pids(folder)) | _ended(pids) for folder in self.folders)

    def ran_out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the group for going over its memory limit."""
        if self.version == 2:
            return _counter(self.folders[0] / "memory.events", "oom_kill") > 0
        memory = next((f for f in self.folders if (f / "memory.oom_control").exists()), None)
        if memory is None:
            return False
        return _counter(memory / "memory.oom_control", "oom_kill") > 0

    def cpu_seconds(self) -> float:
        """The CPU time all of the group's processes have used, those that ended included."""
        for folder in self.folders:
            if (folder / "cpuacct.usage").exists():
                return int((folder / "cpuacct.usage").read_text()) / 1e9
            if self.version == 2:
                return _counter(folder / "cpu.stat", "usage_usec") / 1e6
        return 0.0

    def remove(self) -> None:
        """Kill whatever is left in the group and remove it (at once, or on a later call once it is empty)."""
        if self._removed:
            return
        for folder in self.folders:
            if self.version == 2:
                with contextlib.suppress(OSError):
                    (folder / "cgroup.kill").write_text("1")
            else:
                for pid in _pids(folder):
                    with contextlib.suppress(OSError):
                        os.kill(pid, 9)
        self._removed = True
        with _LEFT_LOCK:
            _LEFT.extend(self.folders)
        remove_empty_groups(wait=0.0)  # its processes take a moment to go: the next spawn tries again


# Groups whose processes were still exiting when their worker was killed: removed on a later try.
_LEFT: list[Path] = []
_LEFT_LOCK = threading.Lock()


def remove_empty_groups(wait: float) -> None:
    """Remove the groups left behind once their processes have gone (``rmdir`` fails until then)."""
    deadline = time.monotonic() + wait
    while True:
        with _LEFT_LOCK:  # a worker may be started ahead in another thread (Launcher)
            for folder in list(_LEFT):
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
                _LEFT.remove(folder)
            if not _LEFT or time.monotonic() > deadline:
                return
        time.sleep(0.002)


def create(name: str, memory_bytes: int, processes: int) -> tuple[WorkerGroup | None, str]:
    """A new group named ``name`` with the limits set, or None and the reason it could not be made."""
    try:
        if (ROOT / "cgroup.controllers").exists():
            return _create_v2(name, memory_bytes, processes), ""
        return _create_v1(name, memory_bytes, processes), ""
    except OSError as error:
        return None, f"no control group for the worker ({error.strerror or error}); see docs/SANDBOX.md"


def _create_v2(name: str, memory_bytes: int, processes: int) -> WorkerGroup:
    """Below the grader's own group: ``<own>/autograder/<name>``, with the controllers enabled on the way."""
    own = _own_group_v2()
    parent = own / "autograder"
    parent.mkdir(exist_ok=True)
    for folder in (own, parent):
        enabled = set((folder / "cgroup.subtree_control").read_text().split())
        for controller in ("memory", "cpu", "pids"):
            if controller not in enabled:
                (folder / "cgroup.subtree_control").write_text(f"+{controller}")
    _remove_orphans(parent)
    folder = parent / name
    folder.mkdir()
    group = WorkerGroup([folder], 2, memory_bytes)
    try:
        (folder / "memory.max").write_text(str(memory_bytes))
        with contextlib.suppress(FileNotFoundError):
            (folder / "memory.swap.max").write_text("0")
        (folder / "cpu.max").write_text(f"{_PERIOD_US} {_PERIOD_US}")
        (folder / "pids.max").write_text(str(processes))
    except OSError:
        group.remove()
        raise
    return group


# Parents already cleared of orphans by this process: graders that ended before it started cannot add more.
_CLEARED: set[Path] = set()


def _remove_orphans(parent: Path) -> None:
    """Remove the empty groups of graders that ended without removing them (killed, or exited at once).

    A group is named ``<grader pid>-<worker pid>``; one whose grader is gone is removed if it is empty.
    Once per parent and process: not on every worker's start.
    """
    if parent in _CLEARED:
        return
    _CLEARED.add(parent)
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for folder in entries:
        grader, _, _ = folder.name.partition("-")
        if grader.isdigit() and not os.path.exists(f"/proc/{grader}"):
            with contextlib.suppress(OSError):
                folder.rmdir()


def _create_v1(name: str, memory_bytes: int, processes: int) -> WorkerGroup:
    folders = []
    try:
        for controller in _CONTROLLERS_V1:
            _remove_orphans(_own_group_v1(controller) / "autograder")
            folder = _own_group_v1(controller) / "autograder" / name
            folder.mkdir(parents=True)
            folders.append(folder)
        group = WorkerGroup(folders, 1, memory_bytes)
        memory, cpu, pids, _ = folders
        (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        with contextlib.suppress(OSError):
            (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))  # no escape into swap
        (cpu / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(_PERIOD_US))
        (pids / "pids.max").write_text(str(processes))
    except OSError:
        for folder in folders:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return group


def _own_group_v2() -> Path:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return ROOT / line[3:].lstrip("/")
    raise OSError("this process is in no cgroup v2 group")


def _own_group_v1(controller: str) -> Path:
    """The grader's own group in a v1 hierarchy: workers' groups go below it, inside whatever limits it has."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return ROOT / controller / path.lstrip("/")
    raise OSError(f"no cgroup v1 {controller} hierarchy for this process")


def _pids(folder: Path) -> list[int]:
    try:
        return [int(pid) for pid in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _ended(pids: set[int]) -> set[int]:
    return {pid for pid in pids if not os.path.exists(f"/proc/{pid}")}


def _counter(path: Path, name: str) -> int:
    """The value of ``name`` in a flat-keyed cgroup file such as ``memory.events``; 0 if absent."""
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0
