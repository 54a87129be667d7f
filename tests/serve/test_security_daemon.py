"""The daemon's security, end to end: start-up refusals, the root dir, the lock, the token.

Real daemons (``serve`` and ``run`` as subprocesses), real sockets. Where the point is what
another local user can do, that user is ``nobody``, run with ``setpriv``; those tests need
root and say so when skipped.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import ssl
import stat
import subprocess  # noqa: TID251 - the test runs kubectl and minikubelet as a user would
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import yaml

from tests.conftest import CHILD, PYTHON
from tests.serve.daemon import REPO, Daemon, wait_for

pytestmark = [pytest.mark.e2e]

MINIKUBELET = [sys.executable, "-m", "minikubelet"]
PODS = "/api/v1/namespaces/default/pods"
SYSTEM_PYTHON = "/usr/bin/python3"  # nobody cannot enter /root, where the venv's python is


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def marker_pod(name: str, marker: Path) -> dict[str, Any]:
    command = [PYTHON, CHILD, "--write-file", str(marker), "ran"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "command": command}]},
    }


@pytest.fixture
def daemon(tmp_path: Path, short_tmp: Path) -> Iterator[Daemon]:
    running = Daemon(tmp_path, short_tmp)
    yield running
    running.close()


def unix(daemon: Daemon) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=str(daemon.socket))
    return httpx.Client(transport=transport, base_url="http://minikubelet", timeout=10)


def tcp_port(daemon: Daemon) -> int:
    """The TCP port of the daemon's latest start (after ``wait_ready``)."""
    ready = wait_for(lambda: daemon.logs("daemon.ready"), what="daemon.ready")[-1]
    return int(str(ready["url"]).rsplit(":", 1)[1])


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MINIKUBELET, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def serve_once(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``serve`` expected to refuse at start: it must exit by itself."""
    return cli(
        "serve",
        "--root-dir",
        str(tmp_path / "root"),
        "--pod-manifest-path",
        str(tmp_path / "manifests"),
        "--socket",
        str(tmp_path / "s.sock"),
        *args,
    )


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path, trustme.CA]:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(
        b"".join(blob.bytes() for blob in issued.cert_chain_pems) + ca.cert_pem.bytes()
    )
    issued.private_key_pem.write_to_path(str(key))
    os.chmod(key, 0o600)
    return cert, key, ca


# -- refused at start -----------------------------------------------------------------


def authority_of(config: dict[str, Any], tmp_path: Path) -> tuple[str, ssl.SSLContext, Path]:
    """The kubeconfig's server URL, a context trusting its certificate, and that PEM file."""
    cluster = config["clusters"][0]["cluster"]
    pem = tmp_path / "ca.pem"
    pem.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    return str(cluster["server"]), ssl.create_default_context(cafile=str(pem)), pem


def test_without_tls_files_the_listener_serves_its_own_certificate(
    daemon: Daemon, tmp_path: Path
) -> None:
    # As the kubelet: no tlsCertFile, a self-signed pair under the root dir, HTTPS always,
    # on every interface too (the token never crosses the network in clear).
    daemon.start("--address", "0.0.0.0", "--port", "0").wait_ready()
    port = tcp_port(daemon)
    pki = daemon.root / "pki"
    assert mode(pki) == 0o700
    assert mode(pki / "minikubelet.key") == 0o600
    assert mode(pki / "minikubelet.crt") == 0o600
    with unix(daemon) as client:
        config = client.get("/kubeconfig").json()
    url, context, _ = authority_of(config, tmp_path)
    assert url == f"https://127.0.0.1:{port}"
    token = config["users"][0]["user"]["token"]
    with httpx.Client(
        base_url=url, verify=context, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert client.get(PODS).status_code == 200
    with (
        httpx.Client(base_url=f"https://localhost:{port}", verify=context) as by_name,
        httpx.Client(base_url=f"https://[::1]:{port}", verify=context) as by_v6,
    ):
        assert by_name.get("/healthz").text == "ok"  # the names are in the certificate
        with contextlib.suppress(httpx.ConnectError):  # (where ::1 is configured)
            assert by_v6.get("/healthz").text == "ok"
    with (
        pytest.raises(httpx.HTTPError),
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as plain,
    ):
        plain.get("/healthz")
    assert daemon.stop() == 0

    # A restart reuses the pair: a kubeconfig handed out before keeps working.
    certificate = (pki / "minikubelet.crt").read_bytes()
    daemon.start("--address", "0.0.0.0", "--port", "0").wait_ready()
    assert (pki / "minikubelet.crt").read_bytes() == certificate
    assert len(daemon.logs("tls.certificate_generated")) == 1
    with unix(daemon) as client:
        again = client.get("/kubeconfig").json()
    assert (
        again["clusters"][0]["cluster"]["certificate-authority-data"]
        == config["clusters"][0]["cluster"]["certificate-authority-data"]
    )
    assert daemon.stop() == 0


def test_anonymous_requests_are_refused_off_loopback_even_with_tls(
    tmp_path: Path, tls: tuple[Path, Path, trustme.CA]
) -> None:
    cert, key, _ = tls
    result = serve_once(
        tmp_path,
        *("--address", "0.0.0.0", "--port", "0", "--anonymous-auth"),
        *("--tls-cert-file", str(cert), "--tls-private-key-file", str(key)),
    )
    assert result.returncode == 2
    assert (
        "error: --anonymous-auth: Forbidden: anonymous requests cannot be allowed on the "
        'non-loopback address "0.0.0.0"'
    ) in result.stderr
    assert not (tmp_path / "root").exists()


def test_bad_tls_files_and_token_files_are_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "bad.crt").write_text("not a certificate\n")
    (tmp_path / "bad.key").write_text("not a key\n")
    result = serve_once(
        tmp_path,
        *("--port", "0", "--tls-cert-file", str(tmp_path / "bad.crt")),
        *("--tls-private-key-file", str(tmp_path / "bad.key")),
    )
    assert result.returncode == 2
    assert f"error: {tmp_path / 'bad.crt'}, {tmp_path / 'bad.key'}: not a certificate" in (
        result.stderr
    )
    result = serve_once(tmp_path, "--port", "0", "--tls-cert-file", str(tmp_path / "bad.crt"))
    assert result.returncode == 2
    assert "needs tlsPrivateKeyFile (--tls-private-key-file) too" in result.stderr

    (tmp_path / "empty").write_text("\n")
    result = serve_once(tmp_path, "--port", "0", "--token-file", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert f"error: {tmp_path / 'empty'}: not a token" in result.stderr


def test_run_refuses_the_same_way_and_runs_nothing(tmp_path: Path, short_tmp: Path) -> None:
    marker = tmp_path / "run.marker"
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(marker_pod("run", marker)))
    result = cli(
        "run",
        *("--root-dir", str(tmp_path / "root"), "--socket", str(short_tmp / "run.sock")),
        *("--address", "0.0.0.0", "--port", "0", "--anonymous-auth", str(manifest)),
    )
    assert result.returncode == 2
    assert "error: --anonymous-auth: Forbidden: anonymous requests cannot be allowed" in (
        result.stderr
    )
    assert not marker.exists()
    assert not (tmp_path / "root").exists()


# -- one daemon per root dir ----------------------------------------------------------


def test_a_second_daemon_on_the_same_root_dir_refuses_to_start(
    daemon: Daemon, tmp_path: Path
) -> None:
    daemon.start().wait_ready()
    assert daemon.process is not None
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    marker = tmp_path / "second.marker"
    (second_dir / "pod.json").write_text(json.dumps(marker_pod("second", marker)))
    with tempfile.TemporaryDirectory(prefix="mk") as short:
        result = cli(
            "serve",
            *("--root-dir", str(daemon.root), "--pod-manifest-path", str(second_dir)),
            *("--socket", f"{short}/second.sock"),
        )
    assert result.returncode == 1
    assert (
        f"error: {daemon.root}: the root dir is in use by minikubelet pid "
        f"{daemon.process.pid} (stop it, or choose another --root-dir)"
    ) in result.stderr
    assert not marker.exists()  # it exited before any pod of its own could start
    with unix(daemon) as client:  # the first one is unharmed
        assert client.get("/healthz").text == "ok"
    assert daemon.stop() == 0
    # Once the first has stopped, the lock is free again.
    daemon.start().wait_ready()
    assert daemon.stop() == 0


def test_run_works_beside_the_daemon_on_its_root_dir(
    daemon: Daemon, tmp_path: Path, short_tmp: Path
) -> None:
    daemon.start("--port", "0").wait_ready()
    token = (daemon.root / "api-token").read_text()
    marker = tmp_path / "beside.marker"
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(marker_pod("beside", marker)))
    result = cli(
        "run",
        *("--root-dir", str(daemon.root), "--socket", str(short_tmp / "run.sock")),
        *("--port", "0", str(manifest)),
    )
    assert result.returncode == 0, result.stderr
    assert marker.read_text() == "ran"
    assert (daemon.root / "api-token").read_text() == token  # run kept its token to itself
    assert daemon.stop() == 0


# -- modes ----------------------------------------------------------------------------


def test_the_root_dir_and_the_files_minikubelet_writes_are_owner_only(
    daemon: Daemon, tmp_path: Path
) -> None:
    previous = os.umask(0)  # the daemon inherits it: nothing may depend on the umask
    try:
        daemon.start("--port", "0").wait_ready()
    finally:
        os.umask(previous)
    with unix(daemon) as client:
        response = client.post(PODS, json=marker_pod("kept", tmp_path / "kept.marker"))
        assert response.status_code == 201, response.text
    saved = daemon.root / "pods-api" / "default_kept.json"
    wait_for(saved.exists, what=str(saved))
    assert mode(daemon.root) == 0o700
    assert mode(daemon.root / "api-token") == 0o600
    assert mode(daemon.root / "serve.lock") == 0o600
    assert mode(daemon.root / "pods-api") == 0o700
    assert mode(saved) == 0o600
    assert mode(daemon.socket) == 0o600
    assert daemon.stop() == 0


def test_an_existing_root_dir_open_to_others_gets_a_warning(daemon: Daemon) -> None:
    daemon.root.mkdir()
    os.chmod(daemon.root, 0o755)
    daemon.start().wait_ready()
    (warning,) = daemon.logs("root_dir.permissive")
    assert warning["level"] == "warning"
    assert warning["path"] == str(daemon.root)
    assert warning["mode"] == "0755"
    assert mode(daemon.root) == 0o755  # the operator's choice is left alone
    assert daemon.stop() == 0


# -- the token and the kubeconfig ------------------------------------------------------


def test_the_kubeconfig_command_hands_out_a_working_token(daemon: Daemon, tmp_path: Path) -> None:
    daemon.start().wait_ready()
    result = cli("kubeconfig", "--server", str(daemon.socket))
    assert result.returncode == 1
    assert result.stderr.startswith("error: this minikubelet has no TCP listener: start it")
    assert daemon.stop() == 0

    daemon.start("--port", "0").wait_ready()
    port = tcp_port(daemon)
    result = cli("kubeconfig", env={"MINIKUBELET_SERVER": str(daemon.socket)})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    config = yaml.safe_load(result.stdout)
    assert config["kind"] == "Config"
    assert config["current-context"] == "minikubelet"
    assert set(config["clusters"][0]["cluster"]) == {"server", "certificate-authority-data"}
    url, context, pem = authority_of(config, tmp_path)
    assert url == f"https://127.0.0.1:{port}"
    token = config["users"][0]["user"]["token"]
    assert (daemon.root / "api-token").read_text() == token + "\n"

    marker = tmp_path / "tcp.marker"
    with httpx.Client(base_url=url, timeout=10, verify=context) as client:
        refused = client.post(PODS, json=marker_pod("tcp", marker))
        assert refused.status_code == 401
        created = client.post(
            PODS, json=marker_pod("tcp", marker), headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 201, created.text
    wait_for(marker.exists, what="the pod created over TCP")

    # The client commands over TCP: the token and the certificate from the environment.
    trust = {"MINIKUBELET_CERTIFICATE_AUTHORITY": str(pem)}
    untrusted = cli("get", "pods", "--server", url, env={"MINIKUBELET_TOKEN": token})
    assert untrusted.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    without = cli("get", "pods", "--server", url, env=trust)
    assert without.returncode == 1
    assert "Unauthorized" in without.stderr
    listed = cli("get", "pods", "--server", url, env={"MINIKUBELET_TOKEN": token, **trust})
    assert listed.returncode == 0, listed.stderr
    assert "tcp" in listed.stdout
    over_tcp = cli("kubeconfig", "--server", url, env={"MINIKUBELET_TOKEN": token, **trust})
    assert over_tcp.returncode == 1
    assert "Error from server (Forbidden): forbidden: the kubeconfig is handed out only" in (
        over_tcp.stderr
    )

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl not installed: its part of this test is skipped")
    else:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(result.stdout)
        environ = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        # HTTPS: kubectl sends the token, so it reaches everything, not just /version.
        for path in ("/version", "/healthz", PODS):
            reached = subprocess.run(
                [kubectl, "--kubeconfig", str(kubeconfig), "get", "--raw", path],
                capture_output=True,
                text=True,
                timeout=60,
                env=environ,
                stdin=subprocess.DEVNULL,
            )
            assert reached.returncode == 0, reached.stderr
    assert daemon.stop() == 0


def test_a_token_file_replaces_the_generated_token(daemon: Daemon, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("operator-chosen-token-1234567890\n")
    os.chmod(token_file, 0o644)
    daemon.start("--port", "0", "--token-file", str(token_file)).wait_ready()
    (warning,) = daemon.logs("token_file.permissive")
    assert warning["mode"] == "0644"
    assert not (daemon.root / "api-token").exists()
    with unix(daemon) as client:
        config = client.get("/kubeconfig").json()
    assert config["users"][0]["user"] == {"token": "operator-chosen-token-1234567890"}
    headers = {"Authorization": "Bearer operator-chosen-token-1234567890"}
    url, context, _ = authority_of(config, tmp_path)
    assert url == f"https://127.0.0.1:{tcp_port(daemon)}"
    with httpx.Client(base_url=url, headers=headers, verify=context) as c:
        assert c.get(PODS).status_code == 200
    assert daemon.stop() == 0


def test_tls_on_every_interface_serves_https(
    daemon: Daemon, tmp_path: Path, tls: tuple[Path, Path, trustme.CA]
) -> None:
    ca = tls[2]  # the files are named by the config file, relative to it
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            apiVersion: kubelet.config.k8s.io/v1beta1
            kind: KubeletConfiguration
            address: 0.0.0.0
            port: 0
            tlsCertFile: tls.crt
            tlsPrivateKeyFile: tls.key
            authentication:
              anonymous:
                enabled: false
            """
        )
    )
    daemon.start("--config", str(config)).wait_ready()
    port = tcp_port(daemon)
    result = cli("kubeconfig", "--server", str(daemon.socket))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # HTTPS: no warning
    kubeconfig = yaml.safe_load(result.stdout)
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == f"https://127.0.0.1:{port}"
    token = kubeconfig["users"][0]["user"]["token"]
    context = ssl.create_default_context()
    ca.configure_trust(context)
    marker = tmp_path / "tls.marker"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=cluster["server"], verify=context, headers=headers) as client:
        assert client.post(PODS, json=marker_pod("tls", marker)).status_code == 201
    wait_for(marker.exists, what="the pod created over HTTPS")
    authority = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(authority))
    listed = cli(
        "get",
        "pods",
        "--server",
        cluster["server"],
        env={"MINIKUBELET_TOKEN": token, "MINIKUBELET_CERTIFICATE_AUTHORITY": str(authority)},
    )
    assert listed.returncode == 0, listed.stderr
    assert "tls" in listed.stdout
    assert daemon.stop() == 0


# -- another local user ---------------------------------------------------------------

NOBODY_CLIENT = """
import http.client, json, socket, ssl, sys
port, socket_path, token_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
result = {}
body = json.dumps(json.loads(sys.argv[4]))
# nobody has no way to the daemon's certificate: it does not verify it (and needs no
# secrecy); what it lacks is the token.
unverified = ssl._create_unverified_context()
connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=unverified)
connection.request("POST", "/api/v1/namespaces/default/pods", body=body,
                   headers={"Content-Type": "application/json"})
response = connection.getresponse()
result["tcp"] = [response.status, json.loads(response.read())["reason"]]
for name, attempt in (
    ("token", lambda: open(token_path).read()),
    ("socket", lambda: socket.socket(socket.AF_UNIX).connect(socket_path)),
):
    try:
        attempt()
        result[name] = "allowed"
    except PermissionError:
        result[name] = "denied"
print(json.dumps(result))
"""


def test_another_local_user_can_start_nothing(daemon: Daemon, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the daemon runs as root and the other user is nobody")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to run a process as nobody")
    daemon.start("--port", "0").wait_ready()
    marker = tmp_path / "nobody.marker"
    result = subprocess.run(
        [
            *("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
            *(SYSTEM_PYTHON, "-c", NOBODY_CLIENT, str(tcp_port(daemon)), str(daemon.socket)),
            *(str(daemon.root / "api-token"), json.dumps(marker_pod("nobody", marker))),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "tcp": [401, "Unauthorized"],
        "token": "denied",
        "socket": "denied",
    }
    with unix(daemon) as client:
        assert client.get(PODS).json()["items"] == []
    assert not marker.exists()
    assert daemon.stop(signal.SIGTERM) == 0
