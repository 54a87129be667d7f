"""A static pod file being copied in is not reported as broken before it is complete.

inotify wakes the source while a copy is half-way: the half it reads does not parse (or
does not validate). It is reported only once the file has been left alone for
``error_settle`` seconds; a valid file is applied at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
import structlog.testing

from minikubelet.kubelet import Kubelet
from minikubelet.sources.file import FAILED_TO_PARSE, StaticPodSource
from tests.serve.manifests import child_pod

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - the kubelet's state, read from outside
            await anyio.sleep(0.01)


def refusals(kubelet: Kubelet) -> list[str]:
    return [e.message for e in kubelet.recorder.events() if e.reason == FAILED_TO_PARSE]


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    manifests, facts = tmp_path / "manifests", tmp_path / "facts"
    manifests.mkdir()
    facts.mkdir()
    return manifests, facts


async def test_a_half_copied_file_is_not_reported_and_runs_once_complete(
    kubelet: Kubelet, dirs: tuple[Path, Path]
) -> None:
    manifests, facts = dirs
    text = child_pod("copied", facts)
    path = manifests / "copied.yaml"
    with structlog.testing.capture_logs() as logs:
        source = StaticPodSource(kubelet, manifests, check_frequency=60, error_settle=30)
        async with anyio.create_task_group() as group:
            await group.start(source.run)
            for cut in (len(text) // 3, len(text) // 2, len(text) - 5):
                path.write_text(text[:cut])  # the copy so far, seen through inotify
                before = source.scans
                source.rescan()

                def scanned(before: int = before) -> bool:
                    return source.scans > before

                await wait_until(scanned)
            path.write_text(text)
            await wait_until(lambda: kubelet.snapshot("default", "copied") is not None)
            group.cancel_scope.cancel()
    assert not refusals(kubelet)
    assert not [line for line in logs if line["event"] == "static_pod.invalid"]


async def test_a_file_that_stays_bad_is_reported_once_it_settles(
    kubelet: Kubelet, dirs: tuple[Path, Path]
) -> None:
    manifests, facts = dirs
    settle = 0.5
    source = StaticPodSource(kubelet, manifests, check_frequency=60, error_settle=settle)
    async with anyio.create_task_group() as group:
        await group.start(source.run)
        written = anyio.current_time()
        (manifests / "bad.yaml").write_text(child_pod("bad", facts)[:-20])
        await wait_until(lambda: refusals(kubelet))  # no other event: the scanner woke
        assert anyio.current_time() - written >= settle * 0.9  # mtime has a coarse clock
        (message,) = refusals(kubelet)
        assert "bad.yaml" in message
        group.cancel_scope.cancel()


async def test_a_bad_file_present_at_start_is_reported_at_once(
    kubelet: Kubelet, dirs: tuple[Path, Path]
) -> None:
    """Left alone long before the daemon started: no wait."""
    manifests, _ = dirs
    path = manifests / "old.yaml"
    path.write_text("{{{ not yaml")
    past = kubelet.clock().timestamp() - 60
    os.utime(path, (past, past))
    source = StaticPodSource(kubelet, manifests, check_frequency=60, error_settle=30)
    async with anyio.create_task_group() as group:
        await group.start(source.run)
        assert refusals(kubelet)
        group.cancel_scope.cancel()
