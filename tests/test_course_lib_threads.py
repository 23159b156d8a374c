"""course_lib.threads: as many threads as the cores other work leaves free, and never fewer than one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from course_lib import threads


def choose(monkeypatch: pytest.MonkeyPatch, usable: int, busy: float, cap: int = threads.DEFAULT_CAP) -> int:
    monkeypatch.setattr(threads, "usable_cores", lambda: usable)
    monkeypatch.setattr(threads, "busy_cores", lambda sample_seconds=0.0: busy)
    return threads.choose_threads(cap).threads


def test_the_threads_are_the_free_cores_at_least_one_and_at_most_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose(monkeypatch, usable=2, busy=0.1) == 2  # a quiet 2-core machine: both
    assert choose(monkeypatch, usable=2, busy=0.7) == 1  # a core mostly taken: one thread
    assert choose(monkeypatch, usable=2, busy=2.0) == 1
    assert choose(monkeypatch, usable=2, busy=9.0) == 1  # a load average far above the cores
    assert choose(monkeypatch, usable=16, busy=0.0) == threads.DEFAULT_CAP
    assert choose(monkeypatch, usable=16, busy=14.0) == 2
    assert choose(monkeypatch, usable=8, busy=0.0, cap=8) == 8
    with pytest.raises(ValueError):
        threads.choose_threads(cap=0)


def test_usable_cores_are_at_most_the_machines() -> None:
    assert 1 <= threads.usable_cores() <= (os.cpu_count() or 1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_the_sample_sees_a_busy_core() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = threads._sampled_busy_cores(0.3)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and 0.8 <= busy <= threads.usable_cores() + 0.05
    assert threads.busy_cores(0.05) >= 0.0


def test_use_free_cores_sets_pytorchs_and_the_blas_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "choose_threads", lambda cap: threads.ThreadChoice(1, 2, 1.9, "a test"))
    before = torch.get_num_threads()
    with threadpool_limits(limits=None):  # puts back the pools' threads when the test ends
        try:
            choice = threads.use_free_cores(verbose=False)
            assert choice.threads == torch.get_num_threads() == 1
            assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        finally:
            torch.set_num_threads(before)


def test_omp_num_threads_set_by_someone_is_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    before = torch.get_num_threads()
    choice = threads.use_free_cores()
    assert choice.threads == 3 and torch.get_num_threads() == before
    assert "OMP_NUM_THREADS=3 is kept" in capsys.readouterr().out
