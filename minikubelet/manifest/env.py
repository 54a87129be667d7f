"""A container's ``env`` and ``envFrom``, checked as Kubernetes does.

Rules and messages: ``pkg/apis/core/validation/validation.go`` (``ValidateEnv``,
``validateEnvVarValueFrom``, ``validateObjectFieldSelector``,
``validateContainerResourceFieldSelector``, ``validateContainerResourceDivisor``,
``validateConfigMapKeySelector``, ``validateSecretKeySelector``, ``ValidateEnvFrom``) and
``pkg/apis/core/pods/helpers.go`` (``ConvertDownwardAPIFieldLabel``). ConfigMaps and Secrets
are resolved when the container starts (``logic/environment.py``); a source that needs
volumes (``fileKeyRef``) cannot be honoured for a local pod: an error, since the program
would otherwise start without a variable it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from minikubelet.manifest.quantity import quantity_format
from minikubelet.manifest.report import (
    Report,
    child,
    get_map,
    get_quantity,
    get_str,
    index,
    is_set,
)
from minikubelet.manifest.rules import (
    ENV_FIELD_PATHS,
    is_config_map_key,
    is_dns1123_subdomain,
    is_qualified_name,
    is_relaxed_env_var_name,
    split_subscripted_path,
)
from minikubelet.model.spec import EnvFromSource, EnvVar, KeyRef, ObjectKind, Quantity

__all__ = ["EnvRefs", "decode_env", "decode_env_from"]

_KEY_REFS = {"configMapKeyRef": ObjectKind.CONFIG_MAP, "secretKeyRef": ObjectKind.SECRET}
_ENV_FROM = {"configMapRef": ObjectKind.CONFIG_MAP, "secretRef": ObjectKind.SECRET}

# ConvertDownwardAPIFieldLabel: the field paths that convert at all ...
_CONVERTIBLE = frozenset(
    {
        "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
        "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
        "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs",
        "status.podIP", "status.podIPs", "spec.host",
    }
)  # fmt: skip
# ... and the resources minikubelet can expose (Kubernetes also has ephemeral-storage and
# hugepages, which minikubelet does not track).
_RESOURCE_REFS = ("limits.cpu", "limits.memory", "requests.cpu", "requests.memory")
# validContainerResourceDivisorForCPU/ForMemory hold *canonical* spellings: a divisor is
# valid when its value is one of these and its suffix family (None: any) matches, so that
# "1000" (canonically "1k") passes and "1024" (canonically "1024", not "1Ki") does not.
_CPU_DIVISORS: dict[Fraction, str | None] = {Fraction(1, 1000): "DecimalSI", Fraction(1): None}
_MEMORY_DIVISORS: dict[Fraction, str | None] = {Fraction(1): None} | {
    Fraction(base**power): family
    for base, family in ((1000, "DecimalSI"), (1024, "BinarySI"))
    for power in range(1, 7)
}


@dataclass
class EnvRefs:
    """Where problems go, and references to check once every container is known."""

    report: Report
    # (path, name) of every resourceFieldRef.containerName
    containers: list[tuple[str, str]] = field(default_factory=list)


def decode_env(items: list[object], path: str, refs: EnvRefs) -> list[EnvVar]:
    """The ``env`` list of a container (``ValidateEnv``, ``validateEnvVarValueFrom``)."""
    report = refs.report
    variables = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        var_path = index(path, i)
        name = get_str(item, "name")
        if name == "":
            report.required(child(var_path, "name"))
        for message in is_relaxed_env_var_name(name) if name else ():
            report.invalid(child(var_path, "name"), name, message)
        value = get_str(item, "value") or ""
        source = get_map(item, "valueFrom")
        if source is None:
            variables.append(EnvVar(name=name or "", value=value))
        else:
            variables.append(_value_from(source, child(var_path, "valueFrom"), name, value, refs))
    return variables


def _value_from(
    source: Mapping[str, object], path: str, name: str | None, value: str, refs: EnvRefs
) -> EnvVar:
    report = refs.report
    variable = EnvVar(name=name or "", value=value)
    count = 0
    for kind in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"):
        if not is_set(source, kind):
            continue
        count += 1
        body = get_map(source, kind)
        kind_path = child(path, kind)
        if kind in _KEY_REFS:
            if body is not None:
                ref = _key_ref(body, kind_path, _KEY_REFS[kind], report)
                variable = EnvVar(name=variable.name, key_ref=ref)
        elif kind == "fileKeyRef":
            report.forbidden(
                kind_path, "volumes are not available to local pods; set value instead"
            )
        elif body is not None and kind == "fieldRef":
            variable = EnvVar(name=variable.name, field_path=_field_ref(body, kind_path, report))
        elif body is not None:
            variable = _resource_ref(body, kind_path, variable.name, refs)
    if count == 0:
        report.invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
            "`secretKeyRef`",
        )
    elif value:
        report.invalid(path, "", "may not be specified when `value` is not empty")
    elif count > 1:
        report.invalid(path, "", "may not have more than one field specified at a time")
    return variable


def _key_ref(body: Mapping[str, object], path: str, kind: ObjectKind, report: Report) -> KeyRef:
    """``validateConfigMapKeySelector`` / ``validateSecretKeySelector``."""
    name = get_str(body, "name") or ""
    # ValidateSecretName (a DNS subdomain) for both: "" is invalid, not required.
    for message in is_dns1123_subdomain(name):
        report.invalid(child(path, "name"), name, message)
    key = get_str(body, "key")
    if key == "":
        report.required(child(path, "key"))  # absent: reported by the schema walk
    for message in is_config_map_key(key) if key else ():
        report.invalid(child(path, "key"), key, message)
    return KeyRef(kind, name, key or "", optional=body.get("optional") is True)


def decode_env_from(items: list[object], path: str, report: Report) -> list[EnvFromSource]:
    """A container's ``envFrom`` (``ValidateEnvFrom``, relaxed names as in 1.34)."""
    sources = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        item_path = index(path, i)
        prefix = get_str(item, "prefix") or ""
        for message in is_relaxed_env_var_name(prefix) if prefix else ():
            report.invalid(child(item_path, "prefix"), prefix, message)
        found = [(field, kind) for field, kind in _ENV_FROM.items() if is_set(item, field)]
        if not found:
            # sic: Kubernetes reports these two on the list's path, not the item's.
            report.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
            continue
        if len(found) > 1:
            report.invalid(path, "", "may not have more than one field specified at a time")
        field, kind = found[0]
        body = get_map(item, field) or {}
        name = get_str(body, "name") or ""
        name_path = child(child(item_path, field), "name")
        if not name:
            report.required(name_path)
        # ValidateConfigMapName(name, prefix=true): a trailing "-" is allowed.
        masked = name[:-1] + "a" if name.endswith("-") else name
        for message in is_dns1123_subdomain(masked) if name else ():
            report.invalid(name_path, name, message)
        optional = body.get("optional") is True
        sources.append(EnvFromSource(kind, name, optional=optional, prefix=prefix))
    return sources


def _field_ref(body: Mapping[str, object], path: str, report: Report) -> str | None:
    field_path = get_str(body, "fieldPath")
    if field_path is None:
        return None
    field_path_path = child(path, "fieldPath")
    if not field_path:
        report.required(field_path_path)
        return None
    api_version = get_str(body, "apiVersion") or "v1"  # SetDefaults_ObjectFieldSelector
    converting = "error converting fieldPath: "
    if api_version != "v1":
        report.invalid(
            field_path_path, field_path, f"{converting}unsupported pod version: {api_version}"
        )
        return None
    subscripted = split_subscripted_path(field_path)
    if subscripted is not None:
        base, subscript = subscripted
        if base == "metadata.labels":
            messages = [(subscript, message) for message in is_qualified_name(subscript)]
        elif base == "metadata.annotations":
            lowered = subscript.lower()
            messages = [(lowered, message) for message in is_qualified_name(lowered)]
        else:
            detail = f"{converting}field label does not support subscript: {field_path}"
            report.invalid(field_path_path, field_path, detail)
            return None
        for bad, message in messages:
            report.invalid(path, bad, message)
        return field_path
    if field_path not in _CONVERTIBLE:
        report.invalid(
            field_path_path, field_path, f"{converting}field label not supported: {field_path}"
        )
        return None
    if field_path == "spec.host":
        field_path = "spec.nodeName"  # ConvertDownwardAPIFieldLabel: old v1 clients' name
    if field_path not in ENV_FIELD_PATHS:
        report.not_supported(field_path_path, field_path, ENV_FIELD_PATHS)
        return None
    return field_path


def _resource_ref(body: Mapping[str, object], path: str, name: str, refs: EnvRefs) -> EnvVar:
    report = refs.report
    resource = get_str(body, "resource")
    if resource == "":
        report.required(child(path, "resource"))
    elif resource is not None and resource not in _RESOURCE_REFS:
        report.not_supported(child(path, "resource"), resource, _RESOURCE_REFS)
    divisor = get_quantity(body, "divisor")
    if divisor is not None and divisor.value == 0:
        divisor = None  # an unset divisor means 1
    if divisor is not None and resource in _RESOURCE_REFS:
        _check_divisor(divisor, resource, child(path, "divisor"), report)
    container = get_str(body, "containerName") or None
    if container is not None:
        refs.containers.append((child(path, "containerName"), container))
    return EnvVar(
        name=name,
        resource=resource or None,
        resource_divisor=divisor,
        resource_container=container,
    )


def _check_divisor(divisor: Quantity, resource: str, path: str, report: Report) -> None:
    """``validateContainerResourceDivisor``: the divisor's *canonical* spelling must be one
    of a few units; comparing value and suffix family is equivalent (``1000`` is ``1k``
    but ``1024`` is not ``1Ki``)."""
    cpu = resource.endswith(".cpu")
    allowed = _CPU_DIVISORS if cpu else _MEMORY_DIVISORS
    if divisor.value in allowed and allowed[divisor.value] in (None, quantity_format(divisor)):
        return
    if cpu:
        detail = "only divisor's values 1m and 1 are supported with the cpu resource"
    else:
        detail = (
            "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei "
            "are supported with the memory resource"
        )
    report.invalid(path, resource, detail)  # sic: Kubernetes shows the resource name
