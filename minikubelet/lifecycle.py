"""Lifecycle hook handlers: postStart and preStop (exec, httpGet, sleep).

Source: ``pkg/kubelet/lifecycle/handlers.go Run``; reference §6. Exec hooks run as part
of their container (its working dir, environment, user and process tag), with no
timeout of their own: the caller bounds preStop by the grace period. An httpGet hook
fails only on a transport error; its status code is ignored, as the kubelet does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from minikubelet.runtime.base import ContainerRuntime, Launch

__all__ = ["LIFECYCLE_USER_AGENT", "HookResult", "resolve_port", "run_hook"]

LIFECYCLE_USER_AGENT = "kube-lifecycle/1.34"
_DEFAULT_HOST = "127.0.0.1"  # the "pod IP" of a local pod


@dataclass(frozen=True)
class HookResult:
    ok: bool
    detail: str = ""  # for the log; events deliberately carry no details


def resolve_port(container: Container, port: int | str) -> int:
    """A port number, or a named port of ``container`` (validated at parse time)."""
    if isinstance(port, int):
        return port
    for declared in container.ports:
        if declared.name == port:
            return declared.container_port
    raise ValueError(f'port "{port}" is not a named port of container "{container.name}"')


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
            return await _http_hook(handler, container)
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


async def _http_hook(action: HTTPGetAction, container: Container) -> HookResult:
    import httpx  # deferred: the CLI's client commands never need it

    host = action.host or _DEFAULT_HOST
    port = resolve_port(container, action.port)
    path = action.path if action.path.startswith("/") else "/" + action.path
    headers = {"User-Agent": LIFECYCLE_USER_AGENT}
    headers.update({h.name: h.value for h in action.http_headers})
    scheme = action.scheme.lower()
    async with httpx.AsyncClient(verify=False, follow_redirects=False) as client:
        try:
            await client.get(f"{scheme}://{host}:{port}{path}", headers=headers)
        except httpx.HTTPError as error:
            if scheme != "https":
                return HookResult(False, f"HTTP lifecycle hook ({path}) failed: {error}")
            # The kubelet retries an HTTPS hook over plain HTTP (LifecycleHTTPFallback).
            try:
                await client.get(f"http://{host}:{port}{path}", headers=headers)
            except httpx.HTTPError as fallback:
                return HookResult(False, f"HTTP lifecycle hook ({path}) failed: {fallback}")
    return HookResult(True)
