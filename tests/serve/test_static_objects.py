"""ConfigMaps and Secrets in the static pod directory, beside the pods that read them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.objects import ConfigMap
from minikubelet.model.spec import ObjectKind, ObjectMeta
from minikubelet.sources.file import FAILED_TO_PARSE, StaticPodSource, read_manifest
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.conftest import PYTHON
from tests.serve.test_static_source import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# Writes $GREETING (from the ConfigMap of its own file) and sleeps until stopped.
CODE = (
    "import os, sys, time\n"
    "open(sys.argv[1], 'a').write(os.environ['GREETING'] + '\\n')\n"
    "time.sleep(60)\n"
)


def config_map(name: str, greeting: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"greeting": greeting},
        }
    )


def reader(name: str, config: str, out: Path) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "terminationGracePeriodSeconds": 2,
                "containers": [
                    {
                        "name": "app",
                        "command": [PYTHON, "-c", CODE, str(out)],
                        "env": [
                            {
                                "name": "GREETING",
                                "valueFrom": {
                                    "configMapKeyRef": {"name": config, "key": "greeting"}
                                },
                            }
                        ],
                    }
                ],
            },
        }
    )


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    return path


@pytest.fixture
async def source(kubelet: Kubelet, manifests: Path) -> AsyncIterator[StaticPodSource]:
    watcher = StaticPodSource(kubelet, manifests, check_frequency=60)
    async with anyio.create_task_group() as group:
        await group.start(watcher.run)
        yield watcher
        group.cancel_scope.cancel()


def test_a_file_reads_into_pods_and_objects(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(config_map("settings", "hi") + "\n---\n" + reader("web", "settings", path))
    file = read_manifest(path)
    assert file.error is None
    assert [p.name for p in file.pods] == ["web"]
    assert [(o.kind, o.name) for o in file.objects] == [(ObjectKind.CONFIG_MAP, "settings")]


async def test_a_config_map_and_its_pod_in_one_static_file(
    kubelet: Kubelet, manifests: Path, tmp_path: Path
) -> None:
    out = tmp_path / "greetings"
    path = manifests / "app.yaml"
    path.write_text(config_map("settings", "hello") + "\n---\n" + reader("web", "settings", out))
    watcher = StaticPodSource(kubelet, manifests, check_frequency=60)
    async with anyio.create_task_group() as group:
        await group.start(watcher.run)
        # The object is in the store before the pod's first start: no config error ever.
        stored = kubelet.objects.get(ObjectKind.CONFIG_MAP, "default", "settings")
        assert stored is not None
        assert stored.file == path
        assert await wait_for_file(out, contains="\n") == "hello\n"
        worker = kubelet.worker("default", "web")
        assert worker is not None
        assert not [e for e in kubelet.recorder.events(pod="web") if e.reason == "Failed"]

        # Editing the file recreates the pod (its content changed), which reads the new value;
        # the ConfigMap keeps its identity.
        path.write_text(config_map("settings", "bye") + "\n---\n" + reader("web", "settings", out))
        await wait_for_file(out, contains="bye")
        assert out.read_text() == "hello\nbye\n"
        changed = kubelet.objects.get(ObjectKind.CONFIG_MAP, "default", "settings")
        assert changed is not None
        assert changed.uid == stored.uid
        assert changed.obj.data == {"greeting": "bye"}

        # Removing the file removes both.
        path.unlink()
        await wait_until(
            lambda: (
                kubelet.objects.get(ObjectKind.CONFIG_MAP, "default", "settings") is None
                and kubelet.worker("default", "web") is None
            )
        )
        group.cancel_scope.cancel()


async def test_a_pod_waits_for_an_object_another_file_brings(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path, tmp_path: Path
) -> None:
    out = tmp_path / "greetings"
    (manifests / "pod.yaml").write_text(reader("web", "shared", out))
    await wait_until(lambda: kubelet.worker("default", "web") is not None)
    worker = kubelet.worker("default", "web")
    assert worker is not None
    status = await wait_for_status(
        worker, lambda s: getattr(container(s, "app").state, "reason", "") != "ContainerCreating"
    )
    assert getattr(container(status, "app").state, "message", "") == (
        'configmap "shared" not found'
    )
    (manifests / "shared.yaml").write_text(config_map("shared", "at last"))
    assert await wait_for_file(out, contains="\n") == "at last\n"


async def test_an_object_whose_name_is_taken_is_refused_and_reported(
    kubelet: Kubelet, source: StaticPodSource, manifests: Path
) -> None:
    kubelet.objects.create(ConfigMap(metadata=ObjectMeta(name="taken"), data={"a": "api"}))
    path = manifests / "clash.yaml"
    path.write_text(config_map("taken", "file"))
    await wait_until(lambda: kubelet.recorder.events(pod="clash.yaml"))
    (event,) = kubelet.recorder.events(pod="clash.yaml")
    assert event.reason == FAILED_TO_PARSE
    assert event.message == (
        f'{path}: configmap "taken": metadata.name: Duplicate value: "taken": configmap '
        "default/taken is already created through the API"
    )
    stored = kubelet.objects.get(ObjectKind.CONFIG_MAP, "default", "taken")
    assert stored is not None
    assert stored.file is None
    assert stored.obj.data == {"a": "api"}
    scans = source.scans
    source.rescan()
    await wait_until(lambda: source.scans > scans)
    (again,) = kubelet.recorder.events(pod="clash.yaml")
    assert again.count == 1  # reported once per version of the file, not once per scan
