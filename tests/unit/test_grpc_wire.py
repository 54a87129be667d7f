"""The pure parts of the gRPC probe: health.proto by hand, grpc-go's encodings and its
reading of response headers. Tables; the protobuf runtime (a test-only dependency, with
grpcio) checks the hand-made messages."""

from __future__ import annotations

import pytest
from grpc_health.v1 import health_pb2

from minikubelet.prober.grpc import (
    decode_health_response,
    encode_health_request,
    reconnect_delay,
    serving_status_name,
)
from minikubelet.prober.h2grpc import (
    Code,
    RpcError,
    Status,
    code_name,
    decode_grpc_message,
    encode_timeout,
    frame_message,
    header_status,
)

GRPC = (b"content-type", b"application/grpc")
OK_200 = (b":status", b"200")


@pytest.mark.parametrize("service", ["", "a", "my.service.v1.Api", "ü" * 100, "x" * 300])
def test_request_is_what_protobuf_encodes(service: str) -> None:
    expected = health_pb2.HealthCheckRequest(service=service).SerializeToString()
    assert encode_health_request(service) == expected


@pytest.mark.parametrize(
    "response",
    [
        health_pb2.HealthCheckResponse(),
        health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING),
        health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING),
        health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVICE_UNKNOWN),
        health_pb2.HealthCheckResponse(status=7),
        health_pb2.HealthCheckResponse(status=-1),  # ten bytes of varint
        health_pb2.HealthCheckResponse(status=2**31 - 1),
    ],
    ids=str,
)
def test_response_decodes_as_protobuf_does(response: object) -> None:
    data = response.SerializeToString()  # type: ignore[attr-defined]
    assert decode_health_response(data) == response.status  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 0),
        (b"\x08\x01\x08\x02", 2),  # the last value wins
        (b"\x12\x03abc\x08\x01", 1),  # an unknown length-delimited field is skipped
        (b"\x19" + b"\x00" * 8 + b"\x08\x01", 1),  # unknown fixed64
        (b"\x25" + b"\x00" * 4 + b"\x08\x01", 1),  # unknown fixed32
        (b"\x0a\x01x\x08\x02", 2),  # field 1 with another wire type: unknown, skipped
        (b"\x80\x01\x05\x08\x01", 1),  # field 16 (two-byte key), varint
    ],
)
def test_response_decoding(data: bytes, status: int) -> None:
    assert decode_health_response(data) == status


@pytest.mark.parametrize(
    "data",
    [
        b"\x08",  # a key without its value
        b"\x08\x80",  # a varint cut short
        b"\x12\x05ab",  # a length beyond the end
        b"\x19\x00\x00",  # fixed64 cut short
        b"\x0b",  # a group (wire type 3)
        b"\x0e\x00",  # wire type 6
        b"\x00\x01",  # field number 0
        b"\x08" + b"\xff" * 11,  # a varint longer than 10 bytes
    ],
)
def test_malformed_responses(data: bytes) -> None:
    with pytest.raises(ValueError, match="proto: cannot parse invalid wire-format data"):
        decode_health_response(data)


@pytest.mark.parametrize(
    ("status", "name"),
    [(0, "UNKNOWN"), (1, "SERVING"), (2, "NOT_SERVING"), (3, "SERVICE_UNKNOWN"), (7, "7")],
)
def test_serving_status_names(status: int, name: str) -> None:
    assert serving_status_name(status) == name


@pytest.mark.parametrize(
    ("seconds", "header"),
    [
        (0, "0n"),
        (-1, "0n"),
        (0.000_001, "1000n"),
        (0.05, "50000000n"),
        (0.1, "100000u"),  # 10^8 ns does not fit in 8 digits
        (1, "1000000u"),
        (0.999_999_5, "1000000u"),  # 999999.5 µs, rounded up
        (99.999_999, "99999999u"),
        (100, "100000m"),
        (100_000, "100000S"),
        (99_999_999 * 60, "99999999M"),
        (10**8 * 60, "1666667H"),
    ],
)
def test_encode_timeout(seconds: float, header: str) -> None:
    assert encode_timeout(seconds) == header


def test_encode_timeout_rounds_up() -> None:
    assert encode_timeout(1.000_000_1) == "1000001u"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", ""),
        (b"plain text", "plain text"),
        (b"100%25 sure", "100% sure"),
        (b"%C3%BC", "ü"),
        (b"50%", "50%"),  # too short to be an escape
        (b"%zz!", "%zz!"),  # not hex: kept
        (b"a%2", "a%2"),  # grpc-go needs i+2 < len: kept
        (b"%FF", "\ufffd"),  # not UTF-8
    ],
)
def test_decode_grpc_message(raw: bytes, text: str) -> None:
    assert decode_grpc_message(raw) == text


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0, "OK"),
        (1, "Canceled"),
        (4, "DeadlineExceeded"),
        (5, "NotFound"),
        (12, "Unimplemented"),
        (16, "Unauthenticated"),
        (17, "Code(17)"),
    ],
)
def test_code_names(code: int, name: str) -> None:
    assert code_name(code) == name


def test_rpc_error_text() -> None:
    assert str(RpcError(Code.NOT_FOUND, "unknown service")) == (
        "rpc error: code = NotFound desc = unknown service"
    )


def test_frame_message() -> None:
    assert frame_message(b"") == b"\x00\x00\x00\x00\x00"
    assert frame_message(b"\x08\x01") == b"\x00\x00\x00\x00\x02\x08\x01"


HEADER_CASES = [
    # (fields, initial, end_stream, status)
    ([OK_200, GRPC], True, False, None),
    ([OK_200, (b"content-type", b"application/grpc+proto")], True, False, None),
    ([OK_200, (b"content-type", b"application/grpc;charset=utf-8")], True, False, None),
    (
        [(b"grpc-status", b"0")],
        False,
        True,
        Status(Code.OK, ""),
    ),
    (
        [(b"grpc-status", b"5"), (b"grpc-message", b"unknown%20service")],
        False,
        True,
        Status(Code.NOT_FOUND, "unknown service"),
    ),
    ([(b"grpc-message", b"x")], False, True, Status(Code.UNKNOWN, "x")),  # no grpc-status
    (  # Trailers-Only
        [OK_200, GRPC, (b"grpc-status", b"12"), (b"grpc-message", b"Method not found!")],
        True,
        True,
        Status(Code.UNIMPLEMENTED, "Method not found!"),
    ),
    (
        [(b":status", b"404"), (b"content-type", b"text/html")],
        True,
        False,
        Status(
            Code.UNIMPLEMENTED,
            "unexpected HTTP status code received from server: 404 (Not Found); "
            'transport: received unexpected content-type "text/html"',
        ),
    ),
    (
        [(b":status", b"503"), GRPC],
        True,
        True,
        Status(
            Code.UNAVAILABLE,
            "unexpected HTTP status code received from server: 503 (Service Unavailable)",
        ),
    ),
    (
        [(b":status", b"500"), GRPC],
        True,
        False,
        Status(
            Code.UNKNOWN,
            "unexpected HTTP status code received from server: 500 (Internal Server Error)",
        ),
    ),
    (
        [OK_200],
        True,
        False,
        Status(Code.UNKNOWN, "malformed header: missing HTTP content-type"),
    ),
    (
        [OK_200, (b"content-type", b"application/grpcx")],
        True,
        False,
        Status(Code.UNKNOWN, 'transport: received unexpected content-type "application/grpcx"'),
    ),
    (
        [GRPC],
        True,
        False,
        Status(Code.INTERNAL, "malformed header: missing HTTP status"),
    ),
    (
        [(b"grpc-status", b"abc")],
        False,
        True,
        Status(
            Code.INTERNAL,
            'transport: malformed grpc-status: strconv.ParseInt: parsing "abc": invalid syntax',
        ),
    ),
    ([(b"grpc-status", b"99")], False, True, Status(99, "")),
]


@pytest.mark.parametrize(("fields", "initial", "end_stream", "status"), HEADER_CASES)
def test_header_status(
    fields: list[tuple[bytes, bytes]], initial: bool, end_stream: bool, status: Status | None
) -> None:
    assert header_status(fields, initial=initial, end_stream=end_stream) == status


@pytest.mark.parametrize(
    ("retries", "uniform", "delay"),
    [
        (0, 0.0, 1.0),  # the first retry: exactly the base delay, no jitter
        (0, 0.99, 1.0),
        (1, 0.5, 1.6),
        (1, 0.0, 1.6 * 0.8),
        (2, 0.5, 2.56),
        (20, 0.5, 120.0),  # capped
        (20, 1.0, 144.0),  # the jitter applies after the cap
    ],
)
def test_reconnect_delay(retries: int, uniform: float, delay: float) -> None:
    assert reconnect_delay(retries, uniform) == pytest.approx(delay)
