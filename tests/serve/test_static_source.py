"""The static pod source: listing, planning, and the kubelet following the files."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
import structlog.testing

from minikubelet.kubelet import Kubelet
from minikubelet.model.events import Event, EventType
from minikubelet.pod_worker import PodWorker
from minikubelet.sources.file import (
    FAILED_TO_PARSE,
    ManifestFile,
    StaticPodSource,
    is_manifest_name,
    plan,
    read_manifest,
    scan,
)
from minikubelet.testing import wait_for_file
from tests.helpers.pods import start
from tests.serve.manifests import child_pod

# -- listing and planning (no processes) ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("web.yaml", True),
        ("web.yml", True),
        ("web.json", True),
        ("WEB.YAML", True),
        (".web.yaml", False),
        (".web.yaml.swp", False),
        ("web.yaml~", False),
        ("web.yaml.bak", False),
        ("README", False),
    ],
)
def test_which_names_are_manifests(name: str, read: bool) -> None:
    assert is_manifest_name(name) is read


def test_scan_skips_hidden_files_other_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(child_pod("b", tmp_path))
    (tmp_path / "a.json").write_text(child_pod("a", tmp_path))
    (tmp_path / ".hidden.yaml").write_text(child_pod("hidden", tmp_path))
    (tmp_path / "notes.txt").write_text(child_pod("notes", tmp_path))
    (tmp_path / "sub.yaml").mkdir()
    (tmp_path / "sub.yaml" / "c.yaml").write_text(child_pod("c", tmp_path))
    result = scan(tmp_path)
    assert [file.path.name for file in result.files] == ["a.json", "b.yaml"]
    assert [pod.name for file in result.files for pod in file.pods] == ["a", "b"]
    assert result.skipped == (tmp_path / "sub.yaml",)
    assert result.problem is None


def test_scan_of_a_missing_path_and_of_one_file(tmp_path: Path) -> None:
    assert scan(tmp_path / "nope").problem == "path does not exist"
    one = tmp_path / "pod.manifest"  # a single file is read whatever its name
    one.write_text(child_pod("one", tmp_path))
    assert [pod.name for file in scan(one).files for pod in file.pods] == ["one"]


def test_an_unchanged_file_is_not_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(child_pod("a", tmp_path))
    first = read_manifest(path)
    again = read_manifest(path, first)
    assert again.pods is first.pods  # the same bytes: not parsed again
    path.write_text(child_pod("a", tmp_path, label="v2"))
    second = read_manifest(path, first)
    assert second.digest != first.digest
    assert second.pods[0].metadata.labels == {"edit": "v2"}


def test_an_old_files_stat_decides_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(child_pod("a", tmp_path, label="v1"))
    old = time.time() - 60
    os.utime(path, (old, old))
    first = read_manifest(path)
    # Same size, same mtime, same inode: what a periodic rescan of an unchanged file sees.
    path.write_text(child_pod("a", tmp_path, label="v2"))
    os.utime(path, (old, old))
    assert read_manifest(path, first) is first  # not read: the stat said unchanged
    os.utime(path, None)  # a real edit moves the mtime
    assert read_manifest(path, first).pods[0].metadata.labels == {"edit": "v2"}


def test_a_rescan_of_an_old_unchanged_file_does_not_open_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(child_pod("a", tmp_path))
    old = time.time() - 60
    os.utime(path, (old, old))
    first = read_manifest(path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged file was opened")

    monkeypatch.setattr(Path, "open", refuse)
    assert read_manifest(path, first) is first  # one stat, no open
    assert scan(tmp_path, {path: first}).files == (first,)


def test_a_file_written_around_its_read_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(child_pod("a", tmp_path, label="v1"))
    first = read_manifest(path)  # within the file's mtime granularity of its write
    assert first.stat is not None
    path.write_text(child_pod("a", tmp_path, label="v2"))
    os.utime(path, ns=(first.stat[3], first.stat[3]))  # even with the very same mtime
    assert read_manifest(path, first).pods[0].metadata.labels == {"edit": "v2"}


def test_a_bad_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(child_pod("bad", tmp_path).replace('"command"', '"comand"'))
    file = read_manifest(path)
    assert file.pods == ()
    assert file.error is not None
    assert f'{path}: pod "bad": spec.containers[0].comand: Unknown field' in str(file.error)


def _file(tmp_path: Path, name: str, *pods: str) -> ManifestFile:
    path = tmp_path / name
    path.write_text("\n---\n".join(child_pod(pod, tmp_path) for pod in pods))
    return read_manifest(path)


def test_plan_gives_a_pod_to_the_first_file_and_refuses_the_second(tmp_path: Path) -> None:
    a, b = _file(tmp_path, "a.yaml", "web"), _file(tmp_path, "b.yaml", "web", "other")
    decided = plan([a, b], owners={})
    assert {key: file.path.name for key, (file, _) in decided.wanted.items()} == {
        ("default", "web"): "a.yaml"
    }
    (conflict,) = decided.conflicts
    assert conflict.file is b
    assert str(conflict) == (
        f'{b.path}: pod "web": metadata.name: Duplicate value: "web": '
        f"pod default/web is already defined in {a.path}"
    )


def test_plan_keeps_a_running_pod_with_the_file_that_runs_it(tmp_path: Path) -> None:
    a, b = _file(tmp_path, "a.yaml", "web"), _file(tmp_path, "b.yaml", "web")
    decided = plan([a, b], owners={("default", "web"): b.path})
    assert decided.wanted[("default", "web")][0] is b
    assert [conflict.file for conflict in decided.conflicts] == [a]


# -- the source driving a real kubelet --------------------------------------------------


async def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds; it reads the kubelet, its events or the source."""
    with anyio.fail_after(timeout):
        while True:
            if predicate():
                return
            await anyio.sleep(0.01)


def running(kubelet: Kubelet, name: str) -> PodWorker | None:
    worker = kubelet.worker("default", name)
    return worker if worker is not None and worker.snapshot.deletion_timestamp is None else None


def refusals(kubelet: Kubelet, name: str) -> list[Event]:
    return [e for e in kubelet.recorder.events(pod=name) if e.reason == FAILED_TO_PARSE]


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    return path


@pytest.fixture
def facts(tmp_path: Path) -> Path:
    path = tmp_path / "facts"
    path.mkdir()
    return path


@pytest.fixture
async def source(kubelet: Kubelet, manifests: Path) -> AsyncIterator[StaticPodSource]:
    # A long period: whatever is picked up during a test came through inotify.
    watcher = StaticPodSource(kubelet, manifests, check_frequency=60)
    async with anyio.create_task_group() as group:
        await group.start(watcher.run)
        yield watcher
        group.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.integration
async def test_initial_pods_are_started_before_run_reports_started(
    kubelet: Kubelet, manifests: Path, facts: Path
) -> None:
    (manifests / "a.yaml").write_text(child_pod("a", facts))
    (manifests / "b.yaml").write_text(child_pod("b", facts))
    watcher = StaticPodSource(kubelet, manifests, check_frequency=60)
    async with anyio.create_task_group() as group:
        await group.start(watcher.run)
        assert sorted(w.pod.name for w in kubelet.workers()) == ["a", "b"]
        assert all(p.is_static for p in kubelet.snapshots())
        await wait_for_file(facts / "a.uid")
        group.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.integration
async def test_add_edit_remove(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path
) -> None:
    path = manifests / "web.yaml"
    path.write_text(child_pod("web", facts))
    await wait_until(lambda: running(kubelet, "web"))
    first = running(kubelet, "web")
    assert first is not None
    assert await wait_for_file(facts / "web.uid", contains=first.uid) == first.uid

    path.write_text(child_pod("web", facts, label="v2"))  # an edit: new content, new uid
    await wait_until(lambda: (w := running(kubelet, "web")) is not None and w is not first)
    second = running(kubelet, "web")
    assert second is not None
    assert second.uid != first.uid
    assert first.done  # the old pod was gone before the new one started
    await wait_for_file(facts / "web.uid", contains=second.uid)
    record = (facts / "web.record").read_text()
    assert record.count("sigterm") == 1  # the old instance was stopped gracefully
    assert record.count("start") == 2

    path.unlink()
    await wait_until(lambda: kubelet.worker("default", "web") is None)
    assert second.done
    await wait_for_file(facts / "web.record", contains="sigterm")
    assert (facts / "web.record").read_text().count("sigterm") == 2


@pytest.mark.anyio
@pytest.mark.integration
async def test_touching_a_file_without_changing_it_keeps_the_pod(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path
) -> None:
    path = manifests / "web.yaml"
    path.write_text(child_pod("web", facts))
    await wait_until(lambda: running(kubelet, "web"))
    first = running(kubelet, "web")
    scans = source.scans
    path.write_text(child_pod("web", facts))  # same bytes
    await wait_until(lambda: source.scans > scans)
    assert running(kubelet, "web") is first


@pytest.mark.anyio
@pytest.mark.integration
async def test_a_bad_file_is_reported_and_disturbs_nothing_else(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path
) -> None:
    (manifests / "good.yaml").write_text(child_pod("good", facts))
    await wait_until(lambda: running(kubelet, "good"))
    good = running(kubelet, "good")
    with structlog.testing.capture_logs() as logs:
        bad = manifests / "bad.yaml"
        bad.write_text(child_pod("bad", facts).replace('"command"', '"comand"'))
        await wait_until(lambda: kubelet.recorder.events(pod="bad"))
        (garbage := manifests / "garbage.yaml").write_text("{{{ not yaml")
        await wait_until(lambda: kubelet.recorder.events(pod="garbage.yaml"))
    (event,) = kubelet.recorder.events(pod="bad")
    assert event.type is EventType.WARNING
    assert event.reason == FAILED_TO_PARSE
    assert "spec.containers[0].comand: Unknown field" in event.message
    assert str(bad) in event.message
    (event,) = kubelet.recorder.events(pod="garbage.yaml")  # no name: the file's name
    assert str(garbage) in event.message
    warnings = [line for line in logs if line["event"] == "static_pod.invalid"]
    assert [line["file"] for line in warnings] == [str(bad), str(garbage)]
    assert any("spec.containers[0].comand" in error for error in warnings[0]["errors"])
    assert all(line["log_level"] == "warning" for line in warnings)
    assert running(kubelet, "good") is good
    assert kubelet.worker("default", "bad") is None


@pytest.mark.anyio
@pytest.mark.integration
async def test_a_file_that_turns_bad_stops_its_pods(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path
) -> None:
    # pkg/kubelet/config/file.go leaves a bad file out of the listing: its pods go away.
    path = manifests / "web.yaml"
    path.write_text(child_pod("web", facts))
    await wait_until(lambda: running(kubelet, "web"))
    path.write_text(child_pod("web", facts).replace('"command"', '"comand"'))
    await wait_until(lambda: kubelet.worker("default", "web") is None)
    await wait_until(lambda: refusals(kubelet, "web"))  # once the file has settled


@pytest.mark.anyio
@pytest.mark.integration
async def test_hidden_and_other_files_are_ignored(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path
) -> None:
    (manifests / ".hidden.yaml").write_text(child_pod("hidden", facts))
    (manifests / "notes.txt").write_text(child_pod("notes", facts))
    (manifests / "sub").mkdir()
    (manifests / "sub" / "nested.yaml").write_text(child_pod("nested", facts))
    (manifests / "real.yaml").write_text(child_pod("real", facts))
    await wait_until(lambda: running(kubelet, "real"))
    source.rescan()
    scans = source.scans
    await wait_until(lambda: source.scans > scans)
    assert [w.pod.name for w in kubelet.workers()] == ["real"]


@pytest.mark.anyio
@pytest.mark.integration
async def test_two_files_with_one_pod(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path
) -> None:
    first = manifests / "b.yaml"
    first.write_text(child_pod("web", facts))
    await wait_until(lambda: running(kubelet, "web"))
    worker = running(kubelet, "web")
    second = manifests / "a.yaml"  # sorts first, but b.yaml runs the pod already
    second.write_text(child_pod("web", facts, label="other"))
    await wait_until(lambda: refusals(kubelet, "web"))
    (event,) = refusals(kubelet, "web")
    assert event.type is EventType.WARNING
    assert f"{second}: " in event.message
    assert f"already defined in {first}" in event.message
    assert running(kubelet, "web") is worker

    first.unlink()  # now a.yaml's pod may run
    await wait_until(lambda: (w := running(kubelet, "web")) is not None and w is not worker)
    replacement = running(kubelet, "web")
    assert replacement is not None
    assert replacement.pod.metadata.labels == {"edit": "other"}


@pytest.mark.anyio
@pytest.mark.integration
async def test_a_static_pod_deleted_through_the_api_comes_back(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path
) -> None:
    (manifests / "web.yaml").write_text(child_pod("web", facts))
    await wait_until(lambda: running(kubelet, "web"))
    first = running(kubelet, "web")
    assert first is not None
    deleted = kubelet.delete_pod("default", "web")
    assert deleted is not None
    assert deleted.uid == first.uid
    await wait_until(lambda: (w := running(kubelet, "web")) is not None and w is not first)
    second = running(kubelet, "web")
    assert second is not None
    assert second.snapshot.is_static
    assert second.uid == first.uid  # the static pod's uid is its file's hash: a new start
    assert first.done
    await wait_until(lambda: second.records()["app"].latest is not None)
    latest = second.records()["app"].latest
    assert latest is not None
    assert latest.restart_count == 0  # a new start: no history carried over


@pytest.mark.anyio
@pytest.mark.integration
async def test_a_name_taken_by_an_api_pod(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(child_pod("web", facts))
    api_pod = read_manifest(other).pods[0]
    api_worker = await start(kubelet, api_pod)
    (manifests / "web.yaml").write_text(child_pod("web", facts, label="static"))
    await wait_until(lambda: refusals(kubelet, "web"))
    assert "already exists" in refusals(kubelet, "web")[0].message
    assert kubelet.worker("default", "web") is api_worker
    kubelet.delete_pod("default", "web")  # the name is free again: the static pod starts
    await wait_until(lambda: (w := running(kubelet, "web")) is not None and w.snapshot.is_static)


@pytest.mark.anyio
@pytest.mark.integration
async def test_a_missing_directory_then_created(
    kubelet: Kubelet, tmp_path: Path, facts: Path
) -> None:
    manifests = tmp_path / "later"
    watcher = StaticPodSource(kubelet, manifests, check_frequency=0.2)
    async with anyio.create_task_group() as group:
        with structlog.testing.capture_logs() as logs:
            await group.start(watcher.run)
        assert [
            line["problem"] for line in logs if line["event"] == "static_pods.path_unusable"
        ] == ["path does not exist"]
        manifests.mkdir()
        (manifests / "web.yaml").write_text(child_pod("web", facts))
        await wait_until(lambda: running(kubelet, "web"))
        group.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.integration
async def test_a_single_file_path(kubelet: Kubelet, tmp_path: Path, facts: Path) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(child_pod("web", facts))
    (tmp_path / "ignored.yaml").write_text(child_pod("ignored", facts))
    watcher = StaticPodSource(kubelet, path, check_frequency=60)
    async with anyio.create_task_group() as group:
        await group.start(watcher.run)
        first = running(kubelet, "web")
        assert [w.pod.name for w in kubelet.workers()] == ["web"]
        path.write_text(child_pod("web", facts, label="v2"))
        await wait_until(lambda: (w := running(kubelet, "web")) is not None and w is not first)
        group.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.integration
async def test_reconfigure_to_another_directory(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, tmp_path: Path, facts: Path
) -> None:
    (manifests / "old.yaml").write_text(child_pod("old", facts))
    await wait_until(lambda: running(kubelet, "old"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "new.yaml").write_text(child_pod("new", facts))
    source.reconfigure(elsewhere, 60)
    await wait_until(lambda: running(kubelet, "new") and kubelet.worker("default", "old") is None)
    (elsewhere / "newer.yaml").write_text(child_pod("newer", facts))  # the watch moved too
    await wait_until(lambda: running(kubelet, "newer"))


@pytest.mark.anyio
@pytest.mark.integration
async def test_an_edit_of_a_completed_pod_starts_the_new_version(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, facts: Path
) -> None:
    path = manifests / "job.yaml"
    job = (
        child_pod("job", facts)
        .replace('"--forever",', "")
        .replace(
            '"terminationGracePeriodSeconds"',
            '"restartPolicy": "Never", "terminationGracePeriodSeconds"',
        )
    )
    path.write_text(job)
    await wait_until(lambda: (w := running(kubelet, "job")) is not None and w.done)
    first = running(kubelet, "job")
    path.write_text(job.replace('"name": "job"', '"name": "job", "labels": {"v": "2"}'))
    await wait_until(
        lambda: (w := running(kubelet, "job")) is not None and w is not first, timeout=3
    )
