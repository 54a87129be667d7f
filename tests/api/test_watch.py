"""Watches: newline-delimited WatchEvents, initial ADDED, replay by resourceVersion, 410."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
import pytest

from minikubelet.model.spec import RestartPolicy
from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PODS = "/api/v1/namespaces/default/pods"


class Events:
    """The events of one watch stream, read as they arrive."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self.seen: list[dict[str, Any]] = []

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            line = await anext(self._lines)
        event: dict[str, Any] = json.loads(line)
        self.seen.append(event)
        return event

    async def until(self, type: str, timeout: float = 10) -> dict[str, Any]:
        while True:
            event = await self.next(timeout)
            if event["type"] == type:
                return event

    async def rest(self, timeout: float = 10) -> list[dict[str, Any]]:
        """Every remaining event, until the server ends the stream."""
        rest = []
        with anyio.fail_after(timeout):
            async for line in self._lines:
                rest.append(json.loads(line))
        return rest


@asynccontextmanager
async def watching(server: Server, path: str = PODS, **params: str) -> AsyncIterator[Events]:
    async with server.client.stream(
        "GET", path, params={"watch": "true", **params}, timeout=None
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        yield Events(response.aiter_lines())


async def test_added_modified_deleted_with_the_final_status(server: Server) -> None:
    kubelet = server.kubelet
    worker = await start(kubelet, pod("existing", child("app", "--forever"), grace=5))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    async with watching(server) as events:
        first = await events.next()
        assert first["type"] == "ADDED"  # the synthetic ADDED of what exists now
        assert first["object"]["metadata"]["name"] == "existing"
        assert first["object"]["status"]["phase"] == "Running"

        new = await start(kubelet, pod("new", child("app", "--forever"), grace=5))
        added = await events.until("ADDED")
        assert added["object"]["metadata"]["name"] == "new"
        running = await events.until("MODIFIED")
        assert running["object"]["metadata"]["name"] == "new"

        response = await server.client.delete(f"{PODS}/new")
        assert response.status_code == 200
        deleting = await events.until("MODIFIED")
        assert deleting["object"]["metadata"]["deletionTimestamp"]
        deleted = await events.until("DELETED")
        assert deleted["object"]["metadata"]["uid"] == new.uid
        assert deleted["object"]["status"]["phase"] in ("Failed", "Succeeded")
        (status,) = deleted["object"]["status"]["containerStatuses"]
        assert "terminated" in status["state"]
    versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in events.seen]
    assert versions[1:] == sorted(versions[1:])
    assert len(set(versions[1:])) == len(versions[1:])


async def test_a_watch_from_the_list_version_replays_what_happened_since(server: Server) -> None:
    listed = await server.json(PODS)
    version = listed["metadata"]["resourceVersion"]
    await start(server.kubelet, pod("between", child("app", "--forever")))
    async with watching(server, resourceVersion=version) as events:
        event = await events.next()
        assert event["type"] == "ADDED"
        assert event["object"]["metadata"]["name"] == "between"
        assert int(event["object"]["metadata"]["resourceVersion"]) > int(version)


async def test_field_selector_on_metadata_name(server: Server) -> None:
    await start(server.kubelet, pod("other", child("app", "--forever")))
    await start(server.kubelet, pod("mine", child("app", "--forever")))
    async with watching(server, fieldSelector="metadata.name=mine", timeoutSeconds="1") as events:
        seen = await events.rest()
    assert seen
    assert {event["object"]["metadata"]["name"] for event in seen} == {"mine"}


async def test_label_selector_and_namespace_filter(server: Server) -> None:
    await start(server.kubelet, pod("plain", child("app", "--forever")))
    async with watching(
        server, "/api/v1/namespaces/elsewhere/pods", timeoutSeconds="0.5"
    ) as events:
        assert await events.rest() == []
    async with watching(server, labelSelector="app=x", timeoutSeconds="0.5") as events:
        assert await events.rest() == []


async def test_timeout_seconds_ends_the_stream(server: Server) -> None:
    with anyio.fail_after(5):
        async with watching(server, timeoutSeconds="0.2") as events:
            assert await events.rest() == []


async def test_a_version_no_longer_kept_is_expired(server: Server) -> None:
    async with watching(server, resourceVersion="5") as events:
        event = await events.next()
        assert event["type"] == "ERROR"
        status = event["object"]
        assert status["kind"] == "Status"
        assert status["code"] == 410
        assert status["reason"] == "Expired"
        assert await events.rest() == []


async def test_events_can_be_watched(server: Server) -> None:
    async with watching(server, "/api/v1/namespaces/default/events") as events:
        await start(server.kubelet, pod("noisy", child("app", "--forever")))
        event = await events.next()
        assert event["type"] == "ADDED"
        assert event["object"]["kind"] == "Event"
        assert event["object"]["involvedObject"]["name"] == "noisy"


async def test_deleting_a_finished_pod_is_one_deleted_event(server: Server) -> None:
    done = await start(server.kubelet, pod("done", child("app"), policy=RestartPolicy.NEVER))
    await done.wait_done()
    listed = await server.json(PODS)
    async with watching(server, resourceVersion=listed["metadata"]["resourceVersion"]) as events:
        response = await server.client.delete(f"{PODS}/done")
        assert response.status_code == 200
        assert response.json()["metadata"]["deletionTimestamp"]
        deleted = await events.next()
        assert deleted["type"] == "DELETED"
        assert deleted["object"]["status"]["phase"] == "Succeeded"
    assert (await server.client.get(f"{PODS}/done")).status_code == 404


async def test_bookmarks_when_asked_for(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from minikubelet.server import watch

    monkeypatch.setattr(watch, "BOOKMARK_INTERVAL", 0.2)
    listed = await server.json(PODS)
    version = listed["metadata"]["resourceVersion"]
    async with watching(
        server, resourceVersion=version, allowWatchBookmarks="true", timeoutSeconds="1"
    ) as events:
        seen = await events.rest()
    bookmarks = [event for event in seen if event["type"] == "BOOKMARK"]
    assert bookmarks
    assert bookmarks[0]["object"]["kind"] == "Pod"
    assert int(bookmarks[0]["object"]["metadata"]["resourceVersion"]) >= int(version)
    async with watching(server, resourceVersion=version, timeoutSeconds="0.5") as events:
        assert all(event["type"] != "BOOKMARK" for event in await events.rest())


async def test_a_watcher_that_never_reads_is_cut_off_and_the_engine_keeps_time(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket as sockets

    import structlog

    from minikubelet.model.spec import ObjectMeta
    from minikubelet.server import watch

    monkeypatch.setattr(watch, "SEND_TIMEOUT", 0.5)
    kubelet = server.kubelet
    # A crash-looping container: its restarts must keep their schedule (back-off 0.1-0.4 s).
    crasher = await start(kubelet, pod("crasher", child("app", "--exit-code", "1")))
    # A pod whose every change is 200 KB of JSON: a few of them fill any socket buffer.
    big = pod("big", child("app", "--forever"))
    fat = {"blob": "x" * 200_000}
    big = replace(big, metadata=ObjectMeta(name="big", annotations=fat))
    await start(kubelet, big)

    reader = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    reader.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
    try:
        reader.connect(str(server.socket))
        reader.sendall(f"GET {PODS}?watch=true HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        with structlog.testing.capture_logs() as logs:
            before = crasher.status.container_statuses[0].restart_count
            began = anyio.current_time()
            with anyio.fail_after(20):
                turn = 0
                while not any(log["event"] == "api.watch_cut_off" for log in logs):
                    turn += 1
                    labels = {"turn": str(turn)}
                    kubelet.update_pod(
                        replace(
                            big, metadata=ObjectMeta(name="big", labels=labels, annotations=fat)
                        )
                    )
                    await anyio.sleep(0.02)
            # The engine went on meanwhile: the crash loop restarted on its back-off.
            await wait_for_status(
                crasher, lambda s: s.container_statuses[0].restart_count >= before + 3
            )
        assert anyio.current_time() - began < 15
        # The server serves everyone else as before.
        assert (await server.json(f"{PODS}/big"))["metadata"]["labels"]["turn"] == str(turn)
    finally:
        reader.close()
