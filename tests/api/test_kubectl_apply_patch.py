"""kubectl's client-side apply computes its strategic merge patch from our OpenAPI document;
our SMP and the Pod update rule then give the apiserver's answer to it.

The test reads the patch kubectl sends from its ``-v=8`` log and checks it against the
patch functions directly (the daemon's answer to it, 422 for the env change, is checked in
``test_kubectl_commands.py``). Skipped, with the reason printed, without kubectl.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from minikubelet.api.pod_update import FORBIDDEN_UPDATE, validate_pod_update
from minikubelet.api.strategic import strategic_merge_patch
from tests.helpers.kubectl import Kubectl, find_kubectl, write_kubeconfig
from tests.serve.daemon import Daemon

pytestmark = [pytest.mark.e2e]

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: main
    image: python:3.12
    command: ["sleep", "300"]
    env:
    - name: A
      value: "1"
  - name: side
    image: busybox
    command: ["sleep", "300"]
"""


@pytest.fixture
def daemon(tmp_path: Path, short_tmp: Path) -> Iterator[Daemon]:
    running = Daemon(tmp_path, short_tmp)
    try:
        running.start("--port", "0").wait_ready()
        yield running
    finally:
        running.close()


def sent_patch(stderr: str) -> dict[str, Any]:
    """The body of the PATCH kubectl logged at -v=8."""
    for line in stderr.splitlines():
        if '"Request Body"' in line and "last-applied-configuration" in line:
            quoted = re.search(r'body="(.*)"\s*$', line)
            assert quoted is not None
            body: dict[str, Any] = json.loads(json.loads('"' + quoted.group(1) + '"'))
            return body
    raise AssertionError(f"no PATCH body in kubectl's log:\n{stderr}")


def test_client_side_apply_patch_from_our_openapi(daemon: Daemon, tmp_path: Path) -> None:
    binary = find_kubectl()
    if binary is None:
        pytest.skip("no kubectl binary on this machine")
    kubeconfig = write_kubeconfig(daemon.socket, tmp_path / "kubeconfig")
    kubectl = Kubectl(binary, kubeconfig, tmp_path / "home")
    manifest = tmp_path / "web.yaml"
    manifest.write_text(MANIFEST)
    code, out, err = kubectl.run("apply", "-f", str(manifest))
    assert code == 0, err
    assert out.strip() == "pod/web created"

    manifest.write_text(
        MANIFEST.replace("python:3.12", "python:3.13")
        .replace('value: "1"', 'value: "2"')
        .replace("app: web", "app: web2")
    )
    _, _, err = kubectl.run("apply", "-f", str(manifest), "-v=8")
    # The patch comes from the v3 document: no fallback to /openapi/v2, no warning.
    assert "/openapi/v3/api/v1?hash=" in err
    assert "/openapi/v2" not in err
    assert "error calculating patch from openapi v3 spec" not in err
    patch = sent_patch(err)
    patch["metadata"]["annotations"].pop("kubectl.kubernetes.io/last-applied-configuration")
    assert patch == {
        "metadata": {"annotations": {}, "labels": {"app": "web2"}},
        "spec": {
            "$setElementOrder/containers": [{"name": "main"}, {"name": "side"}],
            "containers": [
                {
                    "$setElementOrder/env": [{"name": "A"}],
                    "env": [{"name": "A", "value": "2"}],
                    "image": "python:3.13",
                    "name": "main",
                }
            ],
        },
    }

    # What the apiserver would answer: the env change is not allowed on a Pod.
    transport = httpx.HTTPTransport(uds=str(daemon.socket))
    with httpx.Client(transport=transport, base_url="http://minikubelet") as client:
        live = client.get("/api/v1/namespaces/default/pods/web").json()
    patched = strategic_merge_patch(live, patch, "Pod")
    assert patched["metadata"]["labels"] == {"app": "web2"}
    assert patched["spec"]["containers"][0]["image"] == "python:3.13"
    (error,) = validate_pod_update(patched, live)
    assert str(error).startswith(f"spec: Forbidden: {FORBIDDEN_UPDATE}\n")
    assert re.search(r'^- \t+Value: "1",$', error.detail, re.MULTILINE)
    assert re.search(r'^\+ \t+Value: "2",$', error.detail, re.MULTILINE)
