"""A small websocket client (RFC 6455) on the client's own connection, for ``exec``.

Why not a library: the client commands depend on nothing but the standard library, to
start in well under 300 ms; what ``exec`` needs of websockets is the opening handshake,
binary frames (masked, as a client must send them), ping/pong and close: a hundred
lines. The socket comes from ``Connection.open_socket``, so the unix socket, TCP and TLS
(with ``$MINIKUBELET_CERTIFICATE_AUTHORITY``) and the token work as for every command.

``WebSocket.receive`` returns whole messages (fragments joined) and answers pings
itself; ``send`` may be called from another thread than ``receive`` (sends take a lock).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
import threading
from collections.abc import Mapping
from typing import Any

from minikubelet.cli.client.connection import Connection, StatusError
from minikubelet.cli.client.messages import synthetic_status

__all__ = ["OPCODE_BINARY", "OPCODE_CLOSE", "WebSocket", "WebSocketClosed", "open_websocket"]

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY = 0x0, 0x1, 0x2
OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x8, 0x9, 0xA
_MAX_HEADER = 64 * 1024


class WebSocketClosed(Exception):
    """The server closed the websocket (or the connection broke)."""


class WebSocket:
    def __init__(self, sock: socket.socket, protocol: str, buffered: bytes = b"") -> None:
        self.protocol = protocol
        self._sock = sock
        self._buffer = buffered
        self._sending = threading.Lock()
        self.closed = False

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                chunk = self._sock.recv(65536)
            except OSError as error:
                raise WebSocketClosed(str(error)) from None
            if not chunk:
                raise WebSocketClosed("the connection was closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _frame(self) -> tuple[bool, int, bytes]:
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        mask = self._read(4) if second & 0x80 else b""
        payload = self._read(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(first & 0x80), first & 0x0F, payload

    def receive(self) -> bytes:
        """The next data message; raises WebSocketClosed at the end."""
        message, opcode = b"", None
        while True:
            final, code, payload = self._frame()
            if code == OPCODE_PING:
                self.send(payload, OPCODE_PONG)
                continue
            if code == OPCODE_PONG:
                continue
            if code == OPCODE_CLOSE:
                if not self.closed:
                    self.closed = True
                    with contextlib.suppress(OSError):
                        self.send(payload[:2], OPCODE_CLOSE)
                raise WebSocketClosed("closed by the server")
            if code != OPCODE_CONTINUATION:
                opcode = code
            message += payload
            if final and opcode is not None:
                return message

    def send(self, data: bytes, opcode: int = OPCODE_BINARY) -> None:
        header = bytearray([0x80 | opcode])
        size = len(data)
        if size < 126:
            header.append(0x80 | size)
        elif size < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", size)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", size)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        with self._sending:
            self._sock.sendall(bytes(header) + mask + masked)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self.send(struct.pack("!H", 1000), OPCODE_CLOSE)
        with contextlib.suppress(OSError):
            self._sock.close()


def _status_of(code: int, body: bytes) -> dict[str, Any]:
    text = body.decode("utf-8", "replace")
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    if not isinstance(status, dict) or status.get("kind") != "Status":
        status = synthetic_status(code, text)
    result: dict[str, Any] = dict(status)
    result.setdefault("code", code)
    return result


def open_websocket(
    connection: Connection, path: str, query: str, protocols: tuple[str, ...]
) -> WebSocket:
    """Open ``path?query`` as a websocket offering ``protocols``.

    Raises StatusError with the server's Status when it refuses the upgrade, Unreachable
    when nothing answers.
    """
    sock, host = connection.open_socket()
    key = base64.b64encode(os.urandom(16)).decode()
    headers: Mapping[str, str] = {
        "Host": host,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": ", ".join(protocols),
        "User-Agent": "minikubelet",
        **connection.authorization(),
    }
    target = f"{connection.prefix}{path}?{query}"
    request = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    try:
        sock.sendall((request + "\r\n").encode("latin-1"))
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk or len(received) > _MAX_HEADER:
                raise connection.unreachable(ConnectionError("the handshake was cut short"))
            received += chunk
    except OSError as error:
        sock.close()
        raise connection.unreachable(error) from error
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if code != 101:
        length = int(fields.get("content-length", "0") or 0)
        try:
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except OSError:
            pass
        sock.close()
        raise StatusError(_status_of(code, rest[:length] if length else rest))
    accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
    if fields.get("sec-websocket-accept") != accept:
        sock.close()
        raise connection.unreachable(ConnectionError("the server's websocket handshake is wrong"))
    return WebSocket(sock, fields.get("sec-websocket-protocol", ""), rest)
