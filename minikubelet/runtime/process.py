"""Processes: spawning, exit detection through pidfds, whole-tree kills, orphan reaping.

Why it is built this way:

* **Own session per container.** Every container process starts with ``setsid``, so the
  terminal's Ctrl-C (sent to the foreground process group) reaches minikubelet alone,
  which then stops the containers gracefully, as the kubelet would.
* **pidfds, not a child watcher.** Each spawned process gets a pidfd; its exit makes the
  pidfd readable, which ``anyio.wait_readable`` turns into a wake-up under asyncio and trio
  alike. Then ``waitpid(pid, WNOHANG)`` reaps exactly that pid. No thread per child, no
  polling loop, and never ``waitpid(-1)``, which would steal another waiter's status.
* **Child subreaper.** minikubelet sets ``PR_SET_CHILD_SUBREAPER``: a container process
  whose parent dies (a double-forked daemon, ``sh -c 'sleep 1000 &'``) is re-parented to us
  instead of pid 1, so it can still be found and killed. Such orphans are reaped by pid
  (``ProcessTable.reap_orphans``) when SIGCHLD arrives and after every kill. Under
  ``serve`` the keeper spawns the containers and is their subreaper (``runtime/keeper``):
  their orphans are its children, which ``ProcessTable.children`` lists too.
* **Membership by environment tag**, where there is no cgroup (containment ``none``; with a
  cgroup per container, membership is the cgroup's: ``containment.py``). The runtime puts
  ``MINIKUBELET_CONTAINER=<tag>`` in every container's environment. A container's
  processes are its main process, that process's descendants, and every orphan (our child
  that we did not spawn) or exec hook or probe carrying its tag, with their descendants. A
  process that clears its own environment and double-forks escapes this; the cgroup does
  not let it. Exec hooks and probes are always cleaned up by their own tag.
"""

from __future__ import annotations

import os
import signal
import subprocess  # noqa: TID251 - Popen objects, made in spawning.py
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import anyio
import anyio.to_thread
import psutil

from minikubelet.model.launch import ExitStatus, Identity
from minikubelet.runtime.base import KILL_TIMEOUT, KillReport
from minikubelet.runtime.spawning import TAG_VARIABLE, become_subreaper, start_process

__all__ = [
    "TAG_VARIABLE",
    "ChildProcess",
    "ProcessTable",
    "become_subreaper",
    "exit_status",
    "kill_tagged",
    "our_children",
    "spawn",
    "strays",
    "tagged_pids",
    "tagged_pids_many",
    "wait_gone",
]


def exit_status(wait_status: int) -> ExitStatus:
    """The ``ExitStatus`` of a ``waitpid`` status: 128+N for a death by signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:
        return ExitStatus.from_signal(-code)
    return ExitStatus(exit_code=code)


def adopted_children() -> list[int] | None:
    """The children the kernel re-parented to us (orphans, as the child subreaper), and
    those whose spawning thread has ended; None where /proc cannot say.

    They are all listed under the main thread (``kernel/exit.c``: ``find_new_reaper`` and
    ``forget_original_parent`` hand them to the first live thread, the leader), while the
    children a worker thread spawns are listed under that thread: one small read finds
    the orphans, however many spawning threads there are (a parked thread per container
    with cgroup v1), and never a child still being spawned.
    """
    try:
        with open(f"/proc/self/task/{os.getpid()}/children", "rb") as handle:
            return list(map(int, handle.read().split()))
    except OSError:
        return None


def our_children(parent: int | str = "self") -> list[int]:
    """Direct children of this process (or of ``parent``), from /proc (cheap: no scan of
    every process).

    Children are listed per thread (the one that forked them), so every task is read.
    """
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:  # ``parent`` is gone
        return children
    for tid in tasks:
        try:
            with open(f"/proc/{parent}/task/{tid}/children", "rb") as handle:
                children.extend(map(int, handle.read().split()))
        except OSError:
            continue
    return children


def _environ_tag(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = TAG_VARIABLE.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


class ProcessTable:
    """Our children that have a waiter (by pid, with their tag); all others are orphans."""

    def __init__(self) -> None:
        self._owned: dict[int, str] = {}
        # The keeper's pid, when it spawns the containers (``runtime/keeper``): it is
        # their parent and the subreaper of their orphans, so their orphans are its children.
        self.foster: int | None = None
        # Spawns run in worker threads: a new child must be owned before the reaper may
        # look at it, or an instance that fails at once could be reaped as an orphan.
        self.lock = threading.Lock()

    def own(self, pid: int, tag: str) -> None:
        self._owned[pid] = tag

    def release(self, pid: int) -> None:
        self._owned.pop(pid, None)

    def tag_of(self, pid: int) -> str | None:
        return self._owned.get(pid) or _environ_tag(pid)

    def children(self) -> list[int]:
        """Where a container's processes outside its main process's tree are found: our
        children, and the keeper's when it spawns the containers."""
        children = our_children()
        if self.foster is not None:
            children.extend(our_children(self.foster))
        return children

    def reap_orphans(self) -> list[int]:
        """Reap every exited child that no waiter owns; return their pids."""
        reaped = []
        # No lock on the event loop's usual path: a child being spawned by a worker thread
        # is not listed under the main thread (see ``adopted_children``).
        children = adopted_children()
        if children is None:
            with self.lock:
                children = our_children()
        for pid in children:
            if pid in self._owned:
                continue
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                reaped.append(pid)
        return reaped


class ChildProcess:
    """A process we spawned: its pid, its pidfd, and its exit status once reaped."""

    def __init__(self, popen: subprocess.Popen[bytes], table: ProcessTable, tag: str) -> None:
        self._popen = popen
        self._table = table
        self.pid = popen.pid
        self.tag = tag
        self._pidfd = os.pidfd_open(self.pid)
        self._status: ExitStatus | None = None
        table.own(self.pid, tag)

    @property
    def status(self) -> ExitStatus | None:
        return self._status

    async def wait(self) -> ExitStatus:
        """Wait for the process to exit and reap it; event-driven through the pidfd."""
        while self._status is None:
            await anyio.wait_readable(self._pidfd)
            self._reap()
        return self._status

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: cannot know how it ended
            pid, status = self.pid, 0x0900  # as if SIGKILLed
        if pid == 0:
            return
        self._status = exit_status(status)
        self._popen.returncode = self._status.exit_code  # keep Popen from polling it
        self._table.release(self.pid)
        os.close(self._pidfd)

    def send_signal(self, signum: int) -> bool:
        """Signal this process only; False if it has already exited."""
        if self._status is not None:
            return False
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        return True


def spawn(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    table: ProcessTable,
    tag: str,
    stdout: int,
    stderr: int,
    identity: Identity | None = None,
    pass_fds: Sequence[int] = (),
    stdin: int | None = None,
    program: str | None = None,
) -> ChildProcess:
    """Start ``argv`` directly (no shell) in a new session (``spawning.start_process``);
    raise RuntimeStartError.

    Safe to call from a worker thread (or a cgroup driver's parked thread): the child is
    owned by ``table`` before the reaper can see it.
    """
    with table.lock:
        popen = start_process(
            argv,
            cwd=cwd,
            env=env,
            tag=tag,
            stdout=stdout,
            stderr=stderr,
            identity=identity,
            pass_fds=pass_fds,
            stdin=stdin,
            program=program,
        )
        return ChildProcess(popen, table, tag)


def tagged_pids(tag: str, roots: Iterable[int], table: ProcessTable) -> set[int]:
    """Every live process of a container: ``roots``, tagged children of ours, descendants.

    Tags nest (``<container>/exec/3``): a container owns its hooks' and probes' processes.
    """
    starts = set(roots)
    for pid in table.children():
        owner = table.tag_of(pid)
        if owner is not None and (owner == tag or owner.startswith(tag + "/")):
            starts.add(pid)
    found: set[int] = set()
    for pid in starts:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for process in family:
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    found.add(process.pid)
            except psutil.Error:
                continue
    return found


def strays(keeper: int | None) -> dict[str, list[int]]:
    """Live processes of ours that carry a container tag but are not under ``keeper``
    (its children and their descendants): what a dead keeper or daemon left orphaned to
    pid 1, by tag. One pass over /proc, reading the environment of our user's processes."""
    children_of: dict[int, list[int]] = {}
    uid = os.geteuid()
    candidates: list[int] = []
    for process in psutil.process_iter(["ppid", "status", "uids"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        children_of.setdefault(info["ppid"], []).append(process.pid)
        if uid == 0 or (info["uids"] is not None and info["uids"].real == uid):
            candidates.append(process.pid)
    kept: set[int] = set()
    pending = [keeper] if keeper is not None else []
    while pending:
        pid = pending.pop()
        if pid not in kept:
            kept.add(pid)
            pending.extend(children_of.get(pid, ()))
    found: dict[str, list[int]] = {}
    for pid in candidates:
        if pid in kept or pid == os.getpid():
            continue
        tag = _environ_tag(pid)
        if tag is not None:
            found.setdefault(tag, []).append(pid)
    return found


def tagged_pids_many(
    containers: Mapping[str, Iterable[int]], table: ProcessTable
) -> dict[str, set[int]]:
    """``tagged_pids`` for many containers at once, with a single pass over /proc.

    ``containers`` maps each tag to its root pids (its live main process).
    """
    children_of: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid", "status"]):
        if process.info["status"] != psutil.STATUS_ZOMBIE:
            children_of.setdefault(process.info["ppid"], []).append(process.pid)
    alive = {pid for pids in children_of.values() for pid in pids}
    owners = [(pid, table.tag_of(pid)) for pid in table.children()]
    found: dict[str, set[int]] = {}
    for tag, roots in containers.items():
        starts = [pid for pid in roots if pid in alive]
        for pid, owner in owners:
            if owner is not None and (owner == tag or owner.startswith(tag + "/")):
                starts.append(pid)
        family: set[int] = set()
        while starts:
            pid = starts.pop()
            if pid in family or pid not in alive:
                continue
            family.add(pid)
            starts.extend(children_of.get(pid, ()))
        found[tag] = family
    return found


async def wait_gone(pids: Iterable[int], timeout: float) -> None:
    """Wait until each pid has exited (is a zombie or gone), through pidfds, or time out."""
    with anyio.move_on_after(timeout):
        for pid in pids:
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            try:
                await anyio.wait_readable(pidfd)
            finally:
                os.close(pidfd)


async def kill_tagged(
    tag: str,
    roots: Iterable[int],
    table: ProcessTable,
    on_signal: Callable[[list[int]], None] | None = None,
    timeout: float = KILL_TIMEOUT,
    first: Sequence[int] = (),
) -> KillReport:
    """SIGKILL every process of a container until none is left, or ``timeout`` passed.

    Repeats the search, since a process may fork between the search and the kill. The
    searches read /proc and run in a worker thread. ``on_signal`` hears the first
    round's pids as soon as they are signalled, before the wait for them to die. What is
    still alive at the deadline (a process stuck in uninterruptible sleep) is reported
    as the survivors, never waited for forever. ``first``: pids the caller has already
    SIGKILLed (the main process); they are reported with the rest.
    """
    killed = list(first)
    roots = list(roots)
    pids: set[int] = set()
    with anyio.move_on_after(timeout) as scope:
        while True:
            pids = await anyio.to_thread.run_sync(tagged_pids, tag, roots, table)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                if pid not in killed:
                    killed.append(pid)
            if on_signal is not None and killed:
                on_signal(sorted(killed))
                on_signal = None
            await wait_gone(pids, timeout=1.0)
            table.reap_orphans()
    if on_signal is not None and killed:
        on_signal(sorted(killed))  # the search found nothing beyond ``first``
    if scope.cancelled_caught:
        pids = await anyio.to_thread.run_sync(tagged_pids, tag, roots, table)
    return KillReport(tuple(killed), tuple(sorted(pids)))
