"""Manifest features this version parses but does not act on yet, and what to tell users.

The parser accepts the whole Pod schema that minikubelet will honour; a few parts of it
are not implemented by the engine yet. Rather than half-honour them (a readiness probe
that never runs would leave a container unready forever, a startup probe would block a
sidecar's successors), the pod runs without them and the user gets a warning naming each
field. Each entry here is removed when its feature lands.
"""

from __future__ import annotations

from dataclasses import replace

from minikubelet.errors import ManifestWarning
from minikubelet.model.spec import Container, Pod

__all__ = ["without_unimplemented"]

_PROBES = ("liveness_probe", "readiness_probe", "startup_probe")
_PROBE_FIELDS = {
    "liveness_probe": "livenessProbe",
    "readiness_probe": "readinessProbe",
    "startup_probe": "startupProbe",
}


def without_unimplemented(pod: Pod) -> tuple[Pod, list[ManifestWarning]]:
    """``pod`` minus the features the engine cannot run yet, and a warning for each."""
    warnings: list[ManifestWarning] = []

    def warn(path: str, message: str) -> None:
        warnings.append(ManifestWarning(pod.source.path, pod.name, path, message))

    def strip(container: Container, path: str) -> Container:
        probes = {
            "livenessProbe": container.liveness_probe,
            "readinessProbe": container.readiness_probe,
            "startupProbe": container.startup_probe,
        }
        for field, probe in probes.items():
            if probe is not None:
                warn(f"{path}.{field}", "probes are not run by this version yet; ignored")
        for resource in container.resources.limits:
            warn(
                f"{path}.resources.limits.{resource}", "limits are not enforced by this version yet"
            )
        return replace(container, liveness_probe=None, readiness_probe=None, startup_probe=None)

    spec = pod.spec
    containers = tuple(strip(c, f"spec.containers[{i}]") for i, c in enumerate(spec.containers))
    init = tuple(strip(c, f"spec.initContainers[{i}]") for i, c in enumerate(spec.init_containers))
    if spec.active_deadline_seconds is not None:
        warn("spec.activeDeadlineSeconds", "not enforced by this version yet; ignored")
    return replace(pod, spec=replace(spec, containers=containers, init_containers=init)), warnings
