"""One Pod document -> ``Pod``: the whole check, then the model.

Order of work, as Kubernetes does it: the type (``apiVersion``/``kind``), the structure
(unknown fields and JSON types, ``schema.py``), then the rules of
``pkg/apis/core/validation/validation.go`` (``ValidateObjectMeta``, ``ValidatePodSpec``)
with the defaults of ``pkg/apis/core/v1/defaults.go`` applied as values are read. Every
problem is collected; the pod is built only when there is none.
"""

from __future__ import annotations

from collections.abc import Mapping

from minikubelet.errors import FieldError, ManifestError, ManifestWarning
from minikubelet.manifest.container import (
    PodContext,
    Role,
    decode_container,
    decode_security_context,
)
from minikubelet.manifest.env import EnvRefs
from minikubelet.manifest.report import Report, child, get_int, get_list, get_map, get_str, index
from minikubelet.manifest.rules import (
    NEGATIVE,
    RESTART_POLICIES,
    inclusive_range_error,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)
from minikubelet.manifest.schema import check_document
from minikubelet.model.spec import (
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    Container,
    ObjectMeta,
    Pod,
    PodSpec,
    RestartPolicy,
    Source,
)

__all__ = ["SUPPORTED_KINDS", "check_type", "decode_metadata", "pod_from_dict"]

SUPPORTED_KINDS = "only Pods, ConfigMaps and Secrets (and Lists of them) are supported"
_MAX_INT32 = 2**31 - 1


def check_type(obj: Mapping[str, object], expected: str = "Pod") -> list[FieldError]:
    """Problems with ``apiVersion``/``kind`` of a document that should be a v1 ``expected``."""
    errors = []
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind is None:
        errors.append(FieldError("kind", "Required value"))
    elif kind != expected:
        errors.append(
            FieldError("kind", "Unsupported value", SUPPORTED_KINDS, kind, show_value=True)
        )
    if errors and kind is not None:
        return errors  # another kind of object: its apiVersion is not the problem
    if api_version is None:
        errors.append(FieldError("apiVersion", "Required value"))
    elif api_version != "v1":
        detail = 'supported values: "v1"'
        errors.append(FieldError("apiVersion", "Unsupported value", detail, api_version, True))
    return errors


def pod_from_dict(
    obj: Mapping[str, object], source: Source, *, location: str | None = None
) -> tuple[Pod, list[ManifestWarning]]:
    """Decode and validate one Pod document (camelCase, as in YAML/JSON).

    Raises ``ManifestError`` listing every problem; ``location`` (e.g. ``document 2``) names
    the document in messages when it has no usable ``metadata.name``.
    """
    if not isinstance(obj, Mapping):
        error = FieldError("", "Invalid value", "must be a mapping", obj, show_value=True)
        raise ManifestError(source.path, None, [error], location=location)
    type_errors = check_type(obj)
    if type_errors:
        raise ManifestError(source.path, None, type_errors, location=location)
    report = Report()
    check_document(obj, report)
    metadata = decode_metadata(
        get_map(obj, "metadata"), is_set=obj.get("metadata") is not None, report=report
    )
    spec = _spec(obj, report)
    name = metadata.name or None
    if report.errors or spec is None:
        raise ManifestError(source.path, name, report.errors, location=location)
    warnings = [
        ManifestWarning(source.path, name, field_path, message)
        for field_path, message in report.warnings
    ]
    return Pod(metadata=metadata, spec=spec, source=source, manifest=dict(obj)), warnings


def decode_metadata(
    meta: Mapping[str, object] | None,
    *,
    is_set: bool,
    report: Report,
    needs_name: str = "a pod needs a name",
) -> ObjectMeta:
    """``ValidateObjectMeta`` of a namespaced object (a Pod, a ConfigMap, a Secret)."""
    if meta is None:
        if not is_set:
            report.required("metadata.name", needs_name)
        return ObjectMeta(name="")
    name = get_str(meta, "name")
    if not name and meta.get("name") in (None, ""):
        if get_str(meta, "generateName"):
            report.required(
                "metadata.name", "generateName is not supported by minikubelet; set name"
            )
        else:
            report.required("metadata.name", needs_name)
    for message in is_dns1123_subdomain(name) if name else ():
        report.invalid("metadata.name", name, message)
    namespace = get_str(meta, "namespace") or "default"
    for message in is_dns1123_label(namespace):
        report.invalid("metadata.namespace", namespace, message)
    labels = _string_map(get_map(meta, "labels"))
    for label, value in labels.items():
        # ValidateLabels reports on the map's path, showing the key or the value.
        for message in is_qualified_name(label):
            report.invalid("metadata.labels", label, message)
        for message in is_valid_label_value(value):
            report.invalid("metadata.labels", value, message)
    annotations = _string_map(get_map(meta, "annotations"))
    for annotation in annotations:
        for message in is_qualified_name(annotation.lower()):
            report.invalid("metadata.annotations", annotation, message)
    return ObjectMeta(name=name or "", namespace=namespace, labels=labels, annotations=annotations)


def _string_map(value: Mapping[str, object] | None) -> dict[str, str]:
    if value is None:
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _spec(obj: Mapping[str, object], report: Report) -> PodSpec | None:
    spec = get_map(obj, "spec")
    if spec is None:
        if obj.get("spec") is None:
            report.required("spec.containers")
        return None
    grace = get_int(spec, "terminationGracePeriodSeconds")
    if spec.get("terminationGracePeriodSeconds") is None:
        grace = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    elif grace is not None and grace < 0:
        report.invalid("spec.terminationGracePeriodSeconds", grace, NEGATIVE)
    hook_grace = grace if grace is not None and grace >= 0 else None

    os_name = get_str(get_map(spec, "os") or {}, "name")
    if os_name is not None and os_name not in ("linux", "windows"):
        report.not_supported("spec.os.name", os_name, ["linux", "windows"])
    elif os_name == "windows":
        report.warn("spec.os.name", "minikubelet runs every pod as processes of this host; ignored")

    security = decode_security_context(get_map(spec, "securityContext"), "spec", report)
    ctx = PodContext(
        report=report,
        grace=hook_grace,
        os_name=os_name,
        security=security,
        env_refs=EnvRefs(report),
    )
    containers = _containers(spec, Role.REGULAR, ctx, set())
    names = {container.name for container in containers}
    init_containers = _containers(spec, Role.INIT, ctx, set(names))
    names |= {container.name for container in init_containers}
    for path, name in ctx.env_refs.containers:
        if name not in names:
            report.not_found(path, name, "must be the name of a container of this pod")

    restart_policy = RestartPolicy.ALWAYS
    value = get_str(spec, "restartPolicy")
    if value in RESTART_POLICIES:
        restart_policy = RestartPolicy(value)
    elif value:  # "" is defaulted, as by SetDefaults_PodSpec
        report.not_supported("spec.restartPolicy", value, RESTART_POLICIES)

    deadline = get_int(spec, "activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= _MAX_INT32:
        report.invalid("spec.activeDeadlineSeconds", deadline, inclusive_range_error(1, _MAX_INT32))
    hostname = get_str(spec, "hostname") or None
    for message in is_dns1123_label(hostname) if hostname else ():
        report.invalid("spec.hostname", hostname, message)

    return PodSpec(
        containers=tuple(containers),
        init_containers=tuple(init_containers),
        restart_policy=restart_policy,
        termination_grace_period_seconds=grace if grace is not None else 0,
        active_deadline_seconds=deadline,
        security_context=security,
        hostname=hostname,
    )


def _containers(
    spec: Mapping[str, object], role: Role, ctx: PodContext, taken: set[str]
) -> list[Container]:
    """Decode one container list; names must be unique across both lists."""
    items = get_list(spec, role.value)
    path = child("spec", role.value)
    if role is Role.REGULAR and items == []:
        ctx.report.required(path)  # absent: reported by the schema walk (required field)
    containers = []
    for i, item in enumerate(items or []):
        container = decode_container(item, index(path, i), role, ctx)
        if container is None:
            continue
        if container.name and container.name in taken:
            ctx.report.duplicate(child(index(path, i), "name"), container.name)
        taken.add(container.name)
        containers.append(container)
    return containers
