"""``grade-batch --scheduler``: the same batch on a dask.distributed cluster gives the same gradebook."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_helpers import ASSIGNMENT, GradedClass, autograder, graded_class
from test_batch import drawn_results, entries_of

pytestmark = pytest.mark.batch

# A real grading, a crash, an unreadable notebook and an empty folder: every path a task can take.
STUDENTS = ("sam", "eve", "carol", "bob")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        yield cluster.scheduler_address


def test_a_cluster_of_two_worker_processes_grades_as_this_machine_does(scheduler: str, tmp_path: Path) -> None:
    graded: GradedClass = graded_class()
    course = tmp_path / "course"
    for student in STUDENTS:
        shutil.copytree(graded.course / "submitted" / student, course / "submitted" / student)
    gradebook = tmp_path / "cluster.db"
    done = autograder(
        "grade-batch", str(course), "--assignment", ASSIGNMENT, "--gradebook", str(gradebook), "--scheduler", scheduler
    )
    assert done.returncode == 0, done.stderr
    assert f"graded {len(STUDENTS)} submissions" in done.stdout
    on_cluster, local = entries_of(gradebook), entries_of(graded.gradebook)
    assert set(on_cluster) == set(STUDENTS)
    for student in STUDENTS:
        assert on_cluster[student].status == local[student].status, student
        assert on_cluster[student].message == local[student].message, student
        assert on_cluster[student].key == local[student].key, student
        assert drawn_results(on_cluster[student]) == drawn_results(local[student]), student


def test_an_unreachable_scheduler_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "class").mkdir()
    done = autograder(
        "grade-batch", str(tmp_path / "class"), "--assignment", ASSIGNMENT, "--gradebook", str(tmp_path / "g.db"),
        "--scheduler", "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert done.returncode == 2
    assert "cannot reach the dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
