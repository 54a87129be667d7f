"""Which limits the warnings name: those the containment in force does not enforce (a table)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from minikubelet.api.serialize import pod_json
from minikubelet.manifest import pod_from_dict
from minikubelet.manifest.capabilities import limit_warnings, unimplemented_warnings
from minikubelet.model.containment import ContainmentInfo, ContainmentMode
from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.spec import Pod, Source
from minikubelet.model.status import PodPhase, PodStatus

V1 = ContainmentInfo(ContainmentMode.CGROUP_V1, "v1", enforces_memory=True, enforces_cpu=True)
V2_BARE = ContainmentInfo(ContainmentMode.CGROUP_V2, "v2 without controllers")
V1_NO_CPU = ContainmentInfo(ContainmentMode.CGROUP_V1, "no cpu hierarchy", enforces_memory=True)
NONE = ContainmentInfo(ContainmentMode.NONE, "read-only")
FAKE = ContainmentInfo(ContainmentMode.FAKE, "scripted")

SAMPLED = (
    "enforced by sampling the container's memory every 0.1-1 s and killing it when over "
    "(OOMKilled), not by the kernel: no memory cgroup here ({})"
)
CPU = "not enforced: no cgroup here ({})"


def pod(**resources: dict[str, str]) -> Pod:
    container = {"name": "app", "command": ["true"], "resources": resources}
    init = {"name": "setup", "command": ["true"], "resources": {"limits": {"memory": "8Mi"}}}
    document = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [container], "initContainers": [init]},
    }
    parsed, _ = pod_from_dict(document, Source(path=None))
    return parsed


LIMITED = pod(limits={"cpu": "500m", "memory": "64Mi"})


@pytest.mark.parametrize(
    ("containment", "expected"),
    [
        (V1, []),
        (FAKE, []),
        (V1_NO_CPU, [("spec.containers[0].resources.limits.cpu", CPU.format("cgroup-v1"))]),
        (
            NONE,
            [
                ("spec.containers[0].resources.limits.cpu", CPU.format("none")),
                ("spec.containers[0].resources.limits.memory", SAMPLED.format("none")),
                ("spec.initContainers[0].resources.limits.memory", SAMPLED.format("none")),
            ],
        ),
        (
            V2_BARE,
            [
                ("spec.containers[0].resources.limits.cpu", CPU.format("cgroup-v2")),
                ("spec.containers[0].resources.limits.memory", SAMPLED.format("cgroup-v2")),
                ("spec.initContainers[0].resources.limits.memory", SAMPLED.format("cgroup-v2")),
            ],
        ),
    ],
)
def test_only_what_the_containment_does_not_enforce_is_named(
    containment: ContainmentInfo, expected: list[tuple[str, str]]
) -> None:
    found = [(w.field_path, w.message) for w in limit_warnings(LIMITED, containment)]
    assert found == expected
    assert [(w.field_path, w.message) for w in unimplemented_warnings(LIMITED, containment)] == (
        expected
    )


def test_nothing_is_said_about_limits_before_the_mode_is_known() -> None:
    assert unimplemented_warnings(LIMITED) == []


def test_requests_alone_are_never_named() -> None:
    warnings = limit_warnings(pod(requests={"cpu": "100m", "memory": "1Mi"}), NONE)
    assert [w.field_path for w in warnings] == ["spec.initContainers[0].resources.limits.memory"]


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "Burstable"),  # the init container's memory limit makes it Burstable
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Burstable"),
    ],
)
def test_the_api_shows_the_computed_qos_class(
    resources: dict[str, dict[str, str]], qos: str
) -> None:
    snapshot = _snapshot(pod(**resources))
    assert pod_json(snapshot)["status"]["qosClass"] == qos


def test_a_pod_without_resources_is_best_effort() -> None:
    document = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "command": ["true"]}]},
    }
    parsed, _ = pod_from_dict(document, Source(path=None))
    assert pod_json(_snapshot(parsed))["status"]["qosClass"] == "BestEffort"


def test_equal_requests_and_limits_everywhere_are_guaranteed() -> None:
    both = {"cpu": "1", "memory": "1Gi"}
    document = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "command": ["true"], "resources": {"limits": both}}]},
    }
    parsed, _ = pod_from_dict(document, Source(path=None))
    assert pod_json(_snapshot(parsed))["status"]["qosClass"] == "Guaranteed"


def _snapshot(parsed: Pod) -> PodSnapshot:
    return PodSnapshot(
        pod=parsed,
        uid="u",
        is_static=False,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=PodStatus(phase=PodPhase.PENDING),
        records={},
        log_dir=Path("/nonexistent"),
    )
