"""``describe pod``: a port of kubectl's pod describer (``describePod`` and its helpers).

Lines are written with tabs the way kubectl writes them and aligned by the same tab writer
(minimum width 0, padding 2), so blocks realign where kubectl's do; the events table is
flushed separately, as kubectl does. Values missing from the JSON get Kubernetes' defaults
where kubectl would see a defaulted object (probe timings, ``httpGet`` scheme and path).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from minikubelet.api.types import JSONView
from minikubelet.cli.client.humanize import describe_time, parse_time, since
from minikubelet.cli.client.tabwriter import tabulate

__all__ = ["describe_events", "describe_pod", "describe_probe", "describe_trace"]


_MAX_ANNOTATION = 140
_SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
_PROBE_DEFAULTS = {
    "initialDelaySeconds": 0,
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}


def _mapping(value: object) -> JSONView:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Writer:
    """kubectl's ``PrefixWriter``: two spaces of indent per level."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self.parts.append("  " * level + text)

    def text(self) -> str:
        return "".join(self.parts)


def _labels(w: _Writer, title: str, labels: JSONView) -> None:
    w.write(0, f"{title}:\t")
    if not labels:
        w.write(0, "<none>\n")
        return
    for number, key in enumerate(sorted(labels)):
        if number:
            w.write(0, "\t")
        w.write(0, f"{key}={_text(labels[key])}\n")


def _shorten(text: str, limit: int) -> str:
    return text[:limit] + "..." if len(text) > limit else text


def _annotations(w: _Writer, title: str, annotations: JSONView) -> None:
    w.write(0, f"{title}:\t")
    keys = sorted(key for key in annotations if key not in _SKIPPED_ANNOTATIONS)
    if not keys:
        w.write(0, "<none>\n")
        return
    for number, key in enumerate(keys):
        if number:
            w.write(0, "\t")
        value = _text(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION or "\n" in value:
            w.write(0, f"{key}:\n")
            for line in value.split("\n"):
                w.write(0, f"\t  {_shorten(line, _MAX_ANNOTATION - 2)}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def _go_list(values: Sequence[object]) -> str:
    """A Go ``%v`` of a string slice: ``[sh -c echo hi]``."""
    return "[" + " ".join(_text(value) for value in values) + "]"


def describe_probe(probe: JSONView) -> str:
    """kubectl's one-line probe: ``http-get http://:8080/healthz delay=0s timeout=1s ...``."""
    values = {key: probe.get(key, default) for key, default in _PROBE_DEFAULTS.items()}
    attrs = (
        f"delay={values['initialDelaySeconds']}s timeout={values['timeoutSeconds']}s "
        f"period={values['periodSeconds']}s #success={values['successThreshold']} "
        f"#failure={values['failureThreshold']}"
    )
    if "exec" in probe:
        return f"exec {_go_list(_list(_mapping(probe['exec']).get('command')))} {attrs}"
    if "httpGet" in probe:
        action = _mapping(probe["httpGet"])
        scheme = _text(action.get("scheme") or "HTTP").lower()
        host = _text(action.get("host"))
        port = _text(action.get("port"))
        if ":" in host:
            host = f"[{host}]"
        address = f"{host}:{port}" if port else host
        path = _text(action.get("path") or "/")
        if not path.startswith("/"):
            path = "/" + path
        return f"http-get {scheme}://{address}{path} {attrs}"
    if "tcpSocket" in probe:
        action = _mapping(probe["tcpSocket"])
        return f"tcp-socket {_text(action.get('host'))}:{_text(action.get('port'))} {attrs}"
    if "grpc" in probe:
        action = _mapping(probe["grpc"])
        return f"grpc <pod>:{_text(action.get('port'))} {_text(action.get('service'))} {attrs}"
    return f"unknown {attrs}"


def _state(w: _Writer, title: str, state: JSONView) -> None:
    if "running" in state:
        running = _mapping(state["running"])
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{describe_time(running.get('startedAt'))}\n")
    elif "terminated" in state:
        terminated = _mapping(state["terminated"])
        w.write(2, f"{title}:\tTerminated\n")
        if terminated.get("reason"):
            w.write(3, f"Reason:\t{terminated['reason']}\n")
        if terminated.get("message"):
            w.write(3, f"Message:\t{terminated['message']}\n")
        w.write(3, f"Exit Code:\t{_text(terminated.get('exitCode', 0))}\n")
        signal = terminated.get("signal")
        if isinstance(signal, int) and signal > 0:
            w.write(3, f"Signal:\t{signal}\n")
        w.write(3, f"Started:\t{describe_time(terminated.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{describe_time(terminated.get('finishedAt'))}\n")
    else:
        waiting = _mapping(state.get("waiting"))
        w.write(2, f"{title}:\tWaiting\n")
        if waiting.get("reason"):
            w.write(3, f"Reason:\t{waiting['reason']}\n")


_FIELD_PATH = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


def _field_ref(pod: JSONView, path: str) -> str:
    metadata, spec, status = (_mapping(pod.get(key)) for key in ("metadata", "spec", "status"))
    match = _FIELD_PATH.match(path)
    if match:
        return _text(_mapping(metadata.get(match.group(1))).get(match.group(2)))
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.hostIPs": ",".join(
            _text(_mapping(i).get("ip")) for i in _list(status.get("hostIPs"))
        ),
        "status.podIPs": ",".join(
            _text(_mapping(i).get("ip")) for i in _list(status.get("podIPs"))
        ),
    }
    return _text(simple.get(path))


def _environment(w: _Writer, pod: JSONView, container: JSONView) -> None:
    env = [_mapping(item) for item in _list(container.get("env"))]
    w.write(2, "Environment:\t<none>\n" if not env else "Environment:\n")
    for item in env:
        name = _text(item.get("name"))
        source = _mapping(item.get("valueFrom"))
        if not source:
            for number, line in enumerate(_text(item.get("value")).split("\n")):
                w.write(3, f"{name}:\t{line}\n" if number == 0 else f"\t{line}\n")
        elif "fieldRef" in source:
            ref = _mapping(source["fieldRef"])
            path = _text(ref.get("fieldPath"))
            version = _text(ref.get("apiVersion") or "v1")
            w.write(3, f"{name}:\t{_field_ref(pod, path)} ({version}:{path})\n")
        elif "resourceFieldRef" in source:
            resource = _text(_mapping(source["resourceFieldRef"]).get("resource"))
            kind, _, key = resource.partition(".")
            value = _text(_mapping(_mapping(container.get("resources")).get(kind)).get(key))
            if not value and kind == "limits":
                value = "node allocatable"
            w.write(3, f"{name}:\t{value} ({resource})\n")
        elif "secretKeyRef" in source or "configMapKeyRef" in source:
            secret = "secretKeyRef" in source
            ref = _mapping(source["secretKeyRef" if secret else "configMapKeyRef"])
            optional = "true" if ref.get("optional") is True else "false"
            where = (
                f"in secret '{ref.get('name', '')}'"
                if secret
                else (f"of config map '{ref.get('name', '')}'")
            )
            w.write(
                3,
                f"{name}:\t<set to the key '{ref.get('key', '')}' {where}>\tOptional: {optional}\n",
            )


def _resources(w: _Writer, resources: JSONView) -> None:
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        values = _mapping(resources.get(key))
        if values:
            w.write(2, f"{title}:\n")
        for name in sorted(values):
            w.write(3, f"{name}:\t{_text(values[name])}\n")


def _ports(ports: list[JSONView], key: str) -> str:
    return ", ".join(f"{_text(p.get(key, 0))}/{_text(p.get('protocol') or 'TCP')}" for p in ports)


def _containers(
    w: _Writer, title: str, pod: JSONView, containers: list[JSONView], statuses: list[JSONView]
) -> None:
    by_name = {status.get("name"): status for status in statuses}
    w.write(0, f"{title}:{'' if containers else ' <none>'}\n")
    for container in containers:
        status = by_name.get(container.get("name"))
        w.write(1, f"{_text(container.get('name'))}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{_text(status.get('containerID'))}\n")
        w.write(2, f"Image:\t{_text(container.get('image'))}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{_text(status.get('imageID'))}\n")
        ports = [_mapping(port) for port in _list(container.get("ports"))]
        for label, key in (("Port", "containerPort"), ("Host Port", "hostPort")):
            text = _ports(ports, key)
            if "," in text:
                w.write(2, f"{label}s:\t{text}\n")
            else:
                w.write(2, f"{label}:\t{text or '<none>'}\n")
        for label, key in (("Command", "command"), ("Args", "args")):
            values = _list(container.get(key))
            if values:
                w.write(2, f"{label}:\n")
                for value in values:
                    for line in _text(value).split("\n"):
                        w.write(3, f"{line}\n")
        if status is not None:
            _state(w, "State", _mapping(status.get("state")))
            last = _mapping(status.get("lastState"))
            if "terminated" in last:
                _state(w, "Last State", last)
            w.write(2, f"Ready:\t{'True' if status.get('ready') is True else 'False'}\n")
            w.write(2, f"Restart Count:\t{_text(status.get('restartCount', 0))}\n")
        _resources(w, _mapping(container.get("resources")))
        for label, key in (
            ("Liveness", "livenessProbe"),
            ("Readiness", "readinessProbe"),
            ("Startup", "startupProbe"),
        ):
            if isinstance(container.get(key), Mapping):
                w.write(2, f"{label}:\t{describe_probe(container[key])}\n")
        _environment(w, pod, container)
        mounts = sorted(
            (_mapping(mount) for mount in _list(container.get("volumeMounts"))),
            key=lambda mount: _text(mount.get("mountPath")),
        )
        w.write(2, "Mounts:\t<none>\n" if not mounts else "Mounts:\n")
        for mount in mounts:
            flags = ["ro" if mount.get("readOnly") is True else "rw"]
            if mount.get("subPath"):
                flags.append(f'path="{mount["subPath"]}"')
            w.write(
                3,
                f"{_text(mount.get('mountPath'))} from {_text(mount.get('name'))} "
                f"({','.join(flags)})\n",
            )


def _volume(w: _Writer, volume: JSONView) -> None:
    w.write(1, f"{_text(volume.get('name'))}:\n")
    if "emptyDir" in volume:
        source = _mapping(volume["emptyDir"])
        w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n")
        w.write(2, f"Medium:\t{_text(source.get('medium'))}\n")
        w.write(2, f"SizeLimit:\t{_text(source.get('sizeLimit')) or '<unset>'}\n")
    elif "hostPath" in volume:
        source = _mapping(volume["hostPath"])
        w.write(2, "Type:\tHostPath (bare host directory volume)\n")
        w.write(2, f"Path:\t{_text(source.get('path'))}\n")
        w.write(2, f"HostPathType:\t{_text(source.get('type')) or '<none>'}\n")
    elif "configMap" in volume:
        source = _mapping(volume["configMap"])
        w.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n")
        w.write(2, f"Name:\t{_text(source.get('name'))}\n")
        w.write(2, f"Optional:\t{'true' if source.get('optional') is True else 'false'}\n")
    elif "secret" in volume:
        source = _mapping(volume["secret"])
        w.write(2, "Type:\tSecret (a volume populated by a Secret)\n")
        w.write(2, f"SecretName:\t{_text(source.get('secretName'))}\n")
        w.write(2, f"Optional:\t{'true' if source.get('optional') is True else 'false'}\n")
    else:
        w.write(1, "<unknown>\n")


def _tolerations(w: _Writer, tolerations: list[JSONView]) -> None:
    w.write(0, "Tolerations:\t")
    if not tolerations:
        w.write(0, "<none>\n")
        return
    for number, toleration in enumerate(tolerations):
        if number:
            w.write(0, "\t")
        text = _text(toleration.get("key"))
        if toleration.get("value"):
            text += f"={toleration['value']}"
        if toleration.get("effect"):
            text += f":{toleration['effect']}"
        if toleration.get("operator") == "Exists" and not toleration.get("value"):
            text += " op=Exists"
        seconds = toleration.get("tolerationSeconds")
        if seconds is not None:
            text += f" for {seconds}s"
        w.write(0, text + "\n")


def describe_events(events: Sequence[JSONView], now: datetime) -> str:
    """The ``Events:`` section (kubectl's ``DescribeEvents``), or ``Events:  <none>``."""
    return tabulate(_events(events, now))


def _events(events: Sequence[JSONView], now: datetime) -> str:
    w = _Writer()
    if not events:
        return "Events:\t<none>\n"

    def last_seen(event: JSONView) -> datetime:
        moment = parse_time(event.get("lastTimestamp")) or parse_time(event.get("eventTime"))
        return moment or datetime.min.replace(tzinfo=now.tzinfo)

    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for event in sorted(events, key=last_seen):
        first = event.get("eventTime") or event.get("firstTimestamp")
        first_seen = since(first, now)
        count = event.get("count")
        series = _mapping(event.get("series"))
        if series:
            interval = (
                f"{since(series.get('lastObservedTime'), now)} "
                f"(x{_text(series.get('count'))} over {first_seen})"
            )
        elif isinstance(count, int) and count > 1:
            interval = f"{since(event.get('lastTimestamp'), now)} (x{count} over {first_seen})"
        else:
            interval = first_seen
        source = _text(_mapping(event.get("source")).get("component")) or _text(
            event.get("reportingComponent")
        )
        message = _text(event.get("message")).strip()
        w.write(
            1,
            f"{_text(event.get('type'))}\t{_text(event.get('reason'))}\t{interval}\t{source}\t"
            f"{message}\n",
        )
    return w.text()


def describe_trace(trace: JSONView) -> str:
    """minikubelet's addition: each container's last termination, step by step.

    ``trace`` is the ``PodTrace`` of ``GET .../pods/{name}/trace``; empty when no
    container has been stopped yet.
    """
    lines = []
    for container in [_mapping(c) for c in _list(trace.get("containers"))]:
        steps = [_mapping(step) for step in _list(container.get("lastTermination"))]
        if not steps:
            continue
        lines.append(f"Last Termination ({_text(container.get('name'))}):\n")
        for step in steps:
            offset = float(step.get("offset") or 0.0)
            lines.append(
                f"  +{offset:.3f}s  {_text(step.get('step')):<10} {_text(step.get('detail'))}\n"
            )
    return "".join(lines)


def describe_pod(
    pod: JSONView, events: Sequence[JSONView] | None, now: datetime, trace: JSONView | None = None
) -> str:
    """The full ``describe pod`` text; ``events`` None leaves the section out."""
    metadata, spec, status = (_mapping(pod.get(key)) for key in ("metadata", "spec", "status"))
    w = _Writer()
    w.write(0, f"Name:\t{_text(metadata.get('name'))}\n")
    w.write(0, f"Namespace:\t{_text(metadata.get('namespace'))}\n")
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{_text(spec['priority'])}\n")
    if spec.get("priorityClassName"):
        w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("runtimeClassName"):
        w.write(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("nodeName"):
        w.write(0, f"Node:\t{spec['nodeName']}/{_text(status.get('hostIP'))}\n")
    else:
        w.write(0, "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{describe_time(status['startTime'])}\n")
    _labels(w, "Labels", _mapping(metadata.get("labels")))
    _annotations(w, "Annotations", _mapping(metadata.get("annotations")))
    phase = _text(status.get("phase"))
    if metadata.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {since(metadata['deletionTimestamp'], now)})\n")
        grace = metadata.get("deletionGracePeriodSeconds")
        w.write(0, f"Termination Grace Period:\t{_text(grace if grace is not None else 0)}s\n")
    else:
        w.write(0, f"Status:\t{phase}\n")
    if status.get("reason"):
        w.write(0, f"Reason:\t{status['reason']}\n")
    if status.get("message"):
        w.write(0, f"Message:\t{status['message']}\n")
    w.write(0, f"IP:\t{_text(status.get('podIP'))}\n")
    pod_ips = [_mapping(item) for item in _list(status.get("podIPs"))]
    if not pod_ips:
        w.write(0, "IPs:\t<none>\n")
    else:
        w.write(0, "IPs:\n")
        for item in pod_ips:
            w.write(1, f"IP:\t{_text(item.get('ip'))}\n")
    if status.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
    init_containers = [_mapping(c) for c in _list(spec.get("initContainers"))]
    if init_containers:
        _containers(
            w,
            "Init Containers",
            pod,
            init_containers,
            [_mapping(s) for s in _list(status.get("initContainerStatuses"))],
        )
    _containers(
        w,
        "Containers",
        pod,
        [_mapping(c) for c in _list(spec.get("containers"))],
        [_mapping(s) for s in _list(status.get("containerStatuses"))],
    )
    conditions = [_mapping(c) for c in _list(status.get("conditions"))]
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for condition in conditions:
            w.write(1, f"{_text(condition.get('type'))} \t{_text(condition.get('status'))} \n")
    volumes = [_mapping(v) for v in _list(spec.get("volumes"))]
    if not volumes:
        w.write(0, "Volumes:\t<none>\n")
    else:
        w.write(0, "Volumes:\n")
        for volume in volumes:
            _volume(w, volume)
    w.write(0, f"QoS Class:\t{_text(status.get('qosClass') or 'BestEffort')}\n")
    containment = _mapping((trace or {}).get("containment"))
    if containment.get("mode"):
        # minikubelet's addition: how the containers are contained (cgroups, or none and why)
        mode, reason = _text(containment.get("mode")), _text(containment.get("reason"))
        w.write(0, f"Containment:\t{mode}: {reason}\n")
    _labels(w, "Node-Selectors", _mapping(spec.get("nodeSelector")))
    _tolerations(w, [_mapping(t) for t in _list(spec.get("tolerations"))])
    if events is not None and not events:
        w.write(0, _events(events, now))  # written before the flush, so aligned with QoS Class
    text = tabulate(w.text())
    if trace:
        text += describe_trace(trace)
    if events:
        text += describe_events(events, now)
    return text
