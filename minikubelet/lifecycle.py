"""Lifecycle hook handlers: postStart and preStop (exec, httpGet, sleep).

Source: ``pkg/kubelet/lifecycle/handlers.go Run``. Exec hooks run as part of their
container (its working dir, environment, user and process tag), with no timeout of their
own: the caller bounds preStop by the grace period. An httpGet hook is the prober's own
request (``prober/http.py``: the kubelet's lifecycle handler reuses the prober's
``NewRequestForHTTPGetAction``) with ``User-Agent: kube-lifecycle/1.34``; it fails only on a
transport error, its status code is ignored, and an HTTPS hook answered in plain HTTP is
retried over HTTP, with a ``LifecycleHTTPFallback`` Warning event when that works.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from functools import cache
from typing import assert_never

import anyio

from minikubelet.errors import RuntimeStartError
from minikubelet.model.spec import (
    Container,
    ExecAction,
    HookHandler,
    HTTPGetAction,
    SleepAction,
    TCPSocketAction,
)
from minikubelet.prober.http import (
    LIFECYCLE_USER_AGENT,
    HTTPFailure,
    http_get,
    insecure_ssl_context,
)
from minikubelet.prober.net import DEFAULT_HOST, join_host_port, probe_port
from minikubelet.runtime.base import ContainerRuntime, Launch

__all__ = ["LIFECYCLE_USER_AGENT", "HookResult", "run_hook"]

_HTTP_RESPONSE_TO_HTTPS = "server gave HTTP response to HTTPS client"  # isHTTPResponseError


@dataclass(frozen=True)
class HookResult:
    ok: bool
    detail: str = ""  # for the log; events deliberately carry no details
    warning: tuple[str, str] | None = None  # (reason, message): a Warning event on the pod


@cache
def _ssl_context() -> ssl.SSLContext:
    return insecure_ssl_context()


async def run_hook(
    handler: HookHandler,
    container: Container,
    runtime: ContainerRuntime,
    launch: Launch,
    pod_label: str,
) -> HookResult:
    """Run one hook handler to completion; ``pod_label`` is ``name_namespace(uid)``."""
    match handler:
        case ExecAction(command=command):
            try:
                result = await runtime.exec(replace(launch, argv=command), timeout=None)
            except RuntimeStartError as error:
                return HookResult(
                    False, _exec_failure(command, container, pod_label, str(error), b"")
                )
            if result.exit_code == 0:
                return HookResult(True)
            reason = f"command '{' '.join(command)}' exited with {result.exit_code}: "
            return HookResult(
                False, _exec_failure(command, container, pod_label, reason, result.output)
            )
        case HTTPGetAction():
            return await _http_hook(handler, container, pod_label)
        case SleepAction(seconds=seconds):
            await anyio.sleep(seconds)
            return HookResult(True)
        case TCPSocketAction():
            return HookResult(
                False, "invalid handler: tcpSocket cannot be used as a lifecycle hook"
            )
        case _:
            assert_never(handler)


def _exec_failure(
    command: tuple[str, ...], container: Container, pod_label: str, error: str, output: bytes
) -> str:
    return (
        f'Exec lifecycle hook ({list(command)}) for Container "{container.name}" in Pod '
        f'"{pod_label}" failed - error: {error}, message: "{output.decode(errors="replace")}"'
    )


async def _http_hook(action: HTTPGetAction, container: Container, pod_label: str) -> HookResult:
    def failed(error: str) -> HookResult:
        return HookResult(
            False,
            f'HTTP lifecycle hook ({action.path}) for Container "{container.name}" in Pod '
            f'"{pod_label}" failed - error: {error}',
        )

    try:
        answer = await http_get(action, container, _ssl_context(), user_agent=LIFECYCLE_USER_AGENT)
    except ValueError as error:
        return failed(str(error))
    if not isinstance(answer, HTTPFailure):
        return HookResult(True)  # whatever the status: only a transport error fails a hook
    https = (action.scheme or "HTTP").upper() == "HTTPS"
    if not https or _HTTP_RESPONSE_TO_HTTPS not in answer.error:
        return failed(answer.error)
    retry = await http_get(
        action,
        container,
        _ssl_context(),
        user_agent=LIFECYCLE_USER_AGENT,
        plain_fallback=True,
    )
    if isinstance(retry, HTTPFailure):
        return failed(answer.error)
    host = join_host_port(action.host or DEFAULT_HOST, probe_port(container, action.port))
    message = f"request to HTTPS lifecycle hook {host} got HTTP response, retry with HTTP succeeded"
    return HookResult(True, warning=("LifecycleHTTPFallback", message))
