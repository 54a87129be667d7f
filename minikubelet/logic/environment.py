"""A container's environment and argv: ``envFrom``, ``env``, field references, ``$(VAR)``.

Sources: ``pkg/kubelet/kubelet_pods.go makeEnvironmentVariables``,
``third_party/forked/golang/expansion/expand.go`` (``$(VAR)`` expansion: references to
variables defined earlier are replaced, ``$$`` escapes, unknown references stay as
written). The base environment (minikubelet's own, or the clean set) is the caller's;
``HOSTNAME`` is the pod's name, as in a Kubernetes container.

``make_environment`` is ``makeEnvironmentVariables``, step for step:

1. ``envFrom`` in order: every key of ``data`` of the ConfigMap (never ``binaryData``) or
   Secret, ``prefix`` in front; a later source overwrites an earlier one's key. A missing
   object that is not ``optional`` fails the start (``configmap "x" not found``).
2. ``env`` in order, overwriting what ``envFrom`` set: a ``value`` is expanded against
   everything set so far (``envFrom``'s variables included); ``configMapKeyRef`` /
   ``secretKeyRef`` read one key (``couldn't find key k in ConfigMap ns/x``); an
   ``optional`` reference to a missing object or key sets nothing, not even "".

A failure is returned as a ``ConfigFailure`` carrying the kubelet's message, which the pod
worker shows as ``CreateContainerConfigError``. Messages name objects and keys, never
values: a Secret's content must not reach a log, an event or a status.

Where 1.34 differs from older kubelets: with ``RelaxedEnvironmentVariableValidation`` (GA
in 1.34) every ``envFrom`` key is a valid name (a key is ``[-._a-zA-Z0-9]+``, a prefix any
printable ASCII but ``=``), so the kubelet dropped its ``InvalidEnvironmentVariableNames``
check (kubernetes/kubernetes#123385, #130099). minikubelet keeps it, against the relaxed rule,
as a guard for objects that bypassed validation: such keys are skipped and reported
(``Environment.invalid``), as older kubelets did, instead of corrupting the environment.
A value holding a NUL byte cannot be passed to ``execve`` at all: the kubelet leaves that
to the runtime (a failed start); here it fails the start with a message naming the variable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from minikubelet.manifest.rules import is_relaxed_env_var_name
from minikubelet.model.objects import ConfigMap, Secret
from minikubelet.model.spec import Container, EnvVar, ObjectKind, Pod

__all__ = [
    "CLEAN_ENV_VARIABLES",
    "CREATE_CONTAINER_CONFIG_ERROR",
    "INVALID_VARIABLE_NAMES",
    "NO_OBJECTS",
    "ConfigFailure",
    "Environment",
    "FieldContext",
    "InvalidKeys",
    "ObjectLookup",
    "container_argv",
    "container_env",
    "expand",
    "full_environment",
    "make_environment",
    "referenced_objects",
    "shown_argv",
]

# The waiting reason of a container whose configuration cannot be built
# (pkg/kubelet/kuberuntime/kuberuntime_container.go ErrCreateContainerConfig).
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
INVALID_VARIABLE_NAMES = "InvalidEnvironmentVariableNames"  # the event's reason

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


class ObjectLookup(Protocol):
    """Where a container's ConfigMaps and Secrets are found (the kubelet's managers)."""

    def config_map(self, namespace: str, name: str) -> ConfigMap | None: ...

    def secret(self, namespace: str, name: str) -> Secret | None: ...


class _NoObjects:
    def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        return None

    def secret(self, namespace: str, name: str) -> Secret | None:
        return None


NO_OBJECTS: ObjectLookup = _NoObjects()


@dataclass(frozen=True)
class InvalidKeys:
    """Keys of one ``envFrom`` object skipped because they are not variable names."""

    kind: ObjectKind
    namespace: str
    name: str
    keys: tuple[str, ...]

    @property
    def message(self) -> str:
        """The kubelet's event message (``InvalidEnvironmentVariableNames``)."""
        source = "configMap" if self.kind is ObjectKind.CONFIG_MAP else "secret"
        return (
            f"Keys [{', '.join(self.keys)}] from the EnvFrom {source} {self.namespace}/"
            f"{self.name} were skipped since they are considered invalid environment "
            "variable names."
        )


@dataclass(frozen=True)
class Environment:
    """What ``makeEnvironmentVariables`` hands the runtime: ``envFrom`` then ``env``."""

    variables: Mapping[str, str]
    invalid: tuple[InvalidKeys, ...] = field(default=())
    # The variables whose values come from a Secret (directly, or through ``$(VAR)``):
    # what minikubelet's own logs and trace never show (``shown_argv``).
    sensitive: frozenset[str] = field(default=frozenset())


@dataclass(frozen=True)
class ConfigFailure:
    """The container cannot start: ``CreateContainerConfigError`` with this message."""

    message: str


def referenced_objects(pod: Pod) -> frozenset[tuple[ObjectKind, str]]:
    """The ConfigMaps and Secrets (kind, name) the pod's containers read, in its namespace."""
    found: set[tuple[ObjectKind, str]] = set()
    for container in pod.spec.init_containers + pod.spec.containers:
        found.update((source.kind, source.name) for source in container.env_from)
        found.update((v.key_ref.kind, v.key_ref.name) for v in container.env if v.key_ref)
    return frozenset(found)


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


def _text(value: bytes) -> str:
    """A Secret's bytes as an environment string that ``execve`` turns back into the same
    bytes (Go's ``string(v)`` keeps them as they are)."""
    return value.decode("utf-8", "surrogateescape")


def _not_found(kind: ObjectKind, name: str) -> ConfigFailure:
    # apierrors.NewNotFound(schema.GroupResource{Resource: "configmap"|"secret"}, name),
    # as the kubelet's watch-based configmap/secret managers return it.
    return ConfigFailure(f'{kind.singular} "{name}" not found')


def _lookup(
    objects: ObjectLookup, kind: ObjectKind, namespace: str, name: str
) -> Mapping[str, str] | None:
    """The ``data`` of one object as strings (a ConfigMap's ``binaryData`` is not part of
    the environment); None when there is no such object."""
    if kind is ObjectKind.CONFIG_MAP:
        config_map = objects.config_map(namespace, name)
        return None if config_map is None else config_map.data
    secret = objects.secret(namespace, name)
    return None if secret is None else {key: _text(value) for key, value in secret.data.items()}


def make_environment(
    pod: Pod,
    container: Container,
    context: FieldContext,
    objects: ObjectLookup = NO_OBJECTS,
) -> Environment | ConfigFailure:
    """``makeEnvironmentVariables``: the variables the manifest gives ``container``."""
    namespace = pod.metadata.namespace
    variables: dict[str, str] = {}
    invalid: list[InvalidKeys] = []
    sensitive: set[str] = set()
    # Env will override EnvFrom variables: process EnvFrom first.
    for source in container.env_from:
        data = _lookup(objects, source.kind, namespace, source.name)
        if data is None:
            if source.optional:
                continue
            return _not_found(source.kind, source.name)
        skipped = []
        for key, value in data.items():
            name = source.prefix + key
            if is_relaxed_env_var_name(name):
                skipped.append(name)
                continue
            variables[name] = value
            if source.kind is ObjectKind.SECRET:
                sensitive.add(name)
            else:
                sensitive.discard(name)
        if skipped:
            invalid.append(InvalidKeys(source.kind, namespace, source.name, tuple(sorted(skipped))))
    for var in container.env:
        secret = False
        if var.key_ref is not None:
            ref = var.key_ref
            data = _lookup(objects, ref.kind, namespace, ref.name)
            if data is None:
                if ref.optional:
                    continue
                return _not_found(ref.kind, ref.name)
            if ref.key not in data:
                if ref.optional:
                    continue
                return ConfigFailure(
                    f"couldn't find key {ref.key} in {ref.kind.value} {namespace}/{ref.name}"
                )
            value = data[ref.key]
            secret = ref.kind is ObjectKind.SECRET
        elif var.field_path is not None:
            value = _field_value(pod, var.field_path, context)
        elif var.resource is not None:
            # resourceFieldRef.containerName may name another container of the pod.
            target = container
            if var.resource_container is not None:
                target = pod.spec.container(var.resource_container)
            value = _resource_value(target, var, context)
        else:
            value = expand(var.value, variables)
            secret = bool(_references(var.value, variables) & sensitive)
        variables[var.name] = value
        if secret:
            sensitive.add(var.name)
        else:
            sensitive.discard(var.name)
    for name, value in variables.items():
        if "\0" in value:
            return ConfigFailure(
                f'environment variable "{name}": its value holds a NUL byte, which a '
                "process environment cannot carry"
            )
    return Environment(variables, tuple(invalid), frozenset(sensitive))


def _references(text: str, variables: Mapping[str, str]) -> set[str]:
    """The defined variables ``$(NAME)`` in ``text`` refers to (``$$`` escapes)."""
    return {
        match.group(2)
        for match in _REFERENCE.finditer(text)
        if match.group(1) != "$" and match.group(2) in variables
    }


def shown_argv(container: Container, environment: Environment) -> tuple[str, ...]:
    """The argv as minikubelet's logs and trace show it: expanded like the real one, except
    that a variable from a Secret stays ``$(NAME)``, so no Secret value is ever printed."""
    values = {
        name: f"$({name})" if name in environment.sensitive else value
        for name, value in environment.variables.items()
    }
    return tuple(expand(part, values) for part in container.argv)


def full_environment(pod: Pod, base: Mapping[str, str], environment: Environment) -> dict[str, str]:
    """The process's whole environment: base, then HOSTNAME, then the manifest's variables."""
    env = dict(base)
    env["HOSTNAME"] = pod.spec.hostname or pod.metadata.name
    env.update(environment.variables)
    return env


def container_env(
    pod: Pod,
    container: Container,
    base: Mapping[str, str],
    context: FieldContext,
    objects: ObjectLookup = NO_OBJECTS,
) -> dict[str, str]:
    """The full environment of ``container``; raises ``LookupError`` with the kubelet's
    message when a ConfigMap or Secret it needs is missing (``make_environment`` returns
    that as a value instead)."""
    environment = make_environment(pod, container, context, objects)
    if isinstance(environment, ConfigFailure):
        raise LookupError(environment.message)
    return full_environment(pod, base, environment)


def container_argv(
    container: Container, env: Mapping[str, str], declared: Iterable[str] | None = None
) -> tuple[str, ...]:
    """``command`` + ``args`` with ``$(VAR)`` expanded from the manifest's variables.

    ``declared`` names them (``Environment.variables``: ``envFrom``'s and ``env``'s); by
    default the container's ``env`` names. The base environment never takes part, as an
    image's own variables do not in ``ExpandContainerCommandAndArgs``.
    """
    names = [var.name for var in container.env] if declared is None else declared
    values = {name: env[name] for name in names if name in env}
    return tuple(expand(part, values) for part in container.argv)
