"""``pod.finished`` says what a pod ended as, never "Running" once its containers are gone.

A deleted static pod keeps the kubelet's phase (Running under restartPolicy Always:
``getPhase`` leaves static pods out of the terminal phases, kubernetes#116484), so its log
line carries no ending phase but that API phase, named as such; an API pod that was
deleted ends Failed or Succeeded.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest
import structlog.testing

from minikubelet.kubelet import Kubelet
from minikubelet.manifest import load_text
from minikubelet.model.status import PodPhase

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  terminationGracePeriodSeconds: 2
  containers: [{name: c, image: local, command: [sleep, "30"]}]
"""


async def finished_line(
    kubelet: Kubelet, name: str, *, is_static: bool
) -> MutableMapping[str, Any]:
    (pod,) = load_text(POD.replace("NAME", name), None).pods
    with structlog.testing.capture_logs() as logs:
        await kubelet.add_pod(pod, is_static=is_static)

        def running() -> bool:
            snapshot = kubelet.snapshot("default", name)
            return snapshot is not None and snapshot.status.phase is PodPhase.RUNNING

        with anyio.fail_after(10):
            while not running():  # noqa: ASYNC110 - the kubelet's state
                await anyio.sleep(0.01)
        kubelet.delete_pod("default", name)
        with anyio.fail_after(10):
            while kubelet.snapshot("default", name) is not None:  # noqa: ASYNC110 - the same
                await anyio.sleep(0.01)
    (line,) = [line for line in logs if line["event"] == "pod.finished"]
    return line


async def test_a_deleted_static_pod_is_not_logged_as_running(kubelet: Kubelet) -> None:
    line = await finished_line(kubelet, "static", is_static=True)
    assert line["phase"] is None
    assert line["api_phase"] == "Running"


async def test_a_deleted_api_pod_ends_in_a_terminal_phase(kubelet: Kubelet) -> None:
    line = await finished_line(kubelet, "api", is_static=False)
    assert line["phase"] in ("Failed", "Succeeded")
    assert line["api_phase"] is None
