"""The same server under trio: hypercorn's trio worker inside a trio event loop."""

from __future__ import annotations

import anyio
import pytest

from tests.api.conftest import Server
from tests.conftest import CHILD, PYTHON

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def test_create_watch_log_and_delete_under_trio(server: Server) -> None:
    app = {"name": "app", "command": [PYTHON, CHILD, "--print", "hi", "--forever"]}
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "t"},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "containers": [app],
        },
    }
    response = await server.client.post(PODS, json=body)
    assert response.status_code == 201
    with anyio.fail_after(15):
        while True:
            got = await server.client.get(f"{PODS}/t/log")
            text = got.text if got.status_code == 200 else ""
            if text:  # 400 "waiting to start" until it runs, then empty until it prints
                break
            await anyio.sleep(0.02)
        assert text == "hi\n"
        # The watch over a plain socket: httpx's stream generators, abandoned before the
        # end of an endless body, would upset trio's strict generator finalization.
        async with await anyio.connect_unix(server.socket) as stream:
            await stream.send(f"GET {PODS}?watch=true HTTP/1.1\r\nHost: mk\r\n\r\n".encode())
            received = b""
            while b'"type":"ADDED"' not in received:
                received += await stream.receive()
            assert (await server.client.delete(f"{PODS}/t")).status_code == 200
            while b'"type":"DELETED"' not in received:
                received += await stream.receive()
    assert received.startswith(b"HTTP/1.1 200 ")
    assert b"transfer-encoding: chunked" in received.lower()
    assert (await server.client.get(f"{PODS}/t")).status_code == 404
