"""The static pod source and the API pod store under trio (inotify awaited through anyio)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.sources import ApiPodStore, StaticPodSource
from minikubelet.sources.file import read_manifest
from minikubelet.testing import wait_for_file
from tests.helpers.pods import start
from tests.serve.manifests import child_pod
from tests.serve.test_static_source import running, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def test_static_pods_and_saved_api_pods_under_trio(kubelet: Kubelet, tmp_path: Path) -> None:
    manifests, facts = tmp_path / "manifests", tmp_path / "facts"
    manifests.mkdir()
    facts.mkdir()
    store = ApiPodStore(tmp_path / "state")
    detach = store.attach(kubelet)
    source = StaticPodSource(kubelet, manifests, check_frequency=60)
    async with anyio.create_task_group() as group:
        await group.start(source.run)
        path = manifests / "web.yaml"
        path.write_text(child_pod("web", facts))  # through inotify
        await wait_until(lambda: running(kubelet, "web"))
        first = running(kubelet, "web")
        assert first is not None
        await wait_for_file(facts / "web.uid", contains=first.uid)
        path.write_text(child_pod("web", facts, label="v2"))
        await wait_until(lambda: running(kubelet, "web") not in (None, first))

        other = tmp_path / "api.yaml"
        other.write_text(child_pod("api", facts))
        await start(kubelet, read_manifest(other).pods[0])
        assert [p.name for p in store.saved()] == ["default_api.json"]
        path.unlink()
        await wait_until(lambda: kubelet.worker("default", "web") is None)
        group.cancel_scope.cancel()
    detach()
