"""The API says which containment is in force: the pod trace (what describe prints), the
pod's qosClass, and warnings on create for the limits this containment does not enforce."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.containment import ContainmentMode
from minikubelet.runtime.containment import subtree_for
from minikubelet.runtime.local import LocalRuntime
from minikubelet.settings import Settings
from tests.api.conftest import Server
from tests.conftest import CHILD, PYTHON

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture(params=["auto", "none"])
async def kubelet(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Kubelet]:
    runtime = LocalRuntime(
        settings.log_rotation,
        containment=request.param,
        cgroup_subtree=subtree_for(settings.root_dir),
    )
    async with Kubelet(settings, runtime=runtime) as running:
        yield running


def limited(name: str) -> dict[str, Any]:
    resources = {"limits": {"cpu": "250m", "memory": "64Mi"}}
    container = {"name": "app", "command": [PYTHON, CHILD, "--forever"], "resources": resources}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
    }


async def test_the_trace_says_which_containment_is_in_force(server: Server) -> None:
    response = await server.client.post(PODS, json=limited("traced"))
    assert response.status_code == 201, response.text
    assert response.json()["status"]["qosClass"] == "Guaranteed"  # limits: requests = limits
    trace = await server.json(f"{PODS}/traced/trace")
    containment = server.kubelet.containment
    assert trace["containment"]["mode"] == containment.mode.value
    assert trace["containment"]["reason"] == containment.reason
    assert trace["containment"]["enforcesMemoryLimits"] is containment.enforces_memory


async def test_create_warns_of_the_limits_that_are_not_enforced(server: Server) -> None:
    response = await server.client.post(PODS, json=limited("warned"))
    assert response.status_code == 201, response.text
    warnings = [w for w in response.headers.get_list("warning") if ".resources.limits." in w]
    containment = server.kubelet.containment
    if containment.mode is ContainmentMode.NONE:
        assert len(warnings) == 2, warnings
        cpu, memory = sorted(warnings)
        assert "spec.containers[0].resources.limits.cpu: not enforced: no cgroup here" in cpu
        assert "limits.memory: enforced by sampling the container's memory" in memory
    elif containment.enforces_cpu and containment.enforces_memory:
        assert warnings == []
