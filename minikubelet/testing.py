"""Supported helpers for tests of code that runs pods: wait for facts, not for time.

``FakeRuntime`` (and its ``Script``/``ExecScript``) is the scripted runtime for tests of
the engine on virtual time; the waiters work with either runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.lowlevel

from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.status import ContainerStatus, PodStatus
from minikubelet.pod_worker import PodWorker
from minikubelet.runtime.fake import ExecScript, FakeRuntime, Script

__all__ = [
    "ExecScript",
    "FakeRuntime",
    "Script",
    "container",
    "wait_for",
    "wait_for_file",
    "wait_for_status",
]


async def wait_for_status(
    worker: PodWorker, predicate: Callable[[PodStatus], bool], timeout: float = 10.0
) -> PodStatus:
    """Wait until ``predicate(worker.status)`` holds; woken by every status change."""
    changed = anyio.Event()

    def wake(_: PodSnapshot) -> None:
        nonlocal changed
        changed.set()

    unsubscribe = worker.on_status(wake)
    try:
        with anyio.fail_after(timeout):
            while not predicate(worker.status):
                if worker.done and not predicate(worker.status):
                    await anyio.lowlevel.checkpoint()  # a final status may be due
                    if not predicate(worker.status):
                        raise AssertionError(f"pod finished with status {worker.status}")
                await changed.wait()
                changed = anyio.Event()
    finally:
        unsubscribe()
    return worker.status


async def wait_for_file(path: Path, timeout: float = 10.0, contains: str = "") -> str:
    """Wait until ``path`` exists (and holds ``contains``); return its text."""
    with anyio.fail_after(timeout):
        while True:
            try:
                text = await anyio.Path(path).read_text()
            except FileNotFoundError:
                text = None
            if text is not None and contains in text:
                return text
            await anyio.sleep(0.01)


def container(status: PodStatus, name: str) -> ContainerStatus:
    """The status of container ``name`` (regular or init)."""
    for candidate in (*status.container_statuses, *status.init_container_statuses):
        if candidate.name == name:
            return candidate
    raise KeyError(name)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds, for facts no event announces (counters, files)."""
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - nothing announces these facts; poll them
            await anyio.sleep(0.01)
