"""``top pods`` from the kubelet Summary API JSON."""

from __future__ import annotations

import pytest

from minikubelet.cli.client.top import format_cpu, format_memory, pod_usages, top_table

MI = 1024 * 1024

SUMMARY = {
    "node": {"nodeName": "localhost"},
    "pods": [
        {
            "podRef": {"name": "web", "namespace": "default", "uid": "u1"},
            "cpu": {"usageNanoCores": 5_000_000},
            "memory": {"workingSetBytes": 40 * MI},
            "containers": [
                {
                    "name": "web",
                    "cpu": {"usageNanoCores": 2_345_678},
                    "memory": {"workingSetBytes": 12 * MI + 345},
                },
                {
                    "name": "proxy",
                    "cpu": {"usageNanoCores": 1},
                    "memory": {"workingSetBytes": 3 * MI},
                },
            ],
        },
        {
            "podRef": {"name": "db", "namespace": "data", "uid": "u2"},
            "containers": [
                {"name": "postgres", "cpu": {}, "memory": {"workingSetBytes": 100 * MI}}
            ],
        },
        {
            "podRef": {"name": "idle", "namespace": "default", "uid": "u3"},
            "cpu": {"usageNanoCores": 1_000_000},
            "memory": {"workingSetBytes": MI},
            "containers": [],
        },
    ],
}


@pytest.mark.parametrize(
    ("nano", "text"), [(0, "0m"), (1, "1m"), (2_345_678, "3m"), (1_000_000_000, "1000m")]
)
def test_cpu_is_millicores_rounded_up(nano: int, text: str) -> None:
    assert format_cpu(nano) == text


@pytest.mark.parametrize(("size", "text"), [(0, "0Mi"), (MI - 1, "0Mi"), (12 * MI + 345, "12Mi")])
def test_memory_is_mebibytes_rounded_down(size: int, text: str) -> None:
    assert format_memory(size) == text


def test_pods_sum_their_containers() -> None:
    usages = pod_usages(SUMMARY)
    assert [(total.namespace, total.pod) for total, _ in usages] == [
        ("data", "db"),
        ("default", "idle"),
        ("default", "web"),
    ]
    web_total, web_containers = usages[2]
    assert web_total.nano_cores == 2_345_679
    assert [c.container for c in web_containers] == ["web", "proxy"]
    idle_total, _ = usages[1]
    assert (idle_total.nano_cores, idle_total.memory_bytes) == (1_000_000, MI)


def test_table() -> None:
    usages = [u for u in pod_usages(SUMMARY) if u[0].namespace == "default"]
    assert top_table(usages) == (
        "NAME   CPU(cores)   MEMORY(bytes)\nidle   1m           1Mi\nweb    3m           15Mi\n"
    )


def test_table_per_container_in_all_namespaces() -> None:
    assert top_table(pod_usages(SUMMARY), containers=True, namespaced=True) == (
        "NAMESPACE   POD   NAME       CPU(cores)   MEMORY(bytes)\n"
        "data        db    postgres   0m           100Mi\n"
        "default     web   web        3m           12Mi\n"
        "default     web   proxy      1m           3Mi\n"
    )
