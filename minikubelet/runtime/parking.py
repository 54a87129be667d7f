"""A thread parked in a container's cgroup v1 hierarchies, which forks the container's processes.

Used by the v1 driver in the daemon (``cgroups/v1.py``) and by the keeper
(``runtime/keeper``), which spawns ``serve``'s containers: so it imports nothing but the
standard library and ``minikubelet.errors``.

On cgroup v1 each *thread* has its own membership (the ``tasks`` file), and a forked child
starts in the cgroups of the thread that forked it. A thread that lives in a container's
cgroups therefore starts every process there before it execs, with CPython's fast ``vfork``
path intact (no ``preexec_fn``), and without migrating anything at start time. That matters:
every migration takes the kernel's global ``cgroup_threadgroup_rwsem`` for writing, and the
first writer after a quiet spell waits for an RCU grace period (about 6 ms measured on these
machines, up to 30 ms). The parked thread pays it once, when it joins the container's cgroups;
restarts pay nothing.

The thread is never the process's main thread, and that is what keeps the daemon safe from
the container's OOM killer: a memcg OOM picks its victim among the *thread-group leaders* in
the cgroup, so a non-leader thread of ours is never a candidate (measured: with the main
thread parked instead, the kernel kills the daemon).

When idle for ``idle_timeout`` seconds the thread exits (which leaves the cgroups without a
migration) so that hundreds of idle containers do not keep hundreds of threads; the next spawn
starts a new one. ``ParkedSpawner.submit`` hands it a job and returns a future.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from minikubelet.errors import CgroupError

__all__ = ["ParkedSpawner"]

T = TypeVar("T")

_Job = Callable[[], None]


class ParkedSpawner:
    """One daemon thread, member of the cgroups whose ``tasks`` files are given."""

    def __init__(
        self,
        name: str,
        tasks_files: Sequence[Path],
        retire_lock: threading.Lock,
        idle_timeout: float | None,
    ) -> None:
        self._tasks_files = tuple(tasks_files)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # Held by whoever submits a job; the thread retires only if it can take it and no
        # job is queued, so a job is never handed to a thread that is about to exit.
        self._retire_lock = retire_lock
        self._idle_timeout = idle_timeout
        self._placed: Future[int] = Future()
        self.retired = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self.tid = self._placed.result()  # raises CgroupError if it could not join

    def _run(self) -> None:
        tid = threading.get_native_id()
        try:
            for path in self._tasks_files:
                _join(path, tid)
        except BaseException as error:
            self.retired = True
            self._placed.set_exception(error)
            return
        self._placed.set_result(tid)
        while True:
            try:
                job = self._jobs.get(timeout=self._idle_timeout)
            except queue.Empty:
                if self._retire_lock.acquire(blocking=False):
                    try:
                        if self._jobs.empty():
                            self.retired = True
                            return
                    finally:
                        self._retire_lock.release()
                continue
            if job is None:
                self.retired = True
                return
            job()

    def submit(self, function: Callable[[], T]) -> Future[T]:
        """Run ``function`` on the parked thread; its result (or error) arrives in the future.

        The caller must hold the ``retire_lock`` and have checked ``retired`` under it.
        """
        result: Future[T] = Future()

        def job() -> None:
            try:
                result.set_result(function())
            except BaseException as error:
                result.set_exception(error)

        self._jobs.put(job)
        return result

    def stop(self) -> None:
        """Let the thread exit and wait for it; it leaves the cgroups as it exits."""
        self._jobs.put(None)
        self._thread.join()


def _join(tasks: Path, tid: int) -> None:
    """Move thread ``tid`` into the cgroup whose ``tasks`` file this is (one write).

    Not ``cgroups.files.write_value``: importing the cgroups package would load both
    drivers into the keeper, which needs only this."""
    try:
        fd = os.open(tasks, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(tid).encode())
        finally:
            os.close(fd)
    except OSError as error:
        raise CgroupError(f"cannot write {tasks}: {error.strerror}") from error
