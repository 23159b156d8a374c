"""How many threads to compute with: the cores of this machine that other work leaves free.

PyTorch starts one thread per core and splits every matrix product among them; the BLAS library under NumPy
and SciPy, and scikit-learn's compiled code, do the same. That is right on a quiet machine and a trap on a
busy one. The threads of one product wait for each other at its end, so a product is as slow as its slowest
thread, and a thread whose core another program holds waits for the scheduler to give it back: a whole time
slice, many times per training step. On a 2-core machine running other work, notebook 05's capstone did not
finish in 40 minutes with the default threads (with 1 thread: 516 s; quiet, with 2: 151 s), and a
cross-validated logistic regression took 1.6 s with 2 BLAS threads against 0.16 s with 1.
``bench/notebook_runtime.py`` measures every notebook quiet and loaded, and one training step both ways.

:func:`use_free_cores` (called by notebook 05's first cell) counts the cores this process may run on and how
many of them are busy, and computes with the rest: at least 1, at most ``cap``. Its two possible mistakes
are not alike: a thread too few costs at most that core's share of the work, a thread too many can cost ten
times the time. So it counts busy cores generously, as the larger of what they did over the last half
second and over the last minute (the load average): a machine that was busy a minute ago is taken to be
busy still. One consequence: right after a long run of your own, "Restart and run all" may choose fewer
threads than the machine has, because the load average remembers your own run.

``OMP_NUM_THREADS`` set in the environment is a decision someone made: it is kept. The cap (4 by default)
is a judgement, not a measurement: the course's networks multiply small matrices (at most a few thousand
rows by 256 columns), which give many threads little to share.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ThreadChoice", "busy_cores", "choose_threads", "usable_cores", "use_free_cores"]

DEFAULT_CAP = 4
SAMPLE_SECONDS = 0.5


@dataclass(frozen=True)
class ThreadChoice:
    """How many threads to use, and what the choice was based on."""

    threads: int
    usable: int  # cores this process may run on
    busy: float  # of those, how many other work keeps busy (an estimate)
    reason: str

    def describe(self) -> str:
        """One line for a notebook to print."""
        plural = "" if self.threads == 1 else "s"
        return f"computing with {self.threads} thread{plural} (PyTorch, NumPy, scikit-learn): {self.reason}"


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, and a container's CPU quota where there is one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def busy_cores(sample_seconds: float = SAMPLE_SECONDS) -> float:
    """How many of the usable cores other work keeps busy: the larger of two estimates.

    Now: the share of time each of this process's CPUs was not idle over ``sample_seconds`` (``/proc/stat``,
    Linux), summed over them; this process sleeps meanwhile, so it is everyone else. Lately: the one-minute
    load average, scaled to this process's share of the machine's cores. Where neither can be read, 0.
    """
    now = _sampled_busy_cores(sample_seconds)
    lately = _load_average_share()
    estimates = [value for value in (now, lately) if value is not None]
    return max(estimates, default=0.0)


def choose_threads(cap: int = DEFAULT_CAP, sample_seconds: float = SAMPLE_SECONDS) -> ThreadChoice:
    """The cores left free by other work, rounded, at least 1 and at most ``cap`` (see the module's notes)."""
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    usable = usable_cores()
    busy = min(float(usable), busy_cores(sample_seconds))
    free = usable - busy
    threads = max(1, min(cap, usable, math.floor(free + 0.5)))
    reason = f"{usable} core{'' if usable == 1 else 's'}, about {busy:.1f} busy with other work"
    if threads == cap and cap < free:
        reason += f" (capped at {cap})"
    return ThreadChoice(threads, usable, busy, reason)


def use_free_cores(cap: int = DEFAULT_CAP, verbose: bool = True) -> ThreadChoice:
    """Compute with the threads :func:`choose_threads` chooses (``OMP_NUM_THREADS``, when set, is kept).

    Sets PyTorch's threads (if PyTorch has been imported: call this after ``import torch``) and limits the
    thread pools of the BLAS library under NumPy and SciPy and of scikit-learn's OpenMP code to the same
    number (with ``threadpoolctl``), for the rest of the process. Prints the choice when ``verbose``. Call
    it again to choose afresh when the machine's load has changed.
    """
    setting = os.environ.get("OMP_NUM_THREADS", "").strip()
    if setting.isdigit() and int(setting) > 0:
        choice = ThreadChoice(int(setting), usable_cores(), math.nan, f"OMP_NUM_THREADS={setting} is kept")
    else:
        choice = choose_threads(cap)
        _limit_threads(choice.threads)
    if verbose:
        print(choice.describe())
    return choice


def _limit_threads(threads: int) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # called, not used as a context: the limit stays for the process
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def _cgroup_cpu_quota() -> float | None:
    """CPUs a container may use (cgroup v2 ``cpu.max``, else v1 ``cfs_quota_us``), or None when unlimited."""
    try:
        fields = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def _cpu_times() -> dict[int, tuple[int, int]] | None:
    """``{cpu: (busy ticks, total ticks)}`` for this process's CPUs, from ``/proc/stat``; None off Linux."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
        allowed = os.sched_getaffinity(0)
    except (OSError, AttributeError):
        return None
    times = {}
    for line in lines:
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in allowed):
            continue
        ticks = [int(field) for field in fields[:8]]  # user nice system idle iowait irq softirq steal
        idle = ticks[3] + ticks[4]
        times[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return times or None


def _sampled_busy_cores(seconds: float) -> float | None:
    before = _cpu_times()
    if before is None or seconds <= 0:
        return None
    time.sleep(seconds)
    after = _cpu_times() or {}
    busy = 0.0
    for cpu, (busy_before, total_before) in before.items():
        if cpu in after and after[cpu][1] > total_before:
            busy += (after[cpu][0] - busy_before) / (after[cpu][1] - total_before)
    return busy


def _load_average_share() -> float | None:
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return None
    machine = os.cpu_count() or 1
    try:
        mine = len(os.sched_getaffinity(0))
    except AttributeError:
        mine = machine
    return load * min(1.0, mine / machine)
