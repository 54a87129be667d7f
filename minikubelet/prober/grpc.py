"""gRPC probes: ``grpc.health.v1.Health/Check``, worded as ``pkg/probe/grpc/grpc.go``.

grpcio is an optional extra (``pip install 'minikubelet[grpc]'``). Its asyncio API does
not run under trio, so the probe uses the blocking API in a worker thread, with the
probe's timeout as the deadline of the whole thing (connect and RPC), as the kubelet's
single ``context.WithTimeout`` does. The thread is abandoned if the caller is
cancelled; it ends by itself at that deadline.
"""

from __future__ import annotations

import time

import anyio.to_thread

from minikubelet.model.probe import ProbeOutcome, ProbeResult
from minikubelet.model.spec import GRPCAction
from minikubelet.prober.http import PROBE_USER_AGENT
from minikubelet.prober.net import DEFAULT_HOST, go_duration, go_quote, join_host_port

__all__ = ["GRPC_MISSING", "grpc_probe"]

GRPC_MISSING = "gRPC probes need the optional extra: pip install 'minikubelet[grpc]'"

_CHECK = "/grpc.health.v1.Health/Check"

# Go's codes.Code.String() where it differs from title-casing grpcio's enum name.
_GO_CODE_NAMES = {"CANCELLED": "Canceled", "OK": "OK"}


def _go_code(name: str) -> str:
    return _GO_CODE_NAMES.get(name) or "".join(part.title() for part in name.split("_"))


async def grpc_probe(action: GRPCAction, timeout: float) -> ProbeOutcome:
    """Run one gRPC health check against 127.0.0.1:``action.port``."""
    return await anyio.to_thread.run_sync(
        _check, action.port, action.service or "", timeout, abandon_on_cancel=True
    )


def _check(port: int, service: str, timeout: float) -> ProbeOutcome:
    """The blocking probe, run in a worker thread."""
    try:
        import grpc
        from grpc_health.v1 import health_pb2
    except ImportError:
        return ProbeOutcome(ProbeResult.UNKNOWN, GRPC_MISSING)

    address = join_host_port(DEFAULT_HOST, port)
    deadline = time.monotonic() + timeout  # this thread's clock: anyio's is the loop's  # noqa: TID251 - blocking grpcio runs in a worker thread
    options = [("grpc.primary_user_agent", PROBE_USER_AGENT)]
    with grpc.insecure_channel(address, options=options) as channel:
        # grpc.WithBlock(): wait for a connection until the deadline, retrying.
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return ProbeOutcome(
                ProbeResult.FAILURE,
                f"timeout: failed to connect service {go_quote(address)} within "
                f"{go_duration(timeout)}: context deadline exceeded",
            )
        check = channel.unary_unary(
            _CHECK,
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        remaining = max(deadline - time.monotonic(), 0.0)  # noqa: TID251 - blocking grpcio runs in a worker thread
        try:
            response = check(health_pb2.HealthCheckRequest(service=service), timeout=remaining)
        except grpc.RpcError as error:
            return _rpc_failure(error, timeout)
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        return ProbeOutcome(
            ProbeResult.FAILURE, f"service unhealthy (responded with {go_quote(status)})"
        )
    return ProbeOutcome(ProbeResult.SUCCESS, "service healthy")


def _rpc_failure(error: object, timeout: float) -> ProbeOutcome:
    import grpc

    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (error.details() if isinstance(error, grpc.Call) else None) or ""
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return ProbeOutcome(
            ProbeResult.FAILURE,
            "error: this server does not implement the grpc health protocol "
            f"(grpc.health.v1.Health): {details}",
        )
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return ProbeOutcome(
            ProbeResult.FAILURE,
            f"timeout: health rpc did not complete within {go_duration(timeout)}",
        )
    return ProbeOutcome(
        ProbeResult.FAILURE,
        f"error: health rpc probe failed: rpc error: code = {_go_code(code.name)} desc = {details}",
    )
