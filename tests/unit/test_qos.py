"""QoS class and cgroup values from resources, as Kubernetes computes them (tables)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from minikubelet.logic.qos import (
    CgroupResources,
    QOSClass,
    container_resources,
    cpu_weight,
    cpu_weight_linear,
    milli_cpu_to_quota,
    milli_cpu_to_shares,
    pod_qos_class,
)
from minikubelet.manifest import parse_quantity, pod_from_dict
from minikubelet.model.spec import Container, PodSpec, ResourceRequirements, Source

Resources = Mapping[str, Mapping[str, str]]


def container(name: str, resources: Resources | None = None) -> dict[str, object]:
    body: dict[str, object] = {"name": name, "command": ["true"]}
    if resources is not None:
        body["resources"] = resources
    return body


def spec(*containers: dict[str, object], init: tuple[dict[str, object], ...] = ()) -> PodSpec:
    """Through the manifest parser, so requests default to limits as the API server does."""
    body: dict[str, object] = {"containers": list(containers)}
    if init:
        body["initContainers"] = list(init)
    document = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": body}
    pod, _ = pod_from_dict(document, Source(path=None))
    return pod.spec


GUARANTEED = {"limits": {"cpu": "100m", "memory": "100Mi"}}
BURSTABLE = {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"memory": "200Mi"}}


@pytest.mark.parametrize(
    ("pod_spec", "expected"),
    [
        (spec(container("a")), QOSClass.BEST_EFFORT),
        (spec(container("a"), container("b")), QOSClass.BEST_EFFORT),
        # limits only: requests default to them, so they are equal
        (spec(container("a", GUARANTEED)), QOSClass.GUARANTEED),
        (
            spec(container("a", {"requests": {"cpu": "50m", "memory": "100Mi"}, **GUARANTEED})),
            QOSClass.BURSTABLE,
        ),
        (
            spec(container("a", {"requests": {"cpu": "100m", "memory": "100Mi"}, **GUARANTEED})),
            QOSClass.GUARANTEED,
        ),
        (spec(container("a", GUARANTEED), container("b", GUARANTEED)), QOSClass.GUARANTEED),
        # one container without limits spoils Guaranteed for the pod
        (spec(container("a", GUARANTEED), container("b")), QOSClass.BURSTABLE),
        (spec(container("a", BURSTABLE)), QOSClass.BURSTABLE),
        (spec(container("a", {"requests": {"cpu": "100m"}})), QOSClass.BURSTABLE),
        # a cpu limit alone is not enough: Guaranteed needs both cpu and memory limits
        (spec(container("a", {"limits": {"cpu": "1"}})), QOSClass.BURSTABLE),
        (spec(container("a", {"limits": {"memory": "1Gi"}})), QOSClass.BURSTABLE),
        # init containers count like the others
        (spec(container("a", GUARANTEED), init=(container("i"),)), QOSClass.BURSTABLE),
        (spec(container("a", GUARANTEED), init=(container("i", GUARANTEED),)), QOSClass.GUARANTEED),
        (spec(container("a"), init=(container("i", BURSTABLE),)), QOSClass.BURSTABLE),
        # zero quantities are ignored
        (spec(container("a", {"limits": {"cpu": "0", "memory": "0"}})), QOSClass.BEST_EFFORT),
        (
            spec(container("a", {"limits": {"cpu": "0", "memory": "100Mi"}})),
            QOSClass.BURSTABLE,
        ),
        # the sums must match, not each container: 100m+300m requests vs 200m+200m limits
        (
            spec(
                container(
                    "a",
                    {
                        "requests": {"cpu": "100m", "memory": "1Mi"},
                        "limits": {"cpu": "200m", "memory": "1Mi"},
                    },
                ),
                container(
                    "b",
                    {
                        "requests": {"cpu": "200m", "memory": "1Mi"},
                        "limits": {"cpu": "200m", "memory": "1Mi"},
                    },
                ),
            ),
            QOSClass.BURSTABLE,
        ),
        # quantities compare by value, whatever their spelling
        (
            spec(
                container(
                    "a",
                    {
                        "requests": {"cpu": "0.5", "memory": "1024Ki"},
                        "limits": {"cpu": "500m", "memory": "1Mi"},
                    },
                )
            ),
            QOSClass.GUARANTEED,
        ),
    ],
)
def test_pod_qos_class(pod_spec: PodSpec, expected: QOSClass) -> None:
    assert pod_qos_class(pod_spec) is expected


def test_resources_other_than_cpu_and_memory_do_not_count() -> None:
    extended = ResourceRequirements(
        limits={"ephemeral-storage": parse_quantity("1Gi"), "example.com/gpu": parse_quantity(1)},
        requests={"ephemeral-storage": parse_quantity("1Gi")},
    )
    assert pod_qos_class(PodSpec(containers=(Container("a", ("true",), resources=extended),))) is (
        QOSClass.BEST_EFFORT
    )


@pytest.mark.parametrize(
    ("milli", "shares"),
    [
        (0, 2),
        (1, 2),
        (2, 2),
        (3, 3),
        (100, 102),
        (250, 256),
        (500, 512),
        (1000, 1024),
        (1500, 1536),
        (256_000, 262144),
        (300_000, 262144),
    ],
)
def test_milli_cpu_to_shares(milli: int, shares: int) -> None:
    assert milli_cpu_to_shares(milli) == shares


@pytest.mark.parametrize(
    ("milli", "period", "quota"),
    [
        (0, 100_000, 0),
        (5, 100_000, 1000),
        (9, 100_000, 1000),
        (10, 100_000, 1000),
        (200, 100_000, 20_000),
        (500, 100_000, 50_000),
        (1000, 100_000, 100_000),
        (1500, 100_000, 150_000),
        (1500, 10_000, 15_000),
        (50, 10_000, 1000),
    ],
)
def test_milli_cpu_to_quota(milli: int, period: int, quota: int) -> None:
    assert milli_cpu_to_quota(milli, period) == quota


@pytest.mark.parametrize(
    ("shares", "weight"),
    # the three points the quadratic was fitted to, and runc#4896's 2000 -> 170
    [(0, 1), (2, 1), (1024, 100), (262144, 10000), (300_000, 10000), (2000, 170)],
)
def test_cpu_weight_as_runc_converts(shares: int, weight: int) -> None:
    assert cpu_weight(shares) == weight


def test_cpu_weight_grows_with_shares() -> None:
    weights = [cpu_weight(shares) for shares in range(2, 262145, 97)]
    assert weights == sorted(weights)
    assert all(1 <= weight <= 10000 for weight in weights)


@pytest.mark.parametrize(
    ("shares", "weight"),
    # the linear form: 1024 -> 39 (the old default mismatch), 2000 -> 77 (runc#4896);
    # 100m -> 102 shares -> 4 (kubernetes/website#54835)
    [(2, 1), (102, 4), (1024, 39), (2000, 77), (262144, 10000)],
)
def test_cpu_weight_linear(shares: int, weight: int) -> None:
    assert cpu_weight_linear(shares) == weight


def resources(limits: Mapping[str, str], requests: Mapping[str, str] | None = None) -> Container:
    only = spec(
        container(
            "a",
            {"limits": dict(limits), **({"requests": dict(requests)} if requests else {})},
        )
    )
    return only.containers[0]


@pytest.mark.parametrize(
    ("limits", "requests", "expected"),
    [
        ({}, None, CgroupResources(cpu_shares=2)),
        (
            {"cpu": "500m", "memory": "64Mi"},
            None,
            CgroupResources(cpu_shares=512, cpu_quota_us=50_000, memory_limit_bytes=64 * 2**20),
        ),
        ({"cpu": "1"}, {"cpu": "250m"}, CgroupResources(cpu_shares=256, cpu_quota_us=100_000)),
        ({"cpu": "1m"}, None, CgroupResources(cpu_shares=2, cpu_quota_us=1000)),
        ({"memory": "1.5Gi"}, None, CgroupResources(memory_limit_bytes=1_610_612_736)),
        # a memory quantity with a fraction of a byte rounds up, as Value() does
        ({"memory": "1500m"}, None, CgroupResources(memory_limit_bytes=2)),
        ({"memory": "100Mi"}, {"cpu": "1.5"}, CgroupResources(1536, None, 100_000, 100 * 2**20)),
    ],
)
def test_container_resources(
    limits: Mapping[str, str], requests: Mapping[str, str] | None, expected: CgroupResources
) -> None:
    assert container_resources(resources(limits, requests)) == expected


def test_a_cpu_limit_without_a_request_sets_the_shares_from_the_limit() -> None:
    # The API server defaults the request; the kubelet repeats it for objects that predate
    # the default. A model built without the parser has no request at all.
    bare = Container(
        "a", ("true",), resources=ResourceRequirements(limits={"cpu": parse_quantity("2")})
    )
    assert container_resources(bare) == CgroupResources(cpu_shares=2048, cpu_quota_us=200_000)


def test_cgroup_v2_values() -> None:
    limited = CgroupResources(cpu_shares=512, cpu_quota_us=50_000)
    assert limited.cpu_max == "50000 100000"
    assert limited.cpu_weight == cpu_weight(512)
    assert CgroupResources().cpu_max == "max 100000"
