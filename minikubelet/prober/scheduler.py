"""One timer for every probe worker: a heap of next-due times and one task that sleeps
until the earliest.

Why not one sleeping task per worker (as the kubelet has one goroutine per worker,
``pkg/kubelet/prober/worker.go run``): a Python task that sleeps, wakes, re-arms a timer
and a cancel scope per period costs more than a goroutine, and a kubelet with 1000
containers x 2 probes holds 2000 of them. Here the scheduler holds one heap entry per
worker and one timer for the earliest; when probes fall due it hands each one to a task
of its own in the scheduler's task group, so a slow probe never delays another, nor the
timer. Those tasks ("runners") are kept for the next probe rather than spawned per probe
(a spawn costs about as much as the probe's Python work); a runner with nothing to do
waits on an event, without a deadline, and at most ``_IDLE_RUNNERS`` of them wait.

The rules each worker keeps (``ProbeWorker.tick``) stay the kubelet's: a worker is never
run twice at once; its next due time is asked from it when a run ends, so missed ticks
are skipped, never queued; ``trigger`` runs it at once (or right after the run in
progress, as the kubelet's buffered ``manualTriggerCh``); ``remove`` drops its timer and
cancels its run in progress.

Nothing wakes up when no probe is due: with nothing scheduled the task sleeps without a
deadline, and an entry that is removed or re-timed never fires its old time (it is
dropped from the top of the heap before the scheduler sleeps, and the sleep is re-armed
when the earliest time changes).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from typing import Protocol

import anyio
import anyio.abc

__all__ = ["ProbeScheduler", "Scheduled"]

_COMPACT_AT = 64  # dropped heap entries tolerated before the heap is rebuilt
_IDLE_RUNNERS = 32  # runners kept waiting for work; more probes at once spawn more


class Scheduled(Protocol):
    """What the scheduler runs: one worker's probe."""

    async def tick(self) -> float | None:
        """Run once, now that it is due; the anyio time it is due next, None when done."""
        ...


class _Entry:
    """One scheduled worker: its heap item (by ``order``) and its run in progress."""

    __slots__ = ("again", "gone", "job", "on_done", "order", "scope")

    def __init__(self, job: Scheduled, on_done: Callable[[], None]) -> None:
        self.job = job
        self.on_done = on_done
        self.order: int | None = None  # the order of its live heap item; None: not in it
        self.scope: anyio.CancelScope | None = None  # of the run in progress
        self.again = False  # triggered during a run: run again right after it
        self.gone = False


class _Runner:
    """A task that runs one entry at a time, handed to it while it waits."""

    __slots__ = ("entry", "handed")

    def __init__(self) -> None:
        self.entry: _Entry | None = None
        self.handed = anyio.Event()


_Item = tuple[float, int, _Entry]  # (due, order, entry): order breaks ties, unique


class ProbeScheduler:
    def __init__(self) -> None:
        self._entries: dict[Scheduled, _Entry] = {}
        self._heap: list[_Item] = []
        self._dropped = 0  # heap items whose entry was re-timed or removed
        self._orders = itertools.count()
        self._group: anyio.abc.TaskGroup | None = None
        self._idle: list[_Runner] = []  # runners waiting for an entry
        self._alarm: anyio.CancelScope | None = None  # the sleep, while it sleeps
        self._until = -math.inf  # when that sleep ends; -inf: not sleeping

    def __len__(self) -> int:
        """Workers scheduled or running."""
        return len(self._entries)

    @property
    def timers(self) -> int:
        """Live heap entries: workers waiting for their due time."""
        return len(self._heap) - self._dropped

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run scheduled workers as they fall due, until cancelled."""
        async with anyio.create_task_group() as group:
            self._group = group
            task_status.started()
            try:
                while True:
                    await self._sleep()
                    self._start_due(group, anyio.current_time())
            finally:
                self._group, self._idle = None, []
                group.cancel_scope.cancel()

    def add(self, job: Scheduled, due: float, on_done: Callable[[], None]) -> None:
        """Run ``job`` at anyio time ``due``, then whenever it says; ``on_done`` once it
        says it is done (not when it is removed)."""
        assert self._group is not None, "the probe scheduler is not running"
        assert job not in self._entries, "already scheduled"
        entry = _Entry(job, on_done)
        self._entries[job] = entry
        self._push(entry, due)

    def trigger(self, job: Scheduled) -> None:
        """Run ``job`` now instead of at its due time, or right after its run in progress."""
        entry = self._entries.get(job)
        if entry is None:
            return
        if entry.scope is not None:
            entry.again = True
        else:
            self._push(entry, anyio.current_time())

    def remove(self, job: Scheduled) -> None:
        """Forget ``job``: its timer goes, its run in progress is cancelled."""
        entry = self._entries.pop(job, None)
        if entry is None:
            return
        entry.gone = True
        if entry.order is not None:
            self._drop(entry)
        if entry.scope is not None:
            entry.scope.cancel()

    # -- internals ---------------------------------------------------------------------

    async def _sleep(self) -> None:
        heap = self._heap
        while heap and heap[0][1] != heap[0][2].order:  # dropped: never wake for it
            heapq.heappop(heap)
            self._dropped -= 1
        until = heap[0][0] if heap else math.inf
        with anyio.CancelScope() as alarm:
            self._alarm, self._until = alarm, until
            if until == math.inf:
                await anyio.sleep_forever()
            else:
                await anyio.sleep_until(until)  # a checkpoint when already due
        self._alarm, self._until = None, -math.inf

    def _rearm(self) -> None:
        """End the sleep now, so that it starts again until the new earliest due time
        (woken by an event, never by a timer)."""
        if self._alarm is not None and self._until != -math.inf:
            self._alarm.cancel()
            self._until = -math.inf

    def _start_due(self, group: anyio.abc.TaskGroup, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, order, entry = heapq.heappop(heap)
            if order != entry.order:
                self._dropped -= 1
                continue
            entry.order = None
            entry.scope = anyio.CancelScope()
            if self._idle:
                runner = self._idle.pop()
                runner.entry = entry
                runner.handed.set()
            else:
                group.start_soon(self._runner, entry)

    async def _runner(self, entry: _Entry) -> None:
        """Run ``entry``, then each entry handed over, while at most _IDLE_RUNNERS wait."""
        runner = _Runner()
        while True:
            await self._run(entry)
            if len(self._idle) >= _IDLE_RUNNERS:
                return
            runner.handed = anyio.Event()
            self._idle.append(runner)
            await runner.handed.wait()
            assert runner.entry is not None
            entry, runner.entry = runner.entry, None

    async def _run(self, entry: _Entry) -> None:
        assert entry.scope is not None
        with entry.scope:
            due = await entry.job.tick()
        entry.scope = None
        if entry.gone:
            return
        if due is None:
            del self._entries[entry.job]
            entry.gone = True
            entry.on_done()
            return
        if entry.again:
            entry.again = False
            due = anyio.current_time()
        self._push(entry, due)

    def _push(self, entry: _Entry, due: float) -> None:
        if entry.order is not None:
            self._drop(entry)
        entry.order = next(self._orders)
        heapq.heappush(self._heap, (due, entry.order, entry))
        if due < self._until:
            self._rearm()

    def _drop(self, entry: _Entry) -> None:
        """Leave ``entry``'s heap item behind, dead; rebuild the heap when many are."""
        heap = self._heap
        if heap[0][2] is entry and heap[0][1] == entry.order:
            self._rearm()  # the earliest is going: a sleep until its time would be for nothing
        entry.order = None
        self._dropped += 1
        if self._dropped > _COMPACT_AT and self._dropped * 2 > len(heap):
            heap[:] = [item for item in heap if item[1] == item[2].order]
            heapq.heapify(heap)
            self._dropped = 0
