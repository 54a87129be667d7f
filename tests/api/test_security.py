"""Who may use the API over TCP, and what a request must look like (real sockets, real pods).

Each refusal is checked for its Status and for its effect: nothing. A refused create must
leave no pod and start no process; the proof is a pod let in afterwards that runs to
completion while the refused pod's marker file never appears.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess  # noqa: TID251 - the test runs kubectl and minikubelet as a user would
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
import pytest
import trustme
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from minikubelet.kubelet import Kubelet
from minikubelet.server import ApiEndpoints, Listening, TlsFiles
from minikubelet.server.auth import MAX_FAILURES
from minikubelet.server.serving import serve_api
from minikubelet.testing import wait_for_file
from tests.api.conftest import TOKEN, Server, unix_client
from tests.conftest import CHILD, PYTHON

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PODS = "/api/v1/namespaces/default/pods"
KUBECTL = shutil.which("kubectl")


def marker_pod(name: str, marker: Path) -> dict[str, Any]:
    """A pod whose only container writes ``marker`` at once and exits 0."""
    command = [PYTHON, CHILD, "--write-file", str(marker), "ran"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "command": command}]},
    }


def descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


async def assert_nothing_ran(server: Server, tmp_path: Path, *markers: Path) -> None:
    """No pod was added, and a pod let in now runs while the refused ones never did."""
    assert server.kubelet.workers() == []
    witness = tmp_path / "witness.marker"
    response = await server.client.post(PODS, json=marker_pod("witness", witness))
    assert response.status_code == 201, response.text
    await wait_for_file(witness, timeout=20)
    for marker in markers:
        assert not marker.exists(), f"{marker}: a refused pod ran"
    assert [w.pod.name for w in server.kubelet.workers()] == ["witness"]


def assert_status(response: httpx.Response, code: int, reason: str, message: str = "") -> None:
    assert response.status_code == code, response.text
    status = response.json()
    assert status["kind"] == "Status"
    assert status["apiVersion"] == "v1"
    assert status["status"] == "Failure"
    assert status["reason"] == reason
    assert status["code"] == code
    assert message in status["message"]


@asynccontextmanager
async def serving(kubelet: Kubelet, endpoints: ApiEndpoints) -> AsyncIterator[Listening]:
    async with anyio.create_task_group() as group:
        yield await group.start(serve_api, kubelet, endpoints)
        group.cancel_scope.cancel()


# -- authentication -------------------------------------------------------------------


async def test_an_unauthenticated_tcp_create_is_refused_and_nothing_runs(
    server: Server, tmp_path: Path
) -> None:
    before = descendants()
    markers = []
    async with server.tcp_client(token=None) as anonymous, server.tcp_client("wrong") as wrong:
        for name, client in (("anonymous", anonymous), ("wrong", wrong)):
            marker = tmp_path / f"{name}.marker"
            markers.append(marker)
            response = await client.post(PODS, json=marker_pod(name, marker))
            assert_status(response, 401, "Unauthorized")
            assert response.json()["message"] == "Unauthorized"  # the apiserver's words
        basic = await anonymous.get(PODS, headers={"Authorization": f"Basic {TOKEN}"})
        assert_status(basic, 401, "Unauthorized")
        assert_status(await anonymous.get(PODS), 401, "Unauthorized")
        assert_status(await anonymous.get("/metrics"), 401, "Unauthorized")
    assert descendants() == before, "a refused request started a process"
    await assert_nothing_ran(server, tmp_path, *markers)


async def test_the_token_lets_a_tcp_client_in(server: Server, tmp_path: Path) -> None:
    marker = tmp_path / "ok.marker"
    async with server.tcp_client() as client:
        response = await client.post(PODS, json=marker_pod("ok", marker))
        assert response.status_code == 201, response.text
        await wait_for_file(marker, timeout=20)
        listed = await client.get(PODS)
    assert [item["metadata"]["name"] for item in listed.json()["items"]] == ["ok"]


async def test_health_and_version_need_no_token(server: Server) -> None:
    # What the apiserver lets system:unauthenticated read, and what kubectl asks first.
    async with server.tcp_client(token=None) as client:
        assert (await client.get("/healthz")).text == "ok"
        assert (await client.get("/version")).json()["major"] == "1"
        assert_status(await client.post("/healthz"), 401, "Unauthorized")


async def test_the_unix_socket_needs_no_credentials(server: Server, tmp_path: Path) -> None:
    response = await server.client.get(PODS)
    assert response.status_code == 200
    response = await server.client.get(PODS, headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200


async def test_anonymous_auth_lets_requests_without_a_token_in(
    kubelet: Kubelet, socket_dir: Path
) -> None:
    endpoints = ApiEndpoints(socket=None, port=0, token=TOKEN, anonymous=True)
    async with (
        serving(kubelet, endpoints) as listening,
        httpx.AsyncClient(base_url=str(listening.url)) as client,
    ):
        assert (await client.get(PODS)).status_code == 200
        # As the apiserver: anonymous applies to requests without credentials only.
        response = await client.get(PODS, headers={"Authorization": "Bearer wrong"})
        assert_status(response, 401, "Unauthorized")
        response = await client.get(PODS, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200


async def test_failed_authentication_is_rate_limited_per_client_address(
    server: Server, tmp_path: Path
) -> None:
    async with server.tcp_client("guess") as guessing:
        for _ in range(MAX_FAILURES):
            assert_status(await guessing.get(PODS), 401, "Unauthorized")
        limited = await guessing.get(PODS)
        assert_status(limited, 429, "TooManyRequests", "Too many requests")
        seconds = int(limited.headers["Retry-After"])
        assert 1 <= seconds <= 60
        assert limited.json()["details"] == {"retryAfterSeconds": seconds}
    # Even the right token waits: otherwise the limit would not slow a guesser down.
    async with server.tcp_client() as right:
        assert_status(await right.get(PODS), 429, "TooManyRequests")
        marker = tmp_path / "limited.marker"
        response = await right.post(PODS, json=marker_pod("limited", marker))
        assert_status(response, 429, "TooManyRequests")
    async with server.tcp_client(token=None) as anonymous:
        assert_status(await anonymous.get(PODS), 401, "Unauthorized")  # not a guess
    # Another address is not held back, and the socket never is.
    headers = {"Authorization": f"Bearer {TOKEN}"}
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2", verify=server.ssl_context())
    async with httpx.AsyncClient(base_url=server.url, transport=transport, headers=headers) as c:
        assert (await c.get(PODS)).status_code == 200
    assert (await server.client.get(PODS)).status_code == 200
    await assert_nothing_ran(server, tmp_path, marker)


# -- what a request must look like ------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", "json"),
        ("text/plain;charset=UTF-8", "json"),
        ("application/x-www-form-urlencoded", "form"),
        ("multipart/form-data; boundary=x", "json"),
    ],
)
async def test_bodies_must_be_json_or_yaml(
    server: Server, tmp_path: Path, content_type: str | None, body: str
) -> None:
    marker = tmp_path / "typed.marker"
    manifest = marker_pod("typed", marker)
    content = json.dumps(manifest) if body == "json" else f"x={json.dumps(manifest)}"
    headers = {"Content-Type": content_type} if content_type else {}
    async with server.tcp_client() as client:
        response = await client.post(PODS, content=content, headers=headers)
    assert_status(
        response,
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml",
    )
    if content_type is not None:  # the socket answers the same to a declared wrong type
        response = await server.client.post(PODS, content=content, headers=headers)
        assert_status(response, 415, "UnsupportedMediaType")
    await assert_nothing_ran(server, tmp_path, marker)


async def test_a_body_without_a_content_type_needs_the_token_on_tcp(
    server: Server, kubelet: Kubelet, tmp_path: Path, socket_dir: Path
) -> None:
    # A fetch() of a Blob sends no Content-Type: refused when no token came with it (a web
    # page never has it). With the token it is JSON, as the apiserver reads it: the official
    # Python client sends a dict body without one.
    marker = tmp_path / "untyped.marker"
    content = json.dumps(marker_pod("untyped", marker))
    endpoints = ApiEndpoints(socket=None, port=0, token=TOKEN, anonymous=True)
    async with (
        serving(kubelet, endpoints) as listening,
        httpx.AsyncClient(base_url=str(listening.url)) as anonymous,
    ):
        response = await anonymous.post(PODS, content=content)
        assert_status(response, 415, "UnsupportedMediaType")
    await assert_nothing_ran(server, tmp_path, marker)
    async with server.tcp_client() as client:
        response = await client.post(PODS, content=content)
    assert response.status_code == 201, response.text


async def test_json_and_yaml_with_parameters_are_accepted(server: Server, tmp_path: Path) -> None:
    async with server.tcp_client() as client:
        for index, content_type in enumerate(
            ("application/json; charset=utf-8", "APPLICATION/YAML")
        ):
            manifest = marker_pod(f"p{index}", tmp_path / f"p{index}.marker")
            response = await client.post(
                PODS, content=json.dumps(manifest), headers={"Content-Type": content_type}
            )
            assert response.status_code == 201, response.text


async def test_patch_takes_the_patch_types_only(server: Server) -> None:
    async with server.tcp_client() as client:
        response = await client.patch(
            f"{PODS}/x", content="{}", headers={"Content-Type": "application/json"}
        )
        assert_status(response, 415, "UnsupportedMediaType", "application/json-patch+json")
        response = await client.patch(
            f"{PODS}/x",
            content="{}",
            headers={"Content-Type": "application/strategic-merge-patch+json"},
        )
    assert_status(response, 404, "NotFound", 'pods "x" not found')  # let through to the handler


async def test_a_cross_origin_request_is_refused_and_nothing_runs(
    kubelet: Kubelet, tmp_path: Path, socket_dir: Path
) -> None:
    # Anonymous requests allowed: only the Origin check stands between a web page and pods.
    endpoints = ApiEndpoints(socket=socket_dir / "mk.sock", port=0, token=TOKEN, anonymous=True)
    async with (
        serving(kubelet, endpoints) as listening,
        unix_client(socket_dir / "mk.sock") as unix,
    ):
        server = Server(kubelet, listening, unix)
        url, port = str(listening.url), listening.port
        assert port is not None
        markers = []
        async with httpx.AsyncClient(base_url=url) as client:
            for index, headers in enumerate(
                [
                    {"Origin": "http://evil.example"},
                    {"Origin": "null"},
                    {"Origin": f"http://127.0.0.1:{port + 1}"},  # another port
                    {"Origin": f"https://127.0.0.1:{port}"},  # another scheme
                    {"Sec-Fetch-Site": "cross-site"},
                ]
            ):
                marker = tmp_path / f"origin{index}.marker"
                markers.append(marker)
                response = await client.post(
                    PODS,
                    content=json.dumps(marker_pod(f"o{index}", marker)),
                    headers={"Content-Type": "application/json", **headers},
                )
                assert_status(response, 403, "Forbidden", "cross-")
            same = await client.get(PODS, headers={"Origin": url})
            assert same.status_code == 200  # our own origin is no other origin
        await assert_nothing_ran(server, tmp_path, *markers)


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost:{other}", "", "[::1"],
)
async def test_a_foreign_host_is_refused(server: Server, tmp_path: Path, host: str) -> None:
    port = server.listening.port
    assert port is not None
    host = host.format(port=port, other=port + 1)
    marker = tmp_path / "rebound.marker"
    async with server.tcp_client() as client:
        for request in (
            client.build_request("GET", "/healthz"),
            client.build_request("POST", PODS, json=marker_pod("rebound", marker)),
        ):
            request.headers["Host"] = host
            response = await client.send(request)
            assert_status(response, 403, "Forbidden", "does not name this server")
    await assert_nothing_ran(server, tmp_path, marker)


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "LOCALHOST.", "[::1]:{port}"]
)
async def test_the_listener_s_own_names_are_accepted(server: Server, host: str) -> None:
    async with server.tcp_client() as client:
        request = client.build_request("GET", PODS)
        request.headers["Host"] = host.format(port=server.listening.port)
        assert (await client.send(request)).status_code == 200


async def test_a_websocket_from_another_origin_is_refused(server: Server) -> None:
    assert server.listening.port is not None
    handshake = (
        f"GET {PODS}/x/exec HTTP/1.1\r\nHost: 127.0.0.1:{server.listening.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://evil.example\r\n\r\n"
    )

    context = server.ssl_context()
    assert isinstance(context, ssl.SSLContext)

    def exchange() -> bytes:
        with (
            socket.create_connection(("127.0.0.1", server.listening.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            sock.sendall(handshake.encode())
            received = b""
            while b"cross-origin" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
            return received

    answer = await anyio.to_thread.run_sync(exchange)
    assert answer.startswith(b"HTTP/1.1 403"), answer
    assert b'"reason":"Forbidden"' in answer


# -- the kubeconfig -------------------------------------------------------------------


async def test_the_kubeconfig_comes_over_the_socket_only(server: Server) -> None:
    response = await server.client.get("/kubeconfig")
    assert response.status_code == 200
    config = response.json()
    assert config["kind"] == "Config"
    assert config["apiVersion"] == "v1"
    assert config["current-context"] == "minikubelet"
    assert server.ca_file is not None
    authority = base64.b64encode(server.ca_file.read_bytes()).decode()
    assert config["clusters"] == [
        {
            "name": "minikubelet",
            "cluster": {"server": server.url, "certificate-authority-data": authority},
        }
    ]
    assert config["users"] == [{"name": "minikubelet", "user": {"token": TOKEN}}]
    assert config["contexts"] == [
        {"name": "minikubelet", "context": {"cluster": "minikubelet", "user": "minikubelet"}}
    ]
    async with server.tcp_client() as client:
        assert_status(await client.get("/kubeconfig"), 403, "Forbidden", "unix socket")


async def test_the_kubeconfig_works_for_the_official_client(server: Server) -> None:
    config = (await server.client.get("/kubeconfig")).json()
    api_client = k8s_config.new_client_from_config_dict(config)  # type: ignore[no-untyped-call]
    try:
        api = k8s.CoreV1Api(api_client)
        pods = await anyio.to_thread.run_sync(api.list_namespaced_pod, "default")
        assert pods.items == []
    finally:
        api_client.close()
        api_client.rest_client.pool_manager.clear()


async def test_no_tcp_listener_no_kubeconfig(kubelet: Kubelet, socket_dir: Path) -> None:
    path = socket_dir / "mk.sock"
    async with serving(kubelet, ApiEndpoints(socket=path)), unix_client(path) as client:
        response = await client.get("/kubeconfig")
    assert_status(response, 404, "NotFound", "no TCP listener")


# -- TLS ------------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path: Path) -> tuple[TlsFiles, trustme.CA]:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    # The chain as the file holds it, ending with the CA: what a kubeconfig then carries.
    cert.write_bytes(
        b"".join(blob.bytes() for blob in issued.cert_chain_pems) + ca.cert_pem.bytes()
    )
    issued.private_key_pem.write_to_path(str(key))
    os.chmod(key, 0o600)
    return TlsFiles(cert, key), ca


async def test_tls_serves_https_with_the_token(
    kubelet: Kubelet, socket_dir: Path, tmp_path: Path, tls: tuple[TlsFiles, trustme.CA]
) -> None:
    files, ca = tls
    path = socket_dir / "mk.sock"
    endpoints = ApiEndpoints(socket=path, port=0, tls=files, token=TOKEN)
    async with serving(kubelet, endpoints) as listening, unix_client(path) as unix:
        assert listening.url == f"https://127.0.0.1:{listening.port}"
        assert (await unix.get("/healthz")).text == "ok"  # the socket stays plain
        config = (await unix.get("/kubeconfig")).json()
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"] == listening.url
        authority = base64.b64decode(cluster["certificate-authority-data"])
        assert ca.cert_pem.bytes().strip() in authority
        assert b"PRIVATE KEY" not in authority
        (tmp_path / "ca.pem").write_bytes(authority)

        headers = {"Authorization": f"Bearer {TOKEN}"}
        verify = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        async with httpx.AsyncClient(base_url=listening.url, verify=verify) as client:
            assert (await client.get(PODS, headers=headers)).status_code == 200
            assert_status(await client.get(PODS), 401, "Unauthorized")
        plain = f"http://127.0.0.1:{listening.port}"
        async with httpx.AsyncClient(base_url=plain) as client:
            with pytest.raises(httpx.HTTPError):
                await client.get("/healthz", headers=headers)

        api_client = k8s_config.new_client_from_config_dict(config)  # type: ignore[no-untyped-call]
        try:
            pods = await anyio.to_thread.run_sync(
                k8s.CoreV1Api(api_client).list_pod_for_all_namespaces
            )
            assert pods.items == []
        finally:
            api_client.close()
            api_client.rest_client.pool_manager.clear()

        if KUBECTL is None:
            print("kubectl not installed: the kubectl part of this test is skipped")
            return
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps(config))
        wrong = tmp_path / "wrong-kubeconfig"
        wrong.write_text(
            json.dumps({**config, "users": [{"name": "minikubelet", "user": {"token": "x"}}]})
        )

        def kubectl(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
            environ = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
            command = [str(KUBECTL), "--kubeconfig", str(config_file), *args]
            return subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=60,
                env=environ,
                stdin=subprocess.DEVNULL,
            )

        version = await anyio.to_thread.run_sync(kubectl, kubeconfig, "get", "--raw", "/version")
        assert version.returncode == 0, version.stderr
        assert json.loads(version.stdout)["major"] == "1"
        listed = await anyio.to_thread.run_sync(kubectl, kubeconfig, "get", "--raw", PODS)
        assert listed.returncode == 0, listed.stderr  # the token went over TLS
        assert json.loads(listed.stdout)["kind"] == "PodList"
        refused = await anyio.to_thread.run_sync(kubectl, wrong, "get", "--raw", PODS)
        # (gcloud's kubectl dispatcher does not always pass the exit status on: the output)
        assert "PodList" not in refused.stdout
        assert "Unauthorized" in refused.stderr


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_the_guard_and_tls_under_both_event_loops(
    kubelet: Kubelet, socket_dir: Path, tmp_path: Path, tls: tuple[TlsFiles, trustme.CA]
) -> None:
    files, ca = tls
    path = socket_dir / "mk.sock"
    endpoints = ApiEndpoints(socket=path, port=0, tls=files, token=TOKEN)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with (
        serving(kubelet, endpoints) as listening,
        unix_client(path) as unix,
        httpx.AsyncClient(base_url=str(listening.url), verify=context) as client,
    ):
        assert (await unix.get(PODS)).status_code == 200  # the socket: no credentials
        assert_status(await client.get(PODS), 401, "Unauthorized")
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert (await client.get(PODS, headers=headers)).status_code == 200
        response = await client.get(PODS, headers={**headers, "Host": "evil.example"})
        assert_status(response, 403, "Forbidden")
