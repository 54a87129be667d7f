"""Run one probe handler once: exec, httpGet, tcpSocket or grpc.

Sources: ``pkg/kubelet/prober/prober.go runProbe``, ``pkg/probe/{exec,http,tcp,grpc}``;
``pkg/kubelet/prober/prober.go``. The result is a ProbeOutcome whose output is the text the kubelet
puts in its events (``Liveness probe failed: <output>``):

* SUCCESS / FAILURE: the probe ran and judged the container;
* WARNING: an HTTP redirect that was not followed (counts as success, ProbeWarning event);
* UNKNOWN: the probe could not run (an *error* in the kubelet's words: the exec could not
  start, a port name does not resolve, an HTTP body read broke). The kubelet retries such
  a probe up to 3 times within one tick (``maxProbeRetries``) and otherwise discards it;
  that is the worker's business, not ours.

Everything here is anyio: it runs the same under asyncio and trio.
"""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

import anyio

from minikubelet.errors import RuntimeStartError
from minikubelet.logic.environment import expand
from minikubelet.model.probe import ProbeOutcome, ProbeResult
from minikubelet.model.spec import (
    Container,
    ExecAction,
    GRPCAction,
    HTTPGetAction,
    ProbeHandler,
    TCPSocketAction,
)
from minikubelet.prober.grpc import grpc_probe
from minikubelet.prober.http import http_probe, insecure_ssl_context
from minikubelet.prober.net import (
    DEFAULT_HOST,
    DialError,
    dial,
    go_quote,
    join_host_port,
    probe_port,
)
from minikubelet.runtime.base import ContainerRuntime, Launch

__all__ = ["MAX_OUTPUT", "Prober", "exec_argv"]

MAX_OUTPUT = 10 * 1024  # exec probe output kept (pkg/probe/exec/exec.go maxReadLength)


def exec_argv(command: tuple[str, ...], container: Container) -> tuple[str, ...]:
    """``command`` with ``$(VAR)`` expanded from the container's *literal* env values.

    ``kubecontainer.ExpandContainerCommandOnlyStatic``: the map is built from each env
    entry's ``value`` alone, so a ``valueFrom`` variable expands to "" and values are not
    themselves expanded; a later duplicate name wins.
    """
    static = {var.name: var.value for var in container.env}
    return tuple(expand(part, static) for part in command)


class Prober:
    """Runs one probe handler once. One per kubelet; holds what probes share
    (the runtime that execs, the TLS context made once)."""

    def __init__(self, runtime: ContainerRuntime) -> None:
        self._runtime = runtime
        self._ssl_context = insecure_ssl_context()

    async def probe(
        self, handler: ProbeHandler, *, container: Container, launch: Launch, timeout: float
    ) -> ProbeOutcome:
        """The outcome of ``handler`` against ``container``, bounded by ``timeout`` seconds.

        ``launch`` is the container's own (working dir, env, user, process tag): an exec
        probe runs as part of the container.
        """
        match handler:
            case ExecAction(command=command):
                return await self._exec(exec_argv(command, container), launch, timeout)
            case HTTPGetAction():
                return await http_probe(handler, container, timeout, self._ssl_context)
            case TCPSocketAction(port=port, host=host):
                return await _tcp(container, host or DEFAULT_HOST, port, timeout)
            case GRPCAction():
                return await grpc_probe(handler, timeout)
            case _:
                assert_never(handler)

    async def _exec(self, argv: tuple[str, ...], launch: Launch, timeout: float) -> ProbeOutcome:
        try:
            result = await self._runtime.exec(replace(launch, argv=argv), timeout)
        except RuntimeStartError as error:
            # exec.go: anything but an exit status or a timeout is an error (Unknown).
            return ProbeOutcome(ProbeResult.UNKNOWN, str(error))
        if result.timed_out:
            # exec.go with ExecProbeTimeout (GA): a timeout is a failure, and this text
            # stands in for the (empty) output.
            return ProbeOutcome(
                ProbeResult.FAILURE, f"command {go_quote(' '.join(argv))} timed out"
            )
        output = result.output[:MAX_OUTPUT].decode(errors="replace")
        verdict = ProbeResult.SUCCESS if result.exit_code == 0 else ProbeResult.FAILURE
        return ProbeOutcome(verdict, output)


async def _tcp(container: Container, host: str, port: int | str, timeout: float) -> ProbeOutcome:
    """``pkg/probe/tcp/tcp.go DoTCPProbe``: connected means healthy; close at once."""
    try:
        number = probe_port(container, port)
    except ValueError as error:
        return ProbeOutcome(ProbeResult.UNKNOWN, str(error))
    with anyio.move_on_after(timeout):
        try:
            connection = await dial(host, number)
        except DialError as error:
            return ProbeOutcome(ProbeResult.FAILURE, str(error))
        connection.close()
        return ProbeOutcome(ProbeResult.SUCCESS)
    return ProbeOutcome(
        ProbeResult.FAILURE, f"dial tcp {join_host_port(host, number)}: i/o timeout"
    )
