"""Manifest features this version parses but does not act on yet, and what to tell users.

The parser accepts the whole Pod schema that minikubelet will honour; a few parts of it
are not implemented by the engine yet (today: ``resources.limits``, which need cgroups).
The pod runs without them and the user gets a warning naming each field. Each entry here
is removed when its feature lands.
"""

from __future__ import annotations

from minikubelet.errors import ManifestWarning
from minikubelet.model.spec import Pod

__all__ = ["unimplemented_warnings"]

_LIMITS = "limits are not enforced by this version yet"


def unimplemented_warnings(pod: Pod) -> list[ManifestWarning]:
    """A warning for each field of ``pod`` the engine does not act on."""
    warnings: list[ManifestWarning] = []

    def warn(path: str, message: str) -> None:
        warnings.append(ManifestWarning(pod.source.path, pod.name, path, message))

    for kind, containers in (
        ("containers", pod.spec.containers),
        ("initContainers", pod.spec.init_containers),
    ):
        for index, container in enumerate(containers):
            for resource in container.resources.limits:
                warn(f"spec.{kind}[{index}].resources.limits.{resource}", _LIMITS)
    return warnings
