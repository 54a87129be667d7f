"""gRPC probes: ``grpc.health.v1.Health/Check``, as ``pkg/probe/grpc/grpc.go`` does it.

The kubelet dials ``<pod IP>:<port>`` in plaintext with ``grpc.WithBlock()`` under one
``context.WithTimeout(timeoutSeconds)``, calls ``Check`` with the probe's ``service``
under the same context, and turns every outcome into a *failure* with a message (its
``Probe`` never returns an error, so a gRPC probe is never Unknown):

* ``SERVING`` -> success, ``service healthy``;
* another status -> ``service unhealthy (responded with "NOT_SERVING")``;
* no connection within the timeout (a closed port: grpc-go keeps redialing with its
  back-off until the deadline) -> ``timeout: failed to connect service "127.0.0.1:50051"
  within 1s: context deadline exceeded``;
* connected, but no answer in time -> ``timeout: health rpc did not complete within 1s``;
* ``Unimplemented`` -> ``error: this server does not implement the grpc health protocol
  (grpc.health.v1.Health): <message>``;
* any other status (``NotFound`` for an unknown service, ...) -> ``error: health rpc probe
  failed: rpc error: code = NotFound desc = unknown service``.

The client is ``prober/h2grpc.py`` (HTTP/2 with h2, anyio sockets: asyncio and trio, no
thread); the two messages of ``grpc/health/v1/health.proto`` are encoded here by hand:
``HealthCheckRequest{string service = 1}`` and ``HealthCheckResponse{ServingStatus
status = 1}``.
"""

from __future__ import annotations

import random
from functools import lru_cache

import anyio

from minikubelet.model.probe import ProbeOutcome, ProbeResult
from minikubelet.model.spec import GRPCAction
from minikubelet.prober.h2grpc import Code, NotReady, Progress, RpcError, unary_call
from minikubelet.prober.http import PROBE_USER_AGENT
from minikubelet.prober.net import (
    DEFAULT_HOST,
    DialError,
    dial,
    go_duration,
    go_quote,
    join_host_port,
)

__all__ = [
    "HEALTH_CHECK",
    "decode_health_response",
    "encode_health_request",
    "grpc_probe",
    "reconnect_delay",
    "serving_status_name",
]

HEALTH_CHECK = "/grpc.health.v1.Health/Check"

# health.proto HealthCheckResponse.ServingStatus
_SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
_SERVING = 1

# grpc-go's default connection back-off (backoff.DefaultConfig).
_BASE_DELAY, _MULTIPLIER, _JITTER, _MAX_DELAY = 1.0, 1.6, 0.2, 120.0


async def grpc_probe(
    action: GRPCAction, timeout: float, *, host: str = DEFAULT_HOST
) -> ProbeOutcome:
    """Run one gRPC health check against ``host:action.port`` within ``timeout`` seconds.

    ``pkg/kubelet/prober/prober.go runProbe``: the host is the pod IP (a local pod's is
    127.0.0.1), the port a number, the service "" unless given.
    """
    address = join_host_port(host, action.port)
    progress = Progress()
    with anyio.move_on_after(timeout):
        try:
            status = await _check(
                host, action.port, address, action.service or "", timeout, progress
            )
        except RpcError as error:
            return _rpc_failure(error, timeout)
        if status != _SERVING:
            shown = go_quote(serving_status_name(status))
            return ProbeOutcome(ProbeResult.FAILURE, f"service unhealthy (responded with {shown})")
        return ProbeOutcome(ProbeResult.SUCCESS, "service healthy")
    if progress.ready:
        return ProbeOutcome(
            ProbeResult.FAILURE,
            f"timeout: health rpc did not complete within {go_duration(timeout)}",
        )
    return ProbeOutcome(
        ProbeResult.FAILURE,
        f"timeout: failed to connect service {go_quote(address)} within "
        f"{go_duration(timeout)}: context deadline exceeded",
    )


async def _check(
    host: str, port: int, address: str, service: str, timeout: float, progress: Progress
) -> int:
    """The serving status, dialing again until a connection is READY (``WithBlock``).

    A refused connection, or one that ends before the server's SETTINGS, is a transient
    failure to grpc-go: it waits out its back-off and dials again, until the deadline
    (the caller's cancel scope) ends it all.
    """
    deadline = anyio.current_time() + timeout
    message = encode_health_request(service)
    retries = 0
    while True:
        try:
            connection = await dial(host, port)
        except DialError:
            pass
        else:
            try:
                return await unary_call(
                    connection,
                    authority=address,
                    method=HEALTH_CHECK,
                    message=message,
                    user_agent=PROBE_USER_AGENT,
                    deadline=deadline,
                    progress=progress,
                    decode=decode_health_response,
                )
            except NotReady:
                pass
            finally:
                connection.close()
        await anyio.sleep(reconnect_delay(retries, random.random()))
        retries += 1


def _rpc_failure(error: RpcError, timeout: float) -> ProbeOutcome:
    """grpc.go's switch on the status code of a failed ``Check``."""
    if error.code == Code.UNIMPLEMENTED:
        return ProbeOutcome(
            ProbeResult.FAILURE,
            "error: this server does not implement the grpc health protocol "
            f"(grpc.health.v1.Health): {error.message}",
        )
    if error.code == Code.DEADLINE_EXCEEDED:  # the server gave up on our grpc-timeout
        return ProbeOutcome(
            ProbeResult.FAILURE,
            f"timeout: health rpc did not complete within {go_duration(timeout)}",
        )
    return ProbeOutcome(ProbeResult.FAILURE, f"error: health rpc probe failed: {error}")


def reconnect_delay(retries: int, uniform: float) -> float:
    """grpc-go's ``backoff.Exponential.Backoff(retries)``, ``uniform`` in [0, 1):
    1 s after the first failure, then x1.6 each time, +-20 % jitter, at most 120 s."""
    if retries == 0:
        return _BASE_DELAY
    delay = min(_BASE_DELAY * _MULTIPLIER**retries, _MAX_DELAY)
    return delay * (1 + _JITTER * (uniform * 2 - 1))


# -- health.proto, by hand -----------------------------------------------------------------


@lru_cache(maxsize=256)
def encode_health_request(service: str) -> bytes:
    """``HealthCheckRequest{service}``: field 1, length-delimited (tag 0x0a); proto3
    leaves out an empty string, so the default service is the empty message."""
    if not service:
        return b""
    data = service.encode()
    return b"\x0a" + _varint(len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_INVALID = "proto: cannot parse invalid wire-format data"  # protobuf-go's errDecode


def decode_health_response(message: bytes) -> int:
    """``HealthCheckResponse.status`` (0 when absent); ValueError for malformed data.

    As any proto3 decoder: the last value of a field wins, unknown fields (and field 1
    with another wire type) are skipped, an enum is an int32 sent as a varint.
    """
    status = 0
    index = 0
    end = len(message)
    while index < end:
        key, index = _read_varint(message, index)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ValueError(_INVALID)
        if wire_type == 0:
            value, index = _read_varint(message, index)
            if number == 1:
                value &= 0xFFFFFFFF
                status = value - (1 << 32) if value >= 1 << 31 else value
        elif wire_type == 1:
            index += 8
        elif wire_type == 2:
            size, index = _read_varint(message, index)
            index += size
        elif wire_type == 5:
            index += 4
        else:  # groups (3, 4) are not in proto3; 6 and 7 do not exist
            raise ValueError(_INVALID)
        if index > end:
            raise ValueError(_INVALID)
    return status


def _read_varint(data: bytes, index: int) -> tuple[int, int]:
    value = shift = 0
    while index < len(data) and shift < 70:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, index
        shift += 7
    raise ValueError(_INVALID)


def serving_status_name(status: int) -> str:
    """Go's ``HealthCheckResponse_ServingStatus.String()``: the name, or the number."""
    return _SERVING_STATUS.get(status, str(status))
