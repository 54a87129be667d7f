"""The real kubectl against a real daemon: discovery, OpenAPI validation, explain, selectors.

Skipped, with the reason printed (``-ra``), where no kubectl binary exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.kubectl import Kubectl, find_kubectl, kubectl_versions, write_kubeconfig
from tests.serve.daemon import Daemon

pytestmark = [pytest.mark.e2e]

POD_YAML = b"""\
apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  containers:
  - name: main
    image: python:3.12
    command: ["sleep", "100"]
"""


@pytest.fixture
def server(tmp_path: Path, short_tmp: Path) -> Iterator[Path]:
    """A ``minikubelet serve`` daemon with a TCP listener: its kubeconfig."""
    daemon = Daemon(tmp_path, short_tmp)
    try:
        daemon.start("--port", "0").wait_ready()
        yield write_kubeconfig(daemon.socket, tmp_path / "kubeconfig")
    finally:
        daemon.close()


def kubectl(server: Path, home: Path, minor: int | None = None) -> Kubectl:
    binary = find_kubectl(minor)
    if binary is None:
        pytest.skip(f"no kubectl{'' if minor is None else f'.1.{minor}'} binary on this machine")
    return Kubectl(binary, server, home / "home")


@pytest.mark.parametrize("minor", kubectl_versions() or [None])
def test_api_resources_by_aggregated_discovery(
    server: Path, tmp_path: Path, minor: int | None
) -> None:
    # 1.27-1.29 ask for v2beta1 only, 1.30+ for v2 first: both must find every resource
    # in the two aggregated documents, without falling back to per-group requests.
    client = kubectl(server, tmp_path, minor)
    code, out, err = client.run("api-resources", "-v=6")
    assert code == 0, err
    rows = {tuple(line.split()[:1] + line.split()[-3:]) for line in out.splitlines()[1:]}
    assert ("pods", "v1", "true", "Pod") in rows
    assert ("events", "v1", "true", "Event") in rows
    assert ("configmaps", "v1", "true", "ConfigMap") in rows
    assert ("secrets", "v1", "true", "Secret") in rows
    assert ("pods", "metrics.k8s.io/v1beta1", "true", "PodMetrics") in rows
    assert "/api/v1?" not in err  # no legacy per-group discovery
    assert "po " in out.splitlines()[[line.split()[0] for line in out.splitlines()].index("pods")]


def test_dispatcher_picks_a_client_and_discovers(server: Path, tmp_path: Path) -> None:
    client = kubectl(server, tmp_path)
    code, out, err = client.run("api-versions")
    assert code == 0, err
    assert out.split() == ["metrics.k8s.io/v1beta1", "v1"]


def test_get_raw_discovery(server: Path, tmp_path: Path) -> None:
    client = kubectl(server, tmp_path)
    code, out, err = client.run("get", "--raw", "/apis/metrics.k8s.io/v1beta1")
    assert code == 0, err
    assert '"kind":"APIResourceList"' in out


def test_create_validates_with_openapi_v3(server: Path, tmp_path: Path) -> None:
    # The default --validate=strict reads /openapi/v3 and /openapi/v3/api/v1, finds the Pod
    # PATCH operation declaring fieldValidation, and leaves validation to the server: no
    # /openapi/v2 request (which would 404 and fail the command).
    client = kubectl(server, tmp_path)
    manifest = tmp_path / "pod.yaml"
    manifest.write_bytes(POD_YAML)
    code, out, err = client.run("create", "-f", str(manifest), "--dry-run=client", "-v=6")
    assert code == 0, err
    assert out.strip() == "pod/hello created (dry run)"
    assert "/openapi/v3/api/v1?hash=" in err
    assert "/openapi/v2" not in err


def test_create_with_strict_validation_reaches_the_server(server: Path, tmp_path: Path) -> None:
    client = kubectl(server, tmp_path)
    manifest = tmp_path / "pod.yaml"
    manifest.write_bytes(POD_YAML.replace(b"command:", b"comand:"))
    code, _, err = client.run("create", "-f", str(manifest))
    assert code == 1
    assert "Error from server (BadRequest)" in err
    assert 'unknown field "spec.containers[0].comand"' in err


def test_explain_reads_the_openapi_document(server: Path, tmp_path: Path) -> None:
    client = kubectl(server, tmp_path)
    code, out, err = client.run("explain", "pod.spec.containers.ports")
    assert code == 0, err
    assert "FIELD: ports <[]ContainerPort>" in out
    assert "containerPort\t<integer> -required-" in out
    code, out, err = client.run("explain", "pods.spec.containers.livenessProbe.httpGet.port")
    assert code == 0, err
    assert "FIELD: port <IntOrString>" in out
    code, out, err = client.run("explain", "pod.spec.containers.resources.limits")
    assert code == 0, err
    assert "FIELD: limits <map[string]Quantity>" in out


@pytest.mark.parametrize(
    ("flag", "selector", "message"),
    [
        (
            "-l",
            "a===b",
            # kubectl prefixes the server's message with what it was listing
            'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match '
            'label selector "a===b", field selector "": unable to parse requirement: '
            "found '=', expected: identifier",
        ),
        (
            "--field-selector",
            "spec.bogus=1",
            'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match '
            'label selector "", field selector "spec.bogus=1": field label not supported: '
            "spec.bogus",
        ),
    ],
)
def test_bad_selectors_are_the_apiservers_errors(
    server: Path, tmp_path: Path, flag: str, selector: str, message: str
) -> None:
    client = kubectl(server, tmp_path)
    code, _, err = client.run("get", "pods", flag, selector)
    assert code == 1
    assert err.strip() == message
