"""One unary gRPC call over HTTP/2, on a probe's own connection: h2 (sans-IO) on a socket.

Why not grpcio: it adds 22 MB to an install (17 MB of it one native library), its asyncio
API does not run under trio, and its blocking API needs a thread per probe in flight (a
probe of a closed port holds one for its whole timeout, and ``close()`` holds it 200 ms
more). A probe makes one call on a fresh connection and closes it, so the client is small:
h2 (the sans-IO HTTP/2 state machine hypercorn already brings) does the framing, HPACK and
flow control; this module adds what gRPC puts on top (``doc/PROTOCOL-HTTP2.md``): the
request headers, the 5-byte message prefix, the status in the trailers. At 200 probes/s
this costs about a third of grpcio's CPU per probe (``bench/grpc_probes.py``).

The call behaves as grpc-go's client transport, because the kubelet's gRPC prober is
grpc-go (``internal/transport/http2_client.go``, ``http_util.go``, ``rpc_util.go``):

* the client preface, SETTINGS, the request HEADERS and its one DATA frame go out in a
  single write. HTTP/2 lets a client send before it has the server's preface (RFC 9113
  §3.4), and on loopback this saves a round trip. grpc-go calls a connection READY only
  once the server's first frame, a SETTINGS, has arrived; ``Progress.ready`` records that
  moment, so a server that accepts and never speaks HTTP/2 is still a *connection*
  failure (``NotReady``: grpc-go's ``WithBlock`` dial retries it);
* headers: ``:method POST``, ``:scheme http``, ``:path``, ``:authority`` (host:port),
  ``content-type: application/grpc``, ``user-agent``, ``te: trailers``, ``grpc-timeout``
  (the time left, encoded as ``encodeTimeout`` does);
* the response: Response-Headers (``:status`` 200 and a gRPC content-type), one
  length-prefixed message, Trailers with ``grpc-status`` and ``grpc-message``
  (percent-decoded); or a Trailers-Only HEADERS. Anything else becomes the status grpc-go
  gives it, with its words (``operateHeaders``, ``handleData``, ``handleRSTStream``,
  ``recvMsg``): an HTTP status other than 200, a stream reset, a stream that ends without
  trailers, a compressed or oversized or missing message;
* after READY, a connection that breaks is ``Unavailable: error reading from server: ...``;
* the connection is closed with a GOAWAY, as grpc-go's ``Close`` does.

Timeouts are the caller's: a cancel scope around the call.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from typing import NoReturn, TypeVar

import anyio
import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

from minikubelet.prober.net import Connection, ConnectionFailed, go_quote

__all__ = [
    "MAX_RECEIVE_MESSAGE",
    "Code",
    "NotReady",
    "Progress",
    "RpcError",
    "Status",
    "code_name",
    "decode_grpc_message",
    "encode_timeout",
    "frame_message",
    "header_status",
    "unary_call",
]

T = TypeVar("T")

MAX_RECEIVE_MESSAGE = 4 * 1024 * 1024  # grpc-go defaultClientMaxReceiveMessageSize
_STREAM = 1  # the one stream of the connection

# Outbound headers are ours and known good; inbound ones are judged below, as grpc-go
# judges them. Skipping h2's validation saves a good part of its per-probe CPU.
_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)


class Code(IntEnum):
    """gRPC status codes (``google.golang.org/grpc/codes``)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# Go's codes.Code.String() where it is not the title-cased enum name.
_GO_NAMES = {Code.OK: "OK", Code.CANCELLED: "Canceled"}


def code_name(code: int) -> str:
    """Go's ``codes.Code.String()``: ``NotFound``, ``Canceled``, ``Code(17)``."""
    try:
        known = Code(code)
    except ValueError:
        return f"Code({code})"
    return _GO_NAMES.get(known) or "".join(part.title() for part in known.name.split("_"))


@dataclass(frozen=True)
class Status:
    """A call's final gRPC status."""

    code: int
    message: str = ""


class RpcError(Exception):
    """The call ended with a status other than OK; ``str()`` is grpc-go's text for it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"rpc error: code = {code_name(self.code)} desc = {self.message}"


class NotReady(Exception):
    """The connection failed or ended before the server's SETTINGS arrived: in grpc-go's
    terms it never became READY, and a blocking dial tries again."""


@dataclass
class Progress:
    """What a cancelled caller needs to know: whether the server's preface had arrived."""

    ready: bool = False


# -- pure parts: encodings and grpc-go's reading of response headers --------------------

_MAX_TIMEOUT_VALUE = 100_000_000 - 1  # grpc-go: 8 digits at most
_TIMEOUT_UNITS = (("n", 1), ("u", 1_000), ("m", 1_000_000), ("S", 10**9), ("M", 60 * 10**9))


def encode_timeout(seconds: float) -> str:
    """grpc-go's ``encodeTimeout``: the smallest unit whose count fits in 8 digits,
    rounded up."""
    nanos = round(seconds * 1e9)
    if nanos <= 0:
        return "0n"
    for unit, size in _TIMEOUT_UNITS:
        count = -(-nanos // size)
        if count <= _MAX_TIMEOUT_VALUE:
            return f"{count}{unit}"
    return f"{-(-nanos // (3600 * 10**9))}H"


def frame_message(message: bytes) -> bytes:
    """The gRPC length-prefixed message: flag 0 (not compressed), 4-byte length, bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def decode_grpc_message(raw: bytes) -> str:
    """grpc-go's ``decodeGrpcMessage``: ``%XX`` escapes decoded, malformed ones kept."""
    if b"%" not in raw:
        return raw.decode(errors="replace")
    out = bytearray()
    index = 0
    while index < len(raw):
        byte = raw[index]
        if byte == 0x25 and index + 2 < len(raw):  # Go's condition, kept: i+2 < len
            try:
                out.append(int(raw[index + 1 : index + 3], 16))
            except ValueError:
                out.append(byte)
            else:
                index += 2
        else:
            out.append(byte)
        index += 1
    return out.decode(errors="replace")


def _is_grpc_content_type(value: bytes) -> bool:
    """grpcutil.ContentSubtype: ``application/grpc``, or it followed by ``+`` or ``;``."""
    base = b"application/grpc"
    return value == base or (value.startswith(base) and value[len(base) : len(base) + 1] in b"+;")


def _parse_int32(value: bytes) -> int:
    """strconv.ParseInt(value, 10, 32), with Go's error text."""
    text = value.decode(errors="replace")
    quoted = go_quote(text)
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f"strconv.ParseInt: parsing {quoted}: invalid syntax")
    number = int(text)
    if not -(2**31) <= number < 2**31:
        raise ValueError(f"strconv.ParseInt: parsing {quoted}: value out of range")
    return number


def header_status(
    fields: Sequence[tuple[bytes, bytes]], *, initial: bool, end_stream: bool
) -> Status | None:
    """What grpc-go's ``operateHeaders`` makes of one HEADERS block of the response.

    ``initial``: the stream's first HEADERS (Response-Headers, or Trailers-Only with
    ``end_stream``); otherwise the Trailers. Returns the call's final status: an error
    status when the block is not gRPC, the ``grpc-status`` and ``grpc-message`` when it
    ends the stream, and None for good Response-Headers (the call goes on).
    """
    is_grpc = not initial  # Response-Headers already said this peer speaks gRPC
    content_type_error = "malformed header: missing HTTP content-type"
    http_status_error = "malformed header: missing HTTP status" if initial else ""
    http_status: int | None = None
    raw_code: int = Code.UNKNOWN
    message = ""
    for name, value in fields:
        if name == b"content-type":
            if _is_grpc_content_type(value):
                content_type_error = ""
                is_grpc = True
            else:
                shown = go_quote(value.decode(errors="replace"))
                content_type_error = f"transport: received unexpected content-type {shown}"
        elif name == b"grpc-status":
            try:
                raw_code = _parse_int32(value) & 0xFFFFFFFF  # codes.Code(uint32(code))
            except ValueError as error:
                return Status(Code.INTERNAL, f"transport: malformed grpc-status: {error}")
        elif name == b"grpc-message":
            message = decode_grpc_message(value)
        elif name == b":status":
            try:
                http_status = _parse_int32(value)
            except ValueError as error:
                return Status(Code.INTERNAL, f"transport: malformed http-status: {error}")
            if http_status == 200:
                http_status_error = ""
            else:
                http_status_error = (
                    f"unexpected HTTP status code received from server: {http_status} "
                    f"({_status_text(http_status)})"
                )
    if not is_grpc or http_status_error:
        code = Code.INTERNAL  # no HTTP status at all
        if http_status is not None:
            code = _HTTP_STATUS_CODES.get(http_status, Code.UNKNOWN)
        problems = [text for text in (http_status_error, content_type_error) if text]
        return Status(code, "; ".join(problems))
    if not end_stream:
        return None
    return Status(raw_code, message)


def _status_text(status: int) -> str:
    """Go's ``http.StatusText`` (the standard reason phrases; "" when unknown)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


# grpc-go http_util.go HTTPStatusConvTab.
_HTTP_STATUS_CODES = {
    400: Code.INTERNAL,
    401: Code.UNAUTHENTICATED,
    403: Code.PERMISSION_DENIED,
    404: Code.UNIMPLEMENTED,
    429: Code.UNAVAILABLE,
    502: Code.UNAVAILABLE,
    503: Code.UNAVAILABLE,
    504: Code.UNAVAILABLE,
}

# grpc-go http_util.go http2ErrConvTab (HTTP/2 error code -> gRPC code); names as Go's
# http2.ErrCode.String() spells them (h2's ErrorCodes has the same names).
_RESET_CODES = {
    0x0: Code.INTERNAL,  # NO_ERROR
    0x1: Code.INTERNAL,  # PROTOCOL_ERROR
    0x2: Code.INTERNAL,  # INTERNAL_ERROR
    0x3: Code.RESOURCE_EXHAUSTED,  # FLOW_CONTROL_ERROR
    0x4: Code.INTERNAL,  # SETTINGS_TIMEOUT
    0x5: Code.INTERNAL,  # STREAM_CLOSED
    0x6: Code.INTERNAL,  # FRAME_SIZE_ERROR
    0x7: Code.UNAVAILABLE,  # REFUSED_STREAM
    0x8: Code.CANCELLED,  # CANCEL
    0x9: Code.INTERNAL,  # COMPRESSION_ERROR
    0xA: Code.INTERNAL,  # CONNECT_ERROR
    0xB: Code.RESOURCE_EXHAUSTED,  # ENHANCE_YOUR_CALM
    0xC: Code.PERMISSION_DENIED,  # INADEQUATE_SECURITY
    0xD: Code.INTERNAL,  # HTTP_1_1_REQUIRED
}


def _reset_name(error_code: int) -> str:
    try:
        return h2.errors.ErrorCodes(error_code).name
    except ValueError:
        return f"unknown error code 0x{error_code:x}"


# -- the call ------------------------------------------------------------------------------


@dataclass
class _Response:
    """The response as its frames arrive: grpc-go's stream state, reduced to one call."""

    deadline: float
    body: bytearray = field(default_factory=bytearray)
    encoding: bytes = b""
    headers_seen: bool = False
    status: Status | None = None  # set once the stream is over

    def feed(self, event: h2.events.Event, connection: h2.connection.H2Connection) -> None:
        match event:
            case h2.events.ResponseReceived() | h2.events.InformationalResponseReceived():
                end = bool(getattr(event, "stream_ended", None))
                self._headers(event.headers or [], initial=not self.headers_seen, end=end)
            case h2.events.TrailersReceived():
                self._headers(event.headers or [], initial=not self.headers_seen, end=True)
            case h2.events.DataReceived(data=data, flow_controlled_length=length):
                self.body += data or b""
                if length:  # h2 sends a WINDOW_UPDATE only once half the window is used
                    connection.acknowledge_received_data(length, _STREAM)
                if len(self.body) > MAX_RECEIVE_MESSAGE + 5:
                    self._finish(Status(Code.RESOURCE_EXHAUSTED, _too_large(len(self.body) - 5)))
                elif event.stream_ended is not None:
                    # handleData: END_STREAM on a DATA frame, so no trailers will come.
                    text = "server closed the stream without sending trailers"
                    self._finish(Status(Code.INTERNAL, text))
            case h2.events.StreamReset(error_code=error_code):
                code = _RESET_CODES.get(int(error_code or 0), Code.UNKNOWN)
                if code is Code.CANCELLED and anyio.current_time() >= self.deadline:
                    code = Code.DEADLINE_EXCEEDED  # handleRSTStream: our deadline caused it
                text = "stream terminated by RST_STREAM with error code: "
                self._finish(Status(code, text + _reset_name(int(error_code or 0))))
            case h2.events.ConnectionTerminated(last_stream_id=last):
                if last is not None and last < _STREAM:
                    # handleGoAway: a stream above the GOAWAY's last id was never processed.
                    text = "the stream is rejected because server is draining the connection"
                    self._finish(Status(Code.UNAVAILABLE, text))
            case _:
                pass  # SETTINGS, PING, WINDOW_UPDATE...: h2 answers what needs an answer

    def _headers(self, fields: Sequence[tuple[bytes, bytes]], *, initial: bool, end: bool) -> None:
        if not initial and not end:
            text = "a HEADERS frame cannot appear in the middle of a stream"
            self._finish(Status(Code.INTERNAL, text))
            return
        self.headers_seen = True
        for name, value in fields:
            if name == b"grpc-encoding":
                self.encoding = value
        status = header_status(fields, initial=initial, end_stream=end)
        if status is not None:
            self._finish(status)

    def _finish(self, status: Status) -> None:
        if self.status is None:
            self.status = status

    def result(self, decode: Callable[[bytes], T]) -> T:
        """The decoded message, or the RpcError grpc-go's ``RecvMsg`` would return.

        grpc-go closes a stream after the data it buffered, whatever ended it (trailers,
        a reset, END_STREAM on DATA), so the message is read and judged first and the
        final status second (``csAttempt.recvMsg``).
        """
        status = self.status
        assert status is not None
        body = bytes(self.body)
        if not body:
            self._raise_unless_ok(status)
            raise RpcError(
                Code.INTERNAL,
                "cardinality violation: received no response message from non-server-streaming RPC",
            )
        if len(body) < 5:
            raise RpcError(Code.INTERNAL, "unexpected EOF")
        flag, length = body[0], int.from_bytes(body[1:5], "big")
        if length > MAX_RECEIVE_MESSAGE:
            raise RpcError(Code.RESOURCE_EXHAUSTED, _too_large(length))
        if len(body) < 5 + length:
            raise RpcError(Code.INTERNAL, "unexpected EOF")
        if flag == 1:
            if self.encoding in (b"", b"identity"):
                text = "grpc: compressed flag set with identity or empty encoding"
            else:
                shown = go_quote(self.encoding.decode(errors="replace"))
                text = f"grpc: Decompressor is not installed for grpc-encoding {shown}"
            raise RpcError(Code.INTERNAL, text)
        if flag != 0:
            raise RpcError(Code.INTERNAL, f"grpc: received unexpected payload format {flag}")
        try:
            value = decode(body[5 : 5 + length])
        except ValueError as error:
            raise RpcError(
                Code.INTERNAL, f"grpc: failed to unmarshal the received message: {error}"
            ) from None
        if len(body) > 5 + length:
            raise RpcError(
                Code.INTERNAL,
                "cardinality violation: expected <EOF> for non server-streaming RPCs, "
                "but received another message",
            )
        self._raise_unless_ok(status)
        return value

    @staticmethod
    def _raise_unless_ok(status: Status) -> None:
        if status.code != Code.OK:
            raise RpcError(status.code, status.message)


def _too_large(length: int) -> str:
    return f"grpc: received message larger than max ({length} vs. {MAX_RECEIVE_MESSAGE})"


@lru_cache(maxsize=1024)
def _fixed_headers(authority: str, method: str, user_agent: str) -> tuple[tuple[bytes, bytes], ...]:
    """The request headers but grpc-timeout, in grpc-go's order (``createHeaderFields``)."""
    return (
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", method.encode()),
        (b":authority", authority.encode()),
        (b"content-type", b"application/grpc"),
        (b"user-agent", user_agent.encode()),
        (b"te", b"trailers"),
    )


async def unary_call(
    connection: Connection,
    *,
    authority: str,
    method: str,
    message: bytes,
    user_agent: str,
    deadline: float,
    progress: Progress,
    decode: Callable[[bytes], T],
) -> T:
    """Call ``method`` (``/package.Service/Method``) with the serialized ``message``; return
    ``decode(response message)``.

    ``deadline`` (anyio's clock) goes to the server as ``grpc-timeout``; enforcing it is
    the caller's. Raises NotReady before the server's preface, RpcError after it.
    """
    h2c = h2.connection.H2Connection(_CONFIG)
    h2c.initiate_connection()
    timeout = encode_timeout(deadline - anyio.current_time()).encode()
    headers = (*_fixed_headers(authority, method, user_agent), (b"grpc-timeout", timeout))
    h2c.send_headers(_STREAM, headers)
    h2c.send_data(_STREAM, frame_message(message), end_stream=True)
    try:
        await connection.send(h2c.data_to_send())
    except ConnectionFailed:
        raise NotReady from None
    response = _Response(deadline)
    while response.status is None:
        try:
            data = await connection.receive()
        except ConnectionFailed as error:
            _lost(progress, f"error reading from server: {error}")
        if not data:
            _lost(progress, "error reading from server: EOF")
        try:
            events = h2c.receive_data(data)
        except h2.exceptions.ProtocolError:
            _lost(progress, "error reading from server: connection error: PROTOCOL_ERROR")
        for event in events:
            if not progress.ready:
                # reader(): the server's first frame must be its SETTINGS.
                if not isinstance(event, h2.events.RemoteSettingsChanged):
                    raise NotReady
                progress.ready = True
            elif response.status is None:
                response.feed(event, h2c)
        if response.status is None:
            pending = h2c.data_to_send()  # SETTINGS and PING acks, WINDOW_UPDATEs
            if pending:
                with suppress(ConnectionFailed):  # the next read says what broke
                    await connection.send(pending)
    # grpc-go closes a client transport with a GOAWAY; best effort, then the caller closes.
    with suppress(ConnectionFailed, h2.exceptions.ProtocolError):
        h2c.close_connection()
        await connection.send(h2c.data_to_send())
    return response.result(decode)


def _lost(progress: Progress, text: str) -> NoReturn:
    """The connection broke: before READY, the dial is retried; after it, the call fails."""
    if not progress.ready:
        raise NotReady
    raise RpcError(Code.UNAVAILABLE, text)
