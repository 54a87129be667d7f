"""API pods saved under the root dir: written on ADDED, removed on DELETED, restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog.testing

from minikubelet.kubelet import Kubelet
from minikubelet.sources import ApiPodStore
from minikubelet.sources.file import read_manifest
from tests.helpers.pods import start
from tests.serve.manifests import child_pod
from tests.serve.test_static_source import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def pod_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(child_pod(name, tmp_path))
    return path


async def test_api_pods_are_saved_and_forgotten(kubelet: Kubelet, tmp_path: Path) -> None:
    store = ApiPodStore(tmp_path / "state")
    detach = store.attach(kubelet)
    api_pod = read_manifest(pod_file(tmp_path, "api")).pods[0]
    static_pod = read_manifest(pod_file(tmp_path, "static")).pods[0]
    worker = await start(kubelet, api_pod)
    await start(kubelet, static_pod, is_static=True)
    saved = tmp_path / "state" / "pods-api" / "default_api.json"
    assert store.saved() == [saved]
    expected = json.loads(child_pod("api", tmp_path))
    expected["metadata"]["uid"] = worker.uid  # the same pod comes back, not a new one
    expected["metadata"]["creationTimestamp"] = worker.snapshot.created_at.isoformat()
    assert json.loads(saved.read_text()) == expected
    assert (saved.parent.stat().st_mode & 0o777) == 0o700

    kubelet.delete_pod("default", "api")
    await wait_until(lambda: kubelet.worker("default", "api") is None)
    assert store.saved() == []
    detach()


async def test_restore_starts_saved_pods_and_keeps_what_it_cannot_load(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    store = ApiPodStore(tmp_path / "state")
    store.directory.mkdir(parents=True)
    broken = store.directory / "default_broken.json"
    broken.write_text(child_pod("broken", tmp_path).replace('"command"', '"comand"'))
    (store.directory / ".default_half.json.tmp").write_text("{")  # a write cut short
    taken = read_manifest(pod_file(tmp_path, "taken")).pods[0]
    await start(kubelet, taken, is_static=True)  # a static pod took the name meanwhile
    (store.directory / "default_taken.json").write_text(child_pod("taken", tmp_path))

    good = json.loads(child_pod("good", tmp_path))
    good["metadata"]["uid"] = "0b5e3f6e-good"
    good["metadata"]["creationTimestamp"] = "2026-11-30T08:00:00+00:00"
    (store.directory / "default_good.json").write_text(json.dumps(good))

    with structlog.testing.capture_logs() as logs:
        assert await store.restore(kubelet) == 1
    (restored,) = [p for p in kubelet.snapshots() if not p.is_static]
    assert (restored.pod.name, restored.uid) == ("good", "0b5e3f6e-good")
    assert restored.created_at.isoformat() == "2026-11-30T08:00:00+00:00"
    failed = {
        line["file"]: line["error"] for line in logs if line["event"] == "api_pod.restore_failed"
    }
    assert set(failed) == {str(broken), str(store.directory / "default_taken.json")}
    assert "spec.containers[0].comand: Unknown field" in failed[str(broken)]
    assert "already exists" in failed[str(store.directory / "default_taken.json")]
    assert broken.exists()  # kept for the user to fix


def test_names_cannot_escape_the_directory(tmp_path: Path) -> None:
    store = ApiPodStore(tmp_path)
    assert store.path_for("default", "web") == tmp_path / "pods-api" / "default_web.json"
    with pytest.raises(ValueError, match="not a Kubernetes name"):
        store.path_for("default", "../web")
