"""Which changes an update (PUT, PATCH, apply) may make to a Pod: the apiserver's rule.

A port of ``ValidatePodUpdate`` and ``ValidatePodSpecificAnnotationUpdates``
(``pkg/apis/core/validation/validation.go``): besides metadata (labels, annotations, ...),
an update may change only each container's and init container's ``image``,
``activeDeadlineSeconds`` (set it, or lower it, never unset or raise it), ``tolerations``
(additions; an existing one only in its ``tolerationSeconds``), ``schedulingGates``
(removals), and ``terminationGracePeriodSeconds`` from a negative value to 1. Anything else
is one ``spec: Forbidden`` error whose message ends with a diff of the change, as the
apiserver words it (its diff is ``cmp.Diff`` of Go structs; ours is the same layout over
the JSON, with Go field names). kubectl prints the result as ``The Pod "web" is invalid:
spec: Forbidden: pod updates may not change fields other than ...``.

Both pods are Kubernetes JSON with the same defaults applied (the apiserver compares
defaulted objects): the caller defaults a replacement before asking. One deliberate
difference: minikubelet runs processes, so a container needs no image; an update may keep
a container imageless (the apiserver requires ``image`` on update), but not remove an image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from minikubelet.api.types import JSONView
from minikubelet.errors import FieldError

__all__ = ["FORBIDDEN_UPDATE", "spec_diff", "validate_pod_update"]

_MAX_INT32 = 2**31 - 1
_MIRROR = "kubernetes.io/config.mirror"
_APPARMOR = "container.apparmor.security.beta.kubernetes.io/"

FORBIDDEN_UPDATE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)"
)


def _mapping(value: object) -> JSONView:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_pod_update(new: JSONView, old: JSONView) -> list[FieldError]:
    """The errors of updating ``old`` to ``new`` (empty: the update is allowed)."""
    new_meta, old_meta = _mapping(new.get("metadata")), _mapping(old.get("metadata"))
    errors = _metadata_errors(new_meta, old_meta)
    errors += _annotation_errors(
        _mapping(new_meta.get("annotations")), _mapping(old_meta.get("annotations"))
    )
    new_spec, old_spec = _mapping(new.get("spec")), _mapping(old.get("spec"))
    for field in ("containers", "initContainers"):
        found, stop = _container_errors(
            _list(new_spec.get(field)), _list(old_spec.get(field)), f"spec.{field}"
        )
        errors += found
        if stop:
            return errors
    deadline_errors = _deadline_errors(
        new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    )
    errors += deadline_errors
    if deadline_errors and new_spec.get("activeDeadlineSeconds") is not None:
        return errors  # the apiserver stops at a bad new value
    errors += _toleration_errors(
        _list(new_spec.get("tolerations")), _list(old_spec.get("tolerations"))
    )
    errors += _scheduling_gate_errors(
        _list(new_spec.get("schedulingGates")), _list(old_spec.get("schedulingGates"))
    )
    if _same(new_spec, old_spec):
        return errors
    munged = _munged(new_spec, old_spec)
    if not _same(munged, old_spec):
        errors.append(
            FieldError("spec", "Forbidden", FORBIDDEN_UPDATE + "\n" + spec_diff(old_spec, munged))
        )
    return errors


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _metadata_errors(new: JSONView, old: JSONView) -> list[FieldError]:
    """ValidateObjectMetaUpdate's immutable fields."""
    errors = []
    for field in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
        if field in old and new.get(field) != old.get(field):
            errors.append(
                FieldError(
                    f"metadata.{field}", "Invalid value", "field is immutable", new.get(field), True
                )
            )
    grace = "deletionGracePeriodSeconds"
    if old.get(grace) is not None and new.get(grace) != old.get(grace):
        errors.append(
            FieldError(
                f"metadata.{grace}", "Invalid value", "field is immutable", new.get(grace), True
            )
        )
    return errors


def _annotation_errors(new: JSONView, old: JSONView) -> list[FieldError]:
    """ValidatePodSpecificAnnotationUpdates: mirror-pod and AppArmor annotations stay."""
    errors = []
    for key, value in old.items():
        if key in new and new[key] == value:
            continue
        path = f"metadata.annotations[{key}]"
        if key.startswith(_APPARMOR):
            errors.append(
                FieldError(path, "Forbidden", "may not remove or update AppArmor annotations")
            )
        if key == _MIRROR:
            errors.append(
                FieldError(path, "Forbidden", "may not remove or update mirror pod annotation")
            )
    for key in new:
        if key in old:
            continue
        path = f"metadata.annotations[{key}]"
        if key.startswith(_APPARMOR):
            errors.append(FieldError(path, "Forbidden", "may not add AppArmor annotations"))
        if key == _MIRROR:
            errors.append(FieldError(path, "Forbidden", "may not add mirror pod annotation"))
    return errors


def _container_errors(new: list[Any], old: list[Any], path: str) -> tuple[list[FieldError], bool]:
    """ValidateContainerUpdates: the same containers; each image present and trimmed."""
    if len(new) != len(old):
        return [FieldError(path, "Forbidden", "pod updates may not add or remove containers")], True
    errors = []
    for index, (container, before) in enumerate(zip(new, old, strict=True)):
        image = _mapping(container).get("image")
        had_image = bool(_mapping(before).get("image"))
        if not image:
            if had_image:  # minikubelet: an imageless container may stay imageless
                errors.append(FieldError(f"{path}[{index}].image", "Required value"))
            continue
        if isinstance(image, str) and image.strip() != image:
            errors.append(
                FieldError(
                    f"{path}[{index}].image",
                    "Invalid value",
                    "must not have leading or trailing whitespace",
                    image,
                    True,
                )
            )
    return errors, False


def _deadline_errors(new: object, old: object) -> list[FieldError]:
    path = "spec.activeDeadlineSeconds"
    if new is not None:
        if not isinstance(new, int) or isinstance(new, bool) or not 0 <= new <= _MAX_INT32:
            return [
                FieldError(
                    path,
                    "Invalid value",
                    f"must be between 0 and {_MAX_INT32}, inclusive",
                    new,
                    True,
                )
            ]
        if isinstance(old, int) and old < new:
            return [
                FieldError(
                    path, "Invalid value", "must be less than or equal to previous value", new, True
                )
            ]
        return []
    if old is not None:
        # Go prints the nil *int64 as the string "null" (field.Error.ErrorBody).
        return [
            FieldError(
                path,
                "Invalid value",
                "must not update from a positive integer to nil value",
                "null",
                True,
            )
        ]
    return []


def _toleration_errors(new: list[Any], old: list[Any]) -> list[FieldError]:
    """validateOnlyAddedTolerations: each old toleration is still there (seconds aside)."""
    for before in old:
        wanted = {k: v for k, v in _mapping(before).items() if k != "tolerationSeconds"}
        if not any(
            _same(wanted, {k: v for k, v in _mapping(after).items() if k != "tolerationSeconds"})
            for after in new
        ):
            return [
                FieldError(
                    "spec.tolerations",
                    "Forbidden",
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            ]
    return []


def _scheduling_gate_errors(new: list[Any], old: list[Any]) -> list[FieldError]:
    """validateOnlyDeletedSchedulingGates."""
    old_names = {_mapping(gate).get("name") for gate in old}
    errors = []
    for index, gate in enumerate(new):
        name = _mapping(gate).get("name")
        if name not in old_names:
            errors.append(
                FieldError(
                    f"spec.schedulingGates[{index}].name",
                    "Forbidden",
                    f"only deletion is allowed, but found new scheduling gate '{name}'",
                )
            )
    return errors


def _munged(new: JSONView, old: JSONView) -> dict[str, Any]:
    """The new spec with every field an update may change put back to its old value."""
    munged = dict(new)
    for field in ("containers", "initContainers"):
        if field in new:
            containers = []
            for container, before in zip(_list(new[field]), _list(old.get(field)), strict=False):
                copy = dict(_mapping(container))
                copy.pop("image", None)
                if "image" in _mapping(before):
                    copy["image"] = _mapping(before)["image"]
                containers.append(copy)
            munged[field] = containers
    for field in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(field, None)
        if field in old:
            munged[field] = old[field]
    old_grace = old.get("terminationGracePeriodSeconds")
    if (
        isinstance(old_grace, int)
        and old_grace < 0
        and munged.get("terminationGracePeriodSeconds") == 1
    ):
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


# -- the diff, in cmp.Diff's layout -------------------------------------------------------

_GO_NAMES = {
    "dnsPolicy": "DNSPolicy",
    "dnsConfig": "DNSConfig",
    "hostIPC": "HostIPC",
    "hostPID": "HostPID",
    "podIP": "PodIP",
    "hostIP": "HostIP",
    "tty": "TTY",
}
_TYPES = {
    "spec": "core.PodSpec",
    "containers": "core.Container",
    "initContainers": "core.Container",
    "env": "core.EnvVar",
    "ports": "core.ContainerPort",
    "volumeMounts": "core.VolumeMount",
    "volumes": "core.Volume",
    "tolerations": "core.Toleration",
}


def _go_name(field: str) -> str:
    return _GO_NAMES.get(field) or (field[:1].upper() + field[1:])


def _go_value(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return "[]string{" + ", ".join(json.dumps(item) for item in value) + "}"
        return "{" + ", ".join(_go_value(item) for item in value) + "}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_go_name(k)}: {_go_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def spec_diff(old: JSONView, new: JSONView) -> str:
    """``cmp.Diff(old, new)``'s shape: the changed fields, with ``-`` old and ``+`` new."""
    lines = ["  core.PodSpec{"]
    _diff_struct(old, new, 1, lines)
    lines.append("  }")
    return "\n".join(lines)


def _diff_struct(old: JSONView, new: JSONView, depth: int, lines: list[str]) -> None:
    indent = "  " + "\t" * depth
    identical = 0
    for key in list(dict.fromkeys([*old, *new])):
        before, after = old.get(key), new.get(key)
        if _same(before, after):
            identical += 1
            continue
        if identical:
            lines.append(f"{indent}... // {identical} identical fields")
            identical = 0
        name = _go_name(key)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            lines.append(f"{indent}{name}: {_TYPES.get(key, '')}{{")
            _diff_struct(before, after, depth + 1, lines)
            lines.append(f"{indent}}},")
        elif isinstance(before, list) and isinstance(after, list) and _objects(before, after):
            lines.append(f"{indent}{name}: []{_TYPES.get(key, 'struct')}{{")
            _diff_list(before, after, depth + 1, lines)
            lines.append(f"{indent}}},")
        else:
            if key in old:
                lines.append(f"- {indent[2:]}{name}: {_go_value(before)},")
            if key in new:
                lines.append(f"+ {indent[2:]}{name}: {_go_value(after)},")
    if identical:
        lines.append(f"{indent}... // {identical} identical fields")


def _objects(*lists: Sequence[Any]) -> bool:
    return all(isinstance(item, Mapping) for items in lists for item in items)


def _diff_list(old: list[Any], new: list[Any], depth: int, lines: list[str]) -> None:
    indent = "  " + "\t" * depth
    identical = 0
    for index in range(max(len(old), len(new))):
        before = old[index] if index < len(old) else None
        after = new[index] if index < len(new) else None
        if _same(before, after):
            identical += 1
            continue
        if identical:
            lines.append(f"{indent}... // {identical} identical elements")
            identical = 0
        if before is None or after is None:
            sign, value = ("+", after) if before is None else ("-", before)
            lines.append(f"{sign} {indent[2:]}{_go_value(value)},")
            continue
        lines.append(f"{indent}{{")
        # cmp shows the element's name for orientation when it did not change
        if "name" in before and before.get("name") == after.get("name"):
            lines.append(f"{indent}\tName: {_go_value(before['name'])},")
            before = {k: v for k, v in before.items() if k != "name"}
            after = {k: v for k, v in after.items() if k != "name"}
        _diff_struct(before, after, depth + 1, lines)
        lines.append(f"{indent}}},")
    if identical:
        lines.append(f"{indent}... // {identical} identical elements")
