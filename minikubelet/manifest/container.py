"""One container (regular, init or sidecar): decoding, defaults and validation.

Rules and messages follow ``pkg/apis/core/validation/validation.go``
(``validateContainerCommon``, ``validateContainers``, ``validateInitContainers``,
``validateContainerPorts``, ``ValidateContainerResourceRequirements``,
``ValidateSecurityContext``) and ``pkg/apis/core/v1/defaults.go``; ``env`` is in ``env.py``,
probes and hooks in ``handlers.py``. Where minikubelet differs from Kubernetes it says why:
``command`` is required (there is no image entrypoint), ``image`` is not (there is no image).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from minikubelet.manifest.env import EnvRefs, decode_env, decode_env_from
from minikubelet.manifest.handlers import decode_lifecycle, decode_probe
from minikubelet.manifest.report import (
    Report,
    child,
    get_int,
    get_list,
    get_map,
    get_quantity,
    get_str,
    index,
    is_set,
    key,
)
from minikubelet.manifest.rules import (
    IMAGE_PULL_POLICIES,
    NEGATIVE,
    PORT_PROTOCOLS,
    TERMINATION_MESSAGE_POLICIES,
    inclusive_range_error,
    is_dns1123_label,
    is_valid_port_name,
    is_valid_port_num,
)
from minikubelet.manifest.support import UNSUPPORTED
from minikubelet.model.probe import ProbeKind
from minikubelet.model.spec import (
    Container,
    ContainerPort,
    Lifecycle,
    Probe,
    Quantity,
    ResourceRequirements,
    RestartPolicy,
    SecurityContext,
    TerminationMessagePolicy,
)

__all__ = ["PodContext", "Role", "decode_container", "decode_security_context"]

NO_ENTRYPOINT = "minikubelet runs the command directly and there is no image entrypoint"
_MAX_INT32 = 2**31 - 1


class Role(Enum):
    REGULAR = "containers"
    INIT = "initContainers"


@dataclass
class PodContext:
    """What the pod around a container contributes to decoding it."""

    report: Report
    grace: int | None  # terminationGracePeriodSeconds; None when invalid (already reported)
    os_name: str | None
    security: SecurityContext
    # references across containers (env resourceFieldRef.containerName), checked at the end
    env_refs: EnvRefs


def decode_container(obj: object, path: str, role: Role, ctx: PodContext) -> Container | None:
    if obj is None:
        # ``containers: [null]`` decodes to a zero Container in Kubernetes, which then fails
        # validation; skipping it made a pod with no container at all (found by fuzzing).
        ctx.report.required(child(path, "name"))  # the schema walk sees no mapping here
        obj = {}
    if not isinstance(obj, Mapping):
        return None  # reported by the schema walk
    report = ctx.report
    name = get_str(obj, "name")
    if name == "":
        report.required(child(path, "name"))
    for message in is_dns1123_label(name) if name else ():
        report.invalid(child(path, "name"), name, message)
    command = _command(obj, path, report)
    image = get_str(obj, "image") or ""
    if image != image.strip():
        report.invalid(child(path, "image"), image, "must not have leading or trailing whitespace")
    policy = _termination_message_policy(obj, path, report)
    ports = _ports(obj, child(path, "ports"), report)
    port_names = frozenset(port.name for port in ports if port.name)
    env = tuple(decode_env(get_list(obj, "env") or [], child(path, "env"), ctx.env_refs))
    env_from = tuple(
        decode_env_from(get_list(obj, "envFrom") or [], child(path, "envFrom"), report)
    )
    pull_policy = get_str(obj, "imagePullPolicy")
    if pull_policy and pull_policy not in IMAGE_PULL_POLICIES:
        report.not_supported(child(path, "imagePullPolicy"), pull_policy, IMAGE_PULL_POLICIES)
    resources = _resources(get_map(obj, "resources") or {}, child(path, "resources"), report)
    own = decode_security_context(get_map(obj, "securityContext"), path, report)
    pod_security = ctx.security
    security = SecurityContext(
        run_as_user=own.run_as_user if own.run_as_user is not None else pod_security.run_as_user,
        run_as_group=(
            own.run_as_group if own.run_as_group is not None else pod_security.run_as_group
        ),
        run_as_non_root=(
            own.run_as_non_root if own.run_as_non_root is not None else pod_security.run_as_non_root
        ),
        supplemental_groups=pod_security.supplemental_groups,
    )
    restart_policy = _restart_policy(obj, path, role, report)

    lifecycle = Lifecycle()
    probes: dict[ProbeKind, Probe | None] = {}
    if role is Role.REGULAR or restart_policy is RestartPolicy.ALWAYS:
        body = get_map(obj, "lifecycle")
        if body is not None:
            lifecycle = decode_lifecycle(
                body, child(path, "lifecycle"), port_names, ctx.grace, ctx.os_name, report
            )
        for kind in ProbeKind:
            probe = get_map(obj, kind.field)
            if probe is not None:
                probes[kind] = decode_probe(
                    probe, child(path, kind.field), kind, port_names, report
                )
    else:
        # validateInitContainers: a regular init container runs to completion once.
        for forbidden in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if is_set(obj, forbidden):
                report.forbidden(
                    child(path, forbidden),
                    "may not be set for init containers without restartPolicy=Always",
                )

    return Container(
        name=name or "",
        command=command,
        args=tuple(item for item in get_list(obj, "args") or [] if isinstance(item, str)),
        image=image,
        working_dir=get_str(obj, "workingDir") or None,
        env=env,
        env_from=env_from,
        ports=ports,
        resources=resources,
        lifecycle=lifecycle,
        liveness_probe=probes.get(ProbeKind.LIVENESS),
        readiness_probe=probes.get(ProbeKind.READINESS),
        startup_probe=probes.get(ProbeKind.STARTUP),
        security_context=security,
        # "" is defaulted to /dev/termination-log by Kubernetes: None means that default.
        termination_message_path=get_str(obj, "terminationMessagePath") or None,
        termination_message_policy=policy,
        restart_policy=restart_policy,
    )


def decode_security_context(
    obj: Mapping[str, object] | None, path: str, report: Report
) -> SecurityContext:
    """``runAsUser``/``runAsGroup``/``runAsNonRoot`` of a pod or container, and a pod's
    ``supplementalGroups`` (``IsValidUserID``/``IsValidGroupID``: 0 to 2^31-1)."""
    if obj is None:
        return SecurityContext()
    here = child(path, "securityContext")
    values: dict[str, int | None] = {}
    for name in ("runAsUser", "runAsGroup"):
        value = get_int(obj, name)
        if value is not None and not 0 <= value <= _MAX_INT32:
            report.invalid(child(here, name), value, inclusive_range_error(0, _MAX_INT32))
        values[name] = value
    groups = []
    for position, group in enumerate(get_list(obj, "supplementalGroups") or []):
        if isinstance(group, bool) or not isinstance(group, int):
            continue  # a wrong type is reported by the schema walk
        if not 0 <= group <= _MAX_INT32:
            where = index(child(here, "supplementalGroups"), position)
            report.invalid(where, group, inclusive_range_error(0, _MAX_INT32))
        groups.append(group)
    non_root = obj.get("runAsNonRoot")
    return SecurityContext(
        run_as_user=values["runAsUser"],
        run_as_group=values["runAsGroup"],
        run_as_non_root=non_root if isinstance(non_root, bool) else None,
        supplemental_groups=tuple(groups),
    )


def _command(obj: Mapping[str, object], path: str, report: Report) -> tuple[str, ...]:
    value = obj.get("command")
    if value is None or value == []:
        if get_list(obj, "args"):
            detail = (
                f"{NO_ENTRYPOINT}; args is set but command is not: put the executable "
                "in command (args are appended to it)"
            )
        else:
            detail = f"{NO_ENTRYPOINT}; set command (and args)"
        report.required(child(path, "command"), detail)
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _termination_message_policy(
    obj: Mapping[str, object], path: str, report: Report
) -> TerminationMessagePolicy:
    value = get_str(obj, "terminationMessagePolicy")
    if not value:  # absent or "": defaulted to File
        return TerminationMessagePolicy.FILE
    if value not in TERMINATION_MESSAGE_POLICIES:
        report.not_supported(
            child(path, "terminationMessagePolicy"), value, TERMINATION_MESSAGE_POLICIES
        )
        return TerminationMessagePolicy.FILE
    return TerminationMessagePolicy(value)


def _restart_policy(
    obj: Mapping[str, object], path: str, role: Role, report: Report
) -> RestartPolicy | None:
    if not is_set(obj, "restartPolicy"):
        return None
    policy_path = child(path, "restartPolicy")
    if role is Role.REGULAR:
        report.forbidden(policy_path, "may not be set for non-init containers")
        return None
    value = get_str(obj, "restartPolicy")
    if value is None:
        return None
    if value != RestartPolicy.ALWAYS:
        report.not_supported(policy_path, value, [RestartPolicy.ALWAYS.value])
        return None
    return RestartPolicy.ALWAYS


def _ports(obj: Mapping[str, object], path: str, report: Report) -> tuple[ContainerPort, ...]:
    ports = []
    names: set[str] = set()
    for i, item in enumerate(get_list(obj, "ports") or []):
        if not isinstance(item, Mapping):
            continue
        port_path = index(path, i)
        name = get_str(item, "name") or None
        if name is not None:
            messages = is_valid_port_name(name)
            for message in messages:
                report.invalid(child(port_path, "name"), name, message)
            if not messages and name in names:
                report.duplicate(child(port_path, "name"), name)
            names.add(name)
        number = get_int(item, "containerPort")
        if number == 0:
            report.required(child(port_path, "containerPort"))
        for message in is_valid_port_num(number) if number else ():
            report.invalid(child(port_path, "containerPort"), number, message)
        host_port = get_int(item, "hostPort")
        if host_port:
            messages = is_valid_port_num(host_port)
            for message in messages:
                report.invalid(child(port_path, "hostPort"), host_port, message)
            if not messages and host_port != number:
                report.warn(
                    child(port_path, "hostPort"),
                    "not supported by minikubelet (the process listens on the host itself, "
                    "on containerPort); ignored",
                )
        protocol = get_str(item, "protocol") or "TCP"  # SetDefaults_ContainerPort
        if protocol not in PORT_PROTOCOLS:
            report.not_supported(child(port_path, "protocol"), protocol, PORT_PROTOCOLS)
        ports.append(ContainerPort(container_port=number or 0, name=name, protocol=protocol))
    return tuple(ports)


def _resources(obj: Mapping[str, object], path: str, report: Report) -> ResourceRequirements:
    sections: dict[str, dict[str, Quantity]] = {}
    for section in ("limits", "requests"):
        sections[section] = parsed = {}
        section_map = get_map(obj, section) or {}
        for name in section_map:
            if not isinstance(name, str):
                continue  # reported by the schema walk
            entry_path = key(child(path, section), name)
            if name not in ("cpu", "memory"):
                if name == "ephemeral-storage" or name.startswith("hugepages-") or "/" in name:
                    report.warn(entry_path, UNSUPPORTED)
                else:
                    report.invalid(entry_path, name, "must be a standard resource for containers")
                continue
            quantity = get_quantity(section_map, name)
            if quantity is None:
                continue  # reported by the schema walk
            if quantity.value < 0:
                report.invalid(entry_path, quantity.text, NEGATIVE)
                continue
            if name == "memory" and quantity.value.denominator != 1:
                # pkg/api/pod/warnings.go: Kubernetes warns, and so do we.
                report.warn(
                    entry_path,
                    f'fractional byte value "{quantity.text}" is invalid, must be an integer',
                )
            parsed[name] = quantity
    limits, requests = sections["limits"], sections["requests"]
    for name, limit in limits.items():
        requests.setdefault(name, limit)  # SetDefaults_Pod: requests default to limits
    for name in sorted(requests):
        if name in limits and requests[name].value > limits[name].value:
            report.invalid(
                child(path, "requests"),
                requests[name].text,
                f"must be less than or equal to {name} limit of {limits[name].text}",
            )
    return ResourceRequirements(limits=limits, requests=requests)
