"""The official Kubernetes Python client talks to the TCP listener."""

from __future__ import annotations

import functools
from typing import Any

import anyio
import pytest
from kubernetes import client as k8s

from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_status
from tests.api.conftest import Server
from tests.conftest import CHILD, PYTHON
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def core_api(server: Server) -> k8s.CoreV1Api:
    configuration = k8s.Configuration(
        host=server.url,
        api_key={"authorization": server.token},
        api_key_prefix={"authorization": "Bearer"},
    )
    configuration.ssl_ca_cert = str(server.ca_file)
    api_client = k8s.ApiClient(configuration)
    # After an error the client keeps its TLS connection checked out of its pool, open
    # past close(), and the server's stop then waits for it: one request per connection.
    api_client.set_default_header("Connection", "close")  # type: ignore[no-untyped-call]
    return k8s.CoreV1Api(api_client)


def close(api: k8s.CoreV1Api) -> None:
    """Close the client and its pooled connections (``ApiClient.close`` keeps those open,
    and a TLS server waits for them when it stops)."""
    api.api_client.close()
    api.api_client.rest_client.pool_manager.clear()


async def test_list_read_and_logs(server: Server) -> None:
    worker = await start(server.kubelet, pod("web", child("app", "--print", "hello", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    api = core_api(server)
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
        close(api)


async def test_errors_come_back_as_api_exceptions(server: Server) -> None:
    api = core_api(server)
    try:
        with pytest.raises(k8s.ApiException) as caught:
            await anyio.to_thread.run_sync(api.read_namespaced_pod, "nope", "default")
        assert caught.value.status == 404
        assert '"reason":"NotFound"' in (caught.value.body or "")
    finally:
        close(api)


async def test_create_read_status_watch_and_delete(server: Server) -> None:
    from kubernetes import watch as k8s_watch

    api = core_api(server)
    try:
        # As the client is usually called: a plain dict, no kind or apiVersion.
        body = {
            "metadata": {"name": "made"},
            "spec": {
                "terminationGracePeriodSeconds": 5,
                "containers": [{"name": "app", "command": [PYTHON, CHILD, "--forever"]}],
            },
        }
        create: Any = api.create_namespaced_pod  # typed for a V1Pod; the dict is the point
        created = await anyio.to_thread.run_sync(create, "default", body)
        assert created.metadata is not None
        assert created.metadata.name == "made"
        with anyio.fail_after(15):
            while True:
                status = await anyio.to_thread.run_sync(
                    api.read_namespaced_pod_status, "made", "default"
                )
                assert status.status is not None
                if status.status.phase == "Running":
                    break
                await anyio.sleep(0.05)

        def watch_until_deleted() -> list[str]:
            seen = []
            watcher = k8s_watch.Watch()  # type: ignore[no-untyped-call]
            for event in watcher.stream(  # type: ignore[no-untyped-call]
                api.list_namespaced_pod,
                "default",
                field_selector="metadata.name=made",
                timeout_seconds=20,
            ):
                seen.append(event["type"])
                if event["type"] == "DELETED":
                    watcher.stop()  # type: ignore[no-untyped-call]
            return seen

        async with anyio.create_task_group() as group:
            results: list[list[str]] = []

            async def watch() -> None:
                results.append(await anyio.to_thread.run_sync(watch_until_deleted))

            group.start_soon(watch)
            await anyio.sleep(0.5)
            await anyio.to_thread.run_sync(
                functools.partial(
                    api.delete_namespaced_pod, "made", "default", grace_period_seconds=1
                )
            )
        (seen,) = results
        assert seen[0] == "ADDED"
        assert seen[-1] == "DELETED"
    finally:
        close(api)
