"""The official Kubernetes Python client talks to the TCP listener."""

from __future__ import annotations

import functools

import anyio
import pytest
from kubernetes import client as k8s

from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def core_api(url: str, token: str) -> k8s.CoreV1Api:
    configuration = k8s.Configuration(
        host=url, api_key={"authorization": token}, api_key_prefix={"authorization": "Bearer"}
    )
    return k8s.CoreV1Api(k8s.ApiClient(configuration))


async def test_list_read_and_logs(server: Server) -> None:
    worker = await start(server.kubelet, pod("web", child("app", "--print", "hello", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    api = core_api(server.url, server.token)
    try:
        pods = await anyio.to_thread.run_sync(functools.partial(api.list_namespaced_pod, "default"))
        assert [p.metadata.name for p in pods.items if p.metadata] == ["web"]
        read = await anyio.to_thread.run_sync(api.read_namespaced_pod, "web", "default")
        assert read.metadata is not None
        assert read.metadata.uid == worker.uid
        assert read.status is not None
        assert read.status.phase == "Running"
        assert read.status.container_statuses is not None
        state = read.status.container_statuses[0].state
        assert state is not None
        assert state.running is not None
        everywhere = await anyio.to_thread.run_sync(api.list_pod_for_all_namespaces)
        assert len(everywhere.items) == 1
        read_log = functools.partial(api.read_namespaced_pod_log, "web", "default", container="app")
        with anyio.fail_after(10):
            while True:
                text = await anyio.to_thread.run_sync(read_log)
                if text:
                    break
                await anyio.sleep(0.05)
        assert text == "hello\n"
        events = await anyio.to_thread.run_sync(
            functools.partial(
                api.list_namespaced_event, "default", field_selector="involvedObject.name=web"
            )
        )
        assert "Started" in {e.reason for e in events.items}
    finally:
        api.api_client.close()


async def test_errors_come_back_as_api_exceptions(server: Server) -> None:
    api = core_api(server.url, server.token)
    try:
        with pytest.raises(k8s.ApiException) as caught:
            await anyio.to_thread.run_sync(api.read_namespaced_pod, "nope", "default")
        assert caught.value.status == 404
        assert '"reason":"NotFound"' in (caught.value.body or "")
    finally:
        api.api_client.close()
