"""The checkpoint journal: appended at each change, written whole at a daemon's first write
and when it grows past COMPACT_AT, read back as its newest whole line."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minikubelet.checkpoints import COMPACT_AT, CheckpointStore, newest_document
from minikubelet.manifest import load_text
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.model.status import Exit, Instance, PodPhase, PodStatus

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
UID = "0123456789abcdef"

PodListener = Callable[[WatchEventType, PodSnapshot], None]


class Kubelet:
    """Tells the store of pod changes, as the kubelet does."""

    def __init__(self) -> None:
        self.listeners: list[PodListener] = []

    def watch(self, listener: PodListener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def tell(self, snapshot: PodSnapshot) -> None:
        for listener in self.listeners:
            listener(WatchEventType.MODIFIED, snapshot)


def snapshot(restart_count: int, *, exited: bool = False) -> PodSnapshot:
    (pod,) = load_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
        "spec: {containers: [{name: app, image: i, command: [x]}]}\n",
        None,
    ).pods
    started = T0 + timedelta(seconds=restart_count)
    instance = Instance(
        "app",
        restart_count,
        f"process://{100 + restart_count}",
        started,
        pid=100 + restart_count,
        started_at=started,
        exit=Exit(1, started + timedelta(milliseconds=200)) if exited else None,
        start_ticks=1000 + restart_count,
    )
    return PodSnapshot(
        pod=pod,
        uid=UID,
        is_static=True,
        created_at=T0,
        status=PodStatus(phase=PodPhase.RUNNING),
        records={"app": ContainerRecord("app", (instance,))},
        log_dir=Path("/nonexistent"),
    )


@pytest.fixture
def kubelet(tmp_path: Path) -> Kubelet:
    kubelet = Kubelet()
    CheckpointStore(tmp_path).attach(kubelet)
    return kubelet


def restart_counts(path: Path) -> list[int]:
    lines = path.read_bytes().splitlines()
    return [json.loads(line)["containers"]["app"][0]["restartCount"] for line in lines]


def test_each_change_appends_one_line_and_a_daemon_reads_the_newest(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    for count in range(3):
        kubelet.tell(snapshot(count))
        kubelet.tell(snapshot(count, exited=True))
    path = tmp_path / "checkpoints" / f"{UID}.json"
    assert restart_counts(path) == [0, 0, 1, 1, 2, 2]
    assert os.stat(path).st_mode & 0o777 == 0o600
    checkpoint = CheckpointStore(tmp_path).load(UID, "default", "web")
    assert checkpoint is not None
    (latest,) = checkpoint.instances["app"]
    assert (latest.restart_count, latest.exit) == (2, Exit(1, T0 + timedelta(seconds=2.2)))


def test_a_daemon_writes_the_journal_whole_at_its_first_write(tmp_path: Path) -> None:
    first = Kubelet()
    CheckpointStore(tmp_path).attach(first)
    for count in range(3):
        first.tell(snapshot(count))
    second = Kubelet()  # the next daemon on this root dir
    store = CheckpointStore(tmp_path)
    assert store.load(UID, "default", "web") is not None
    store.attach(second)
    second.tell(snapshot(3))
    assert restart_counts(tmp_path / "checkpoints" / f"{UID}.json") == [3]


def test_a_long_journal_is_written_whole_again(kubelet: Kubelet, tmp_path: Path) -> None:
    path = tmp_path / "checkpoints" / f"{UID}.json"
    sizes = []
    for count in range(200):
        kubelet.tell(snapshot(count))
        assert restart_counts(path)[-1] == count  # every change is saved
        sizes.append(path.stat().st_size)
    assert max(sizes) <= COMPACT_AT
    assert any(after < before for before, after in itertools.pairwise(sizes))


def test_a_line_cut_short_by_a_crash_is_skipped(kubelet: Kubelet, tmp_path: Path) -> None:
    kubelet.tell(snapshot(0))
    kubelet.tell(snapshot(1))
    path = tmp_path / "checkpoints" / f"{UID}.json"
    whole = path.read_bytes()
    path.write_bytes(whole + whole.splitlines(keepends=True)[-1][:40])
    checkpoint = CheckpointStore(tmp_path).load(UID, "default", "web")
    assert checkpoint is not None
    assert checkpoint.instances["app"][0].restart_count == 1


def test_a_journal_removed_behind_the_store_is_written_whole(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    kubelet.tell(snapshot(0))
    path = tmp_path / "checkpoints" / f"{UID}.json"
    path.unlink()
    kubelet.tell(snapshot(1))
    assert restart_counts(path) == [1]


def test_a_checkpoint_of_one_document_without_a_newline_reads() -> None:
    assert newest_document(b'{"version": 2}') == {"version": 2}


@pytest.mark.parametrize("data", [b"", b"\n\n", b'{"version": 2'])
def test_a_file_with_no_whole_document_is_unreadable(data: bytes) -> None:
    with pytest.raises(ValueError, match="no checkpoint"):
        newest_document(data)
