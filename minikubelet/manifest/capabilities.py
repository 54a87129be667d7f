"""Manifest features the engine does not act on, and what to tell users.

The parser accepts the whole Pod schema that minikubelet will honour. What the engine does
with ``resources.limits`` depends on the containment in force (``model/containment.py``),
which is known only once the runtime has started: a cgroup per container enforces them
through the kernel; without cgroups ``limits.memory`` is enforced by sampling the process
tree and ``limits.cpu`` not at all. So the warnings about limits need that record; without
it (a manifest loaded before any runtime started) nothing is said about them, and the
kubelet says it when the pod is admitted.
"""

from __future__ import annotations

from minikubelet.errors import ManifestWarning
from minikubelet.model.containment import ContainmentInfo, ContainmentMode
from minikubelet.model.spec import Pod

__all__ = ["limit_warnings", "unimplemented_warnings"]

_CPU_NOT_ENFORCED = "not enforced: no cgroup here ({reason})"
_MEMORY_SAMPLED = (
    "enforced by sampling the container's memory every 0.1-1 s and killing it when over "
    "(OOMKilled), not by the kernel: no memory cgroup here ({reason})"
)


def unimplemented_warnings(
    pod: Pod, containment: ContainmentInfo | None = None
) -> list[ManifestWarning]:
    """A warning for each field of ``pod`` the engine does not act on (as ``containment``
    allows; None: not known yet, so nothing about limits)."""
    return limit_warnings(pod, containment) if containment is not None else []


def limit_warnings(pod: Pod, containment: ContainmentInfo) -> list[ManifestWarning]:
    """A warning for each limit of ``pod`` that ``containment`` does not enforce in the kernel."""
    if containment.mode is ContainmentMode.FAKE:
        return []
    warnings: list[ManifestWarning] = []
    for kind, containers in (
        ("containers", pod.spec.containers),
        ("initContainers", pod.spec.init_containers),
    ):
        for index, container in enumerate(containers):
            for resource in container.resources.limits:
                if resource == "cpu" and not containment.enforces_cpu:
                    message = _CPU_NOT_ENFORCED
                elif resource == "memory" and not containment.enforces_memory:
                    message = _MEMORY_SAMPLED
                else:
                    continue
                warnings.append(
                    ManifestWarning(
                        pod.source.path,
                        pod.name,
                        f"spec.{kind}[{index}].resources.limits.{resource}",
                        message.format(reason=containment.mode.value),
                    )
                )
    return warnings
