"""``top pods``: CPU and memory from the kubelet Summary API, printed as kubectl top prints.

The input is ``GET /stats/summary``: ``pods[].podRef{name,namespace}``,
``pods[].containers[].{name, cpu.usageNanoCores, memory.workingSetBytes}``. As with
metrics-server, a pod's usage is the sum of its containers'. CPU shows in millicores rounded
up (``3m``), memory in whole mebibytes rounded down (``12Mi``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from minikubelet.api.types import JSONView
from minikubelet.cli.client.pods import table_writer

__all__ = ["Usage", "format_cpu", "format_memory", "pod_usages", "top_table"]


@dataclass(frozen=True)
class Usage:
    """One pod's (or one container's) usage: nanocores and working-set bytes."""

    namespace: str
    pod: str
    container: str
    nano_cores: int
    memory_bytes: int


def format_cpu(nano_cores: int) -> str:
    return f"{math.ceil(nano_cores / 1_000_000)}m"


def format_memory(memory_bytes: int) -> str:
    return f"{memory_bytes // (1024 * 1024)}Mi"


def _number(stats: object, key: str) -> int:
    if not isinstance(stats, Mapping):
        return 0
    value = stats.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def pod_usages(summary: JSONView) -> list[tuple[Usage, list[Usage]]]:
    """Each pod's total and its containers', sorted by namespace and name."""
    result = []
    for pod in summary.get("pods") or []:
        if not isinstance(pod, Mapping):
            continue
        ref = pod.get("podRef")
        if not isinstance(ref, Mapping):
            ref = {}
        namespace, name = str(ref.get("namespace") or "default"), str(ref.get("name") or "")
        containers = [
            Usage(
                namespace,
                name,
                str(container.get("name") or ""),
                _number(container.get("cpu"), "usageNanoCores"),
                _number(container.get("memory"), "workingSetBytes"),
            )
            for container in pod.get("containers") or []
            if isinstance(container, Mapping)
        ]
        if containers:
            total = Usage(
                namespace,
                name,
                "",
                sum(c.nano_cores for c in containers),
                sum(c.memory_bytes for c in containers),
            )
        else:
            total = Usage(
                namespace,
                name,
                "",
                _number(pod.get("cpu"), "usageNanoCores"),
                _number(pod.get("memory"), "workingSetBytes"),
            )
        result.append((total, containers))
    result.sort(key=lambda item: (item[0].namespace, item[0].pod))
    return result


def top_table(
    usages: list[tuple[Usage, list[Usage]]], *, containers: bool = False, namespaced: bool = False
) -> str:
    """``NAME CPU(cores) MEMORY(bytes)``, or ``POD NAME ...`` per container."""
    header = ["POD", "NAME"] if containers else ["NAME"]
    header += ["CPU(cores)", "MEMORY(bytes)"]
    if namespaced:
        header.insert(0, "NAMESPACE")
    lines = [header]
    for total, parts in usages:
        rows = parts if containers else [total]
        for usage in rows:
            cells = [usage.pod, usage.container] if containers else [usage.pod]
            cells += [format_cpu(usage.nano_cores), format_memory(usage.memory_bytes)]
            if namespaced:
                cells.insert(0, usage.namespace)
            lines.append(cells)
    return table_writer().format("".join("\t".join(cells) + "\n" for cells in lines))
