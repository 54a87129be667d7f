"""Probes and lifecycle hooks: decoding, defaults and Kubernetes' validation.

Rules and messages follow ``pkg/apis/core/validation/validation.go`` (``validateProbe``,
``validateLivenessProbe``/``Readiness``/``Startup``, ``validateHandler``,
``validateHTTPGetAction``, ``ValidatePortNumOrName``, ``validateSleepAction``,
``validateLifecycle``) and defaults ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Probe``,
``SetDefaults_HTTPGetAction``). One deliberate addition: a named port in a probe or hook
must name a port of the same container, checked here rather than failing every probe later.
"""

from __future__ import annotations

from collections.abc import Mapping

from minikubelet.manifest.report import Report, child, get_int, get_list, get_map, get_str
from minikubelet.manifest.rules import (
    NEGATIVE,
    STOP_SIGNALS_LINUX,
    STOP_SIGNALS_WINDOWS,
    URI_SCHEMES,
    is_http_header_name,
    is_valid_port_name,
    is_valid_port_num,
)
from minikubelet.model.probe import ProbeKind
from minikubelet.model.spec import (
    ExecAction,
    GRPCAction,
    HookHandler,
    HTTPGetAction,
    HTTPHeader,
    Lifecycle,
    Probe,
    ProbeHandler,
    SleepAction,
    TCPSocketAction,
)

__all__ = ["decode_lifecycle", "decode_probe"]

Handler = ProbeHandler | HookHandler

# validateHandler checks the handler kinds in this order: the first one set is used and
# every later one is "may not specify more than 1 handler type".
_ORDER = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")
_PROBE_HANDLERS = frozenset({"exec", "httpGet", "tcpSocket", "grpc"})
_HOOK_HANDLERS = frozenset({"exec", "httpGet", "tcpSocket", "sleep"})

# SetDefaults_Probe: a zero (or absent) value takes the default.
_PROBE_DEFAULTS = (
    ("initialDelaySeconds", 0),
    ("timeoutSeconds", 1),
    ("periodSeconds", 10),
    ("successThreshold", 1),
    ("failureThreshold", 3),
)


class _Scope:
    """What a handler may refer to: the container's named ports, the pod's grace period."""

    def __init__(self, report: Report, port_names: frozenset[str], grace: int | None) -> None:
        self.report = report
        self.port_names = port_names
        self.grace = grace  # None when the pod's own value is invalid (already reported)


def decode_probe(
    obj: Mapping[str, object],
    path: str,
    kind: ProbeKind,
    port_names: frozenset[str],
    report: Report,
) -> Probe | None:
    scope = _Scope(report, port_names, None)
    handler = _decode_handler(obj, path, _PROBE_HANDLERS, scope)
    values: dict[str, int] = {}
    for name, default in _PROBE_DEFAULTS:
        value = get_int(obj, name)
        if value is None or (value == 0 and name != "initialDelaySeconds"):
            value = default
        elif value < 0:
            report.invalid(child(path, name), value, NEGATIVE)
        values[name] = value
    grace = get_int(obj, "terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        report.invalid(
            child(path, "terminationGracePeriodSeconds"), grace, "must be greater than 0"
        )
    if kind is not ProbeKind.READINESS and values["successThreshold"] != 1:
        report.invalid(child(path, "successThreshold"), values["successThreshold"], "must be 1")
    if kind is ProbeKind.READINESS and grace is not None:
        report.invalid(
            child(path, "terminationGracePeriodSeconds"),
            grace,
            "must not be set for readinessProbes",
        )
    if handler is None or isinstance(handler, SleepAction):
        return None
    return Probe(
        handler=handler,
        initial_delay_seconds=values["initialDelaySeconds"],
        timeout_seconds=values["timeoutSeconds"],
        period_seconds=values["periodSeconds"],
        success_threshold=values["successThreshold"],
        failure_threshold=values["failureThreshold"],
        termination_grace_period_seconds=grace,
    )


def decode_lifecycle(
    obj: Mapping[str, object],
    path: str,
    port_names: frozenset[str],
    grace: int | None,
    os_name: str | None,
    report: Report,
) -> Lifecycle:
    scope = _Scope(report, port_names, grace)
    hooks: dict[str, HookHandler | None] = {}
    for name in ("postStart", "preStop"):
        hook = get_map(obj, name)
        handler = (
            None
            if hook is None
            else _decode_handler(hook, child(path, name), _HOOK_HANDLERS, scope)
        )
        hooks[name] = None if isinstance(handler, GRPCAction) else handler
    stop_signal = get_str(obj, "stopSignal")
    if stop_signal is not None:
        # validateStopSignal: the allowed set depends on spec.os.name.
        allowed = STOP_SIGNALS_WINDOWS if os_name == "windows" else STOP_SIGNALS_LINUX
        signal_path = child(path, "stopSignal")
        if stop_signal not in allowed:
            report.not_supported(signal_path, stop_signal, sorted(allowed))
            stop_signal = None
        elif os_name is None:
            # Kubernetes rejects stopSignal without spec.os.name ("may not be set for
            # containers with empty `spec.os.name`"). Locally the OS is known, so this is
            # only a warning about running the manifest on a cluster later.
            report.warn(
                signal_path,
                "Kubernetes also requires spec.os.name (add `os: {name: linux}` to the pod "
                "spec); minikubelet uses the signal anyway",
            )
    return Lifecycle(
        post_start=hooks["postStart"], pre_stop=hooks["preStop"], stop_signal=stop_signal
    )


def _decode_handler(
    obj: Mapping[str, object], path: str, allowed: frozenset[str], scope: _Scope
) -> Handler | None:
    chosen: Handler | None = None
    found = 0
    for name in _ORDER:
        if name not in allowed or obj.get(name) is None:
            continue
        handler_path = child(path, name)
        if found:
            scope.report.forbidden(handler_path, "may not specify more than 1 handler type")
            continue
        found += 1
        body = get_map(obj, name)
        if body is not None:
            chosen = _decode_one(name, body, handler_path, scope)
    if not found:
        scope.report.required(path, "must specify a handler type")
    return chosen


def _decode_one(name: str, body: Mapping[str, object], path: str, scope: _Scope) -> Handler | None:
    report = scope.report
    if name == "exec":
        command = [item for item in get_list(body, "command") or [] if isinstance(item, str)]
        if not body.get("command"):
            report.required(child(path, "command"))
        return ExecAction(command=tuple(command))
    if name == "httpGet":
        return _decode_http_get(body, path, scope)
    if name == "tcpSocket":
        port = _port(body, child(path, "port"), scope)
        return (
            None if port is None else TCPSocketAction(port=port, host=get_str(body, "host") or None)
        )
    if name == "grpc":
        # GRPCAction.port is an int32: no named ports (validateGRPCAction).
        grpc_port = get_int(body, "port")
        if grpc_port is None:
            return None
        for message in is_valid_port_num(grpc_port):
            report.invalid(child(path, "port"), grpc_port, message)
        return GRPCAction(port=grpc_port, service=get_str(body, "service"))
    seconds = get_int(body, "seconds")
    if seconds is None:
        return None
    # validateSleepAction with PodLifecycleSleepActionAllowZero (on since 1.33, GA 1.34).
    # The error is on the `sleep` path itself, as in Kubernetes.
    if scope.grace is not None and not 0 <= seconds <= scope.grace:
        report.invalid(
            path,
            seconds,
            f"must be non-negative and less than terminationGracePeriodSeconds ({scope.grace})",
        )
    return SleepAction(seconds=seconds)


def _decode_http_get(body: Mapping[str, object], path: str, scope: _Scope) -> HTTPGetAction | None:
    report = scope.report
    port = _port(body, child(path, "port"), scope)
    scheme = get_str(body, "scheme") or "HTTP"
    if scheme not in URI_SCHEMES:
        report.not_supported(child(path, "scheme"), scheme, URI_SCHEMES)
    headers = []
    for item in get_list(body, "httpHeaders") or []:
        if not isinstance(item, Mapping):
            continue
        header_name = get_str(item, "name")
        if header_name is None:
            continue
        for message in is_http_header_name(header_name):
            # Kubernetes reports header problems on the list, not on the item.
            report.invalid(child(path, "httpHeaders"), header_name, message)
        headers.append(HTTPHeader(name=header_name, value=get_str(item, "value") or ""))
    if port is None:
        return None
    return HTTPGetAction(
        port=port,
        path=get_str(body, "path") or "/",  # SetDefaults_HTTPGetAction
        host=get_str(body, "host") or None,
        scheme=scheme,
        http_headers=tuple(headers),
    )


def _port(body: Mapping[str, object], path: str, scope: _Scope) -> int | str | None:
    """``ValidatePortNumOrName``, plus: a name must be one of the container's ports."""
    value = body.get("port")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None  # absent or of the wrong type: reported by the schema walk
    if isinstance(value, int):
        for message in is_valid_port_num(value):
            scope.report.invalid(path, value, message)
        return value
    messages = is_valid_port_name(value)
    for message in messages:
        scope.report.invalid(path, value, message)
    if not messages and value not in scope.port_names:
        declared = ", ".join(f'"{name}"' for name in sorted(scope.port_names))
        where = f"its named ports are {declared}" if declared else "it has no named ports"
        scope.report.invalid(path, value, f"must be the name of a port of this container ({where})")
    return value
