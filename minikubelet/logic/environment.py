"""A container's environment and argv: ``env`` entries, field references, ``$(VAR)``.

Sources: ``pkg/kubelet/kubelet_pods.go makeEnvironmentVariables``,
``third_party/forked/golang/expansion/expand.go`` (``$(VAR)`` expansion: references to
variables defined earlier in ``env`` are replaced, ``$$`` escapes, unknown references
stay as written). The base environment (minikubelet's own, or the clean set) is the
caller's; ``HOSTNAME`` is the pod's name, as in a Kubernetes container.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from minikubelet.model.spec import Container, EnvVar, Pod

__all__ = ["CLEAN_ENV_VARIABLES", "FieldContext", "container_argv", "container_env", "expand"]

# What a container inherits from minikubelet under --clean-env.
CLEAN_ENV_VARIABLES = ("PATH", "HOME", "USER", "LANG", "TZ")

_REFERENCE = re.compile(r"\$(\$|\(([^)]*)\))")


@dataclass(frozen=True)
class FieldContext:
    """What ``fieldRef`` / ``resourceFieldRef`` can refer to for one pod on this node."""

    uid: str
    node_name: str
    host_ip: str = "127.0.0.1"
    cpu_capacity: float = 1.0  # cores, used when the container has no cpu limit
    memory_capacity: int = 0  # bytes, used when the container has no memory limit


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Replace ``$(NAME)`` with its value; ``$$`` is a literal ``$``; unknown stays."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        name = match.group(2)
        return variables.get(name, match.group(0))

    return _REFERENCE.sub(substitute, text)


def _field_value(pod: Pod, path: str, context: FieldContext) -> str:
    metadata = pod.metadata
    simple = {
        "metadata.name": metadata.name,
        "metadata.namespace": metadata.namespace,
        "metadata.uid": context.uid,
        "spec.nodeName": context.node_name,
        "spec.serviceAccountName": "default",
        "status.hostIP": context.host_ip,
        "status.hostIPs": context.host_ip,
        "status.podIP": context.host_ip,
        "status.podIPs": context.host_ip,
    }
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
    if match is not None:
        source = metadata.labels if match.group(1) == "labels" else metadata.annotations
        return source.get(match.group(2), "")
    return ""


def _resource_value(container: Container, var: EnvVar, context: FieldContext) -> str:
    assert var.resource is not None
    kind, _, resource = var.resource.partition(".")
    values = container.resources.limits if kind == "limits" else container.resources.requests
    quantity = values.get(resource)
    divisor = float(var.resource_divisor.value) if var.resource_divisor is not None else 1.0
    if quantity is None and kind != "limits":
        return "0"  # only limits are defaulted to the node's allocatable; an unset request is 0
    if resource == "cpu":
        # No limit: the node's capacity, as the kubelet substitutes allocatable.
        amount = float(quantity.value) if quantity is not None else context.cpu_capacity
        return str(math.ceil(amount / divisor))
    amount = float(quantity.value) if quantity is not None else float(context.memory_capacity)
    return str(math.ceil(amount / divisor))


def container_env(
    pod: Pod, container: Container, base: Mapping[str, str], context: FieldContext
) -> dict[str, str]:
    """The full environment of ``container``: base, then HOSTNAME, then ``env`` in order."""
    env = dict(base)
    env["HOSTNAME"] = pod.spec.hostname or pod.metadata.name
    defined: dict[str, str] = {}
    for var in container.env:
        if var.field_path is not None:
            value = _field_value(pod, var.field_path, context)
        elif var.resource is not None:
            # resourceFieldRef.containerName may name another container of the pod.
            target = container
            if var.resource_container is not None:
                target = pod.spec.container(var.resource_container)
            value = _resource_value(target, var, context)
        else:
            value = expand(var.value, defined)
        defined[var.name] = value
    env.update(defined)
    return env


def container_argv(container: Container, env: Mapping[str, str]) -> tuple[str, ...]:
    """``command`` + ``args`` with ``$(VAR)`` expanded from the container's ``env``."""
    declared = {var.name: env[var.name] for var in container.env if var.name in env}
    return tuple(expand(part, declared) for part in container.argv)
