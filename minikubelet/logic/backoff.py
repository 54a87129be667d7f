"""Crash-loop back-off, as the kubelet computes it.

Sources: ``pkg/kubelet/kuberuntime/kuberuntime_manager.go doBackOff`` and
``client-go/util/flowcontrol/backoff.go`` (``IsInBackOffSince``, ``Next``). The first
restart after a crash is immediate; each later one waits ``initial``, then twice as
long, capped at ``maximum``; an entry whose last (re)start is more than ``reset_after``
(600 s) before the crash is forgotten, so a container that ran ten minutes starts
over. Unlike the kubelet, which retries at its next sync (10-15 s later), the caller
restarts exactly at ``Wait.until``: the sync-loop delay is an artifact we do not copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from minikubelet.model.duration import format_duration

__all__ = [
    "BackoffEntry",
    "BackoffPolicy",
    "StartNow",
    "Wait",
    "crash_loop_message",
    "decide_restart",
]


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 10.0
    maximum: float = 300.0
    reset_after: float = 600.0

    @property
    def first_delay(self) -> float:
        # kubelet: a max below the initial delay lowers the initial delay to it.
        return min(self.initial, self.maximum)


@dataclass(frozen=True)
class BackoffEntry:
    """One container's back-off: the current delay and when it was last (re)started."""

    delay: float
    last_update: float


@dataclass(frozen=True)
class StartNow:
    entry: BackoffEntry


@dataclass(frozen=True)
class Wait:
    until: float
    delay: float


def decide_restart(
    policy: BackoffPolicy, entry: BackoffEntry | None, exited_at: float, now: float
) -> StartNow | Wait:
    """Whether a container that exited at ``exited_at`` may start again at ``now``."""
    expired = entry is None or exited_at - entry.last_update > policy.reset_after
    # Compared as `now < until` (not `now - exited_at < delay`) so that a caller waking at
    # exactly Wait.until is let through: in floats (x + d) - x can be smaller than d.
    if entry is not None and not expired and now < exited_at + entry.delay:
        return Wait(until=exited_at + entry.delay, delay=entry.delay)
    if entry is None or now - entry.last_update > policy.reset_after:
        return StartNow(BackoffEntry(delay=policy.first_delay, last_update=now))
    return StartNow(BackoffEntry(delay=min(entry.delay * 2, policy.maximum), last_update=now))


def crash_loop_message(delay: float, container: str, pod: str) -> str:
    """The ``CrashLoopBackOff`` waiting message; ``pod`` is ``name_namespace(uid)``
    (``kuberuntime_manager.go doBackOff``)."""
    return f"back-off {format_duration(delay)} restarting failed container={container} pod={pod}"
