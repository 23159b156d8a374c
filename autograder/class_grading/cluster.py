"""Grading a class on a running dask.distributed cluster (``autograder grade-batch --scheduler ADDRESS``).

Each task grades one submission with :func:`autograder.class_grading.batch.grade_job` on a worker: the job travels as
plain data (the file's name and bytes), the worker starts a grading process with its own sandbox, and
the report comes back to the machine that runs the batch, which alone writes the gradebook. Workers
need this package installed with the course's ``solutions/`` (or ``$AUTOGRADER_COURSE_ROOT`` set), as on
the instructor's machine; docs/grading-a-class.md says how to set one up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from autograder.class_grading.batch import Job, Outcome, grade_job
from autograder.grading.report import environment


class ClusterError(Exception):
    """The cluster cannot be reached or cannot grade (no workers, workers without the course)."""


def _environment_hash() -> str:
    return environment()["hash"]


class ClusterPool:
    """Runs jobs as tasks on the dask.distributed scheduler at ``address`` (``tcp://host:8786``)."""

    def __init__(self, address: str, connect_seconds: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError("grading on a cluster needs dask.distributed: pip install 'distributed'") from None
        try:
            self.client: Any = Client(address, timeout=connect_seconds)
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterError(f"cannot reach the dask scheduler at {address}: {error}") from None

    def environment_hash(self) -> str:
        """The workers' environment hash (the one their reports will carry), if they all agree."""
        hashes = set(self.client.run(_environment_hash).values())
        if not hashes:
            raise ClusterError("the dask cluster has no workers")
        return hashes.pop() if len(hashes) == 1 else "mixed"

    def run(self, jobs: list[Job]) -> Iterator[Outcome]:
        from distributed import as_completed

        # pure=False: grading the same job twice is a new task, never a cached result.
        futures = self.client.map(grade_job, jobs, pure=False, retries=0)
        owner = {future.key: job for future, job in zip(futures, jobs, strict=True)}
        try:
            for future in as_completed(futures):
                job = owner[future.key]
                try:
                    yield future.result()
                except Exception as error:  # noqa: BLE001 - a worker lost mid-task is that submission's problem
                    yield Outcome(job.student, "crashed", f"the cluster could not grade {job.name}: {error}")
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()
