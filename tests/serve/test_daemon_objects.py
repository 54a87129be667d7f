"""ConfigMaps and Secrets in a real daemon: remembered across restarts, and a Secret's value
never in the daemon's log, its events, its trace, ``describe`` or an error message."""

from __future__ import annotations

import base64
import json
import stat
import subprocess  # noqa: TID251 - the test runs the client commands as a user would
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON
from tests.serve.daemon import REPO, Daemon, wait_for

pytestmark = [pytest.mark.e2e]

CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
PODS = "/api/v1/namespaces/default/pods"

# Writes len(argv[2]) (or the variable named by argv[3]) to argv[1], then waits for SIGTERM.
CODE = (
    "import os, sys, time\n"
    "value = sys.argv[2] if len(sys.argv) < 4 else os.environ.get(sys.argv[3], '')\n"
    "open(sys.argv[1], 'w').write(str(len(value)))\n"
    "time.sleep(60)\n"
)


@pytest.fixture
def daemon(tmp_path: Path, short_tmp: Path) -> Iterator[Daemon]:
    running = Daemon(tmp_path, short_tmp)
    yield running
    running.close()


def reader_pod(
    name: str, fact: Path, *, env: list[dict[str, Any]], args: list[str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "containers": [
                {"name": "app", "command": [PYTHON, "-c", CODE, str(fact), *args], "env": env}
            ],
        },
    }


def key_ref(name: str, kind: str, obj: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {kind: {"name": obj, "key": key}}}


def test_api_objects_are_remembered_across_a_restart(daemon: Daemon) -> None:
    daemon.start().wait_ready()
    fact = daemon.facts / "level"
    with daemon.client() as client:
        created = client.post(
            CMS,
            json={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings"},
                "data": {"LEVEL": "seven"},
            },
        )
        assert created.status_code == 201, created.text
        secret = client.post(
            SECRETS,
            json={
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "creds"},
                "stringData": {"k": "v"},
            },
        )
        assert secret.status_code == 201, secret.text
        pod = reader_pod(
            "reader",
            fact,
            env=[key_ref("LEVEL", "configMapKeyRef", "settings", "LEVEL")],
            args=["", "LEVEL"],
        )
        assert client.post(PODS, json=pod).status_code == 201
        assert daemon.wait_fact("level") == "5"
        before = created.json()["metadata"]
    saved = daemon.root / "configmaps-api" / "default_settings.json"
    assert json.loads(saved.read_text())["data"] == {"LEVEL": "seven"}
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert (
        stat.S_IMODE((daemon.root / "secrets-api" / "default_creds.json").stat().st_mode) == 0o600
    )
    assert daemon.stop() == 0
    fact.unlink()

    daemon.start().wait_ready()
    with daemon.client() as client:
        again = client.get(f"{CMS}/settings").json()["metadata"]
        assert again["uid"] == before["uid"]
        assert again["creationTimestamp"] == before["creationTimestamp"]
        assert int(again["resourceVersion"]) > int(before["resourceVersion"])  # never back
        assert client.get(f"{SECRETS}/creds").json()["data"] == {
            "k": base64.b64encode(b"v").decode()
        }
        # The restored pod found its ConfigMap on its first start.
        assert daemon.wait_fact("level") == "5"
        assert not daemon.logs("container.config_failed")
        assert client.delete(f"{CMS}/settings").status_code == 200
        wait_for(lambda: not saved.exists(), what="the saved ConfigMap to go")
    assert daemon.stop() == 0

    daemon.start().wait_ready()  # deleted for good
    with daemon.client() as client:
        assert client.get(f"{CMS}/settings").status_code == 404
        assert client.get(f"{SECRETS}/creds").status_code == 200
    assert daemon.stop() == 0


VALUE = "Sup3r-S3cret-Valu3-8d1f"


def test_a_secret_value_never_leaks(daemon: Daemon, tmp_path: Path) -> None:
    encoded = base64.b64encode(VALUE.encode()).decode()
    leaks = (VALUE, encoded)
    daemon.start("--log-level", "debug").wait_ready()
    with daemon.client() as client:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "vault"},
            "stringData": {"token": VALUE},
        }
        assert client.post(SECRETS, json=body).status_code == 201
        # A container that has the value in its environment and, through $(TOKEN), its argv.
        pod = reader_pod(
            "leaky",
            daemon.facts / "leaky",
            env=[
                key_ref("TOKEN", "secretKeyRef", "vault", "token"),
                {"name": "URL", "value": "x://$(TOKEN)@h"},
            ],
            args=["$(URL)"],
        )
        pod["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "vault"}, "prefix": "V_"}]
        assert client.post(PODS, json=pod).status_code == 201
        assert daemon.wait_fact("leaky") == str(len(f"x://{VALUE}@h"))  # it did get the value
        # One that cannot start: the error names the key, not the value.
        broken = reader_pod(
            "broken",
            daemon.facts / "broken",
            env=[key_ref("T", "secretKeyRef", "vault", "absent")],
            args=["x"],
        )
        assert client.post(PODS, json=broken).status_code == 201
        wait_for(lambda: daemon.logs("container.config_failed"), what="the config error")
        # A restart: Killing, the stop, a new spawn in the trace.
        assert client.post(f"{PODS}/leaky/restart", json={"container": "app"}).status_code in (
            200,
            201,
            202,
        )
        wait_for(
            lambda: (
                client.get(f"{PODS}/leaky").json()["status"]["containerStatuses"][0]["restartCount"]
                >= 1
            ),
            what="the restart",
        )
        # Requests whose errors could echo a value.
        bad = {**body, "metadata": {"name": "bad"}, "stringData": None, "data": {"t": 12345678}}
        refused = client.post(SECRETS, json=bad)
        assert refused.status_code == 422
        assert "12345678" not in refused.text
        changed = {**body, "stringData": {"token": VALUE, "other": VALUE}, "type": "example.com/x"}
        assert client.put(f"{SECRETS}/vault", json=changed).status_code == 422

        events = client.get("/api/v1/events").text
        trace = client.get(f"{PODS}/leaky/trace").text
        pod_json = client.get(f"{PODS}/leaky").text
        assert "CreateContainerConfigError" in client.get(f"{PODS}/broken").text
    described = subprocess.run(
        [
            sys.executable,
            "-m",
            "minikubelet",
            "describe",
            "pod",
            "leaky",
            "--server",
            str(daemon.socket),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert described.returncode == 0, described.stderr
    assert "<set to the key 'token' in secret 'vault'>" in described.stdout
    described_secret = subprocess.run(
        [
            sys.executable,
            "-m",
            "minikubelet",
            "describe",
            "secret",
            "vault",
            "--server",
            str(daemon.socket),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert described_secret.returncode == 0, described_secret.stderr
    assert f"token:  {len(VALUE)} bytes" in described_secret.stdout
    assert daemon.stop() == 0

    log = daemon.log_text()
    assert "container.started" in log
    assert "$(URL)" in log  # the argv as shown: the reference, not its value
    for place, text in {
        "daemon log": log,
        "events": events,
        "trace": trace,
        "pod": pod_json,
        "describe pod": described.stdout + described.stderr,
        "describe secret": described_secret.stdout + described_secret.stderr,
    }.items():
        for leak in leaks:
            assert leak not in text, f"the secret value is in the {place}"
