"""The httpGet fast path (prober/response.py) against the h11 path, on the same bytes.

Each case is what a server sends, as the reads that deliver it. The exchange's response
reading (``_Exchange._talk``: the fast path, h11 when it declines) must give exactly what
h11 alone gives (``_Exchange._talk_h11``): the same status, Location and body, or the
same error with the same wording. ``fast`` says whether the fast path takes the first
read itself, so that both branches are known to be covered. No sockets: a scripted
connection hands out the reads.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from minikubelet.model.spec import HTTPGetAction
from minikubelet.prober.http import MAX_BODY, _Exchange, _request, insecure_ssl_context
from minikubelet.prober.net import Connection, ConnectionFailed
from minikubelet.prober.response import Response, parse_whole

pytestmark = pytest.mark.anyio

BIG = b"x" * (MAX_BODY + 500)


class Reads:
    """A connection whose reads are scripted; b"" (EOF) once they run out."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)
        self.sent = b""

    async def send(self, data: bytes) -> None:
        self.sent += data

    async def receive(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


def ok(body: bytes = b"ok", *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(body), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


CASES: dict[str, tuple[list[bytes], bool]] = {
    # (reads, whether the fast path takes the first one)
    "whole, one read": ([ok()], True),
    "whole, then EOF read not needed": ([ok(), b""], True),
    "empty body": ([ok(b"")], True),
    "no reason phrase": ([b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"], True),
    "reason with tabs and obs-text": (
        [b"HTTP/1.1 200 F\xe9ine\tOK\r\nContent-Length: 0\r\n\r\n"],
        True,
    ),
    "HTTP/1.0 with a length": ([b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"], True),
    "lowercase names, spaces around values": (
        [b"HTTP/1.1 200 OK\r\ncontent-length:   2  \r\nx-empty:\r\nX-Two: a  b\r\n\r\nok"],
        True,
    ),
    "failure status": ([b"HTTP/1.1 503 Unavailable\r\nContent-Length: 4\r\n\r\nbusy"], True),
    "redirect, first Location wins": (
        [b"HTTP/1.1 302 Found\r\nLocation:  /b \r\nLocation: /c\r\nContent-Length: 0\r\n\r\n"],
        True,
    ),
    "bytes after the body": ([ok() + b"HTTP/1.1 200 OK\r\n\r\njunk"], True),
    "body over 10 KiB with a length": ([ok(BIG)], True),
    "body over 10 KiB, length beyond the read": (
        [b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n" + BIG],
        True,
    ),
    "body over 10 KiB until close": ([b"HTTP/1.1 200 OK\r\n\r\n" + BIG], True),
    # h11 reads these:
    "headers split mid-line": ([b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 2\r\n\r\nok"], False),
    "body in a second read": ([ok()[:-2], b"ok"], False),
    "one byte per read": ([bytes([b]) for b in ok(b"hello")], False),
    "no length: until close": ([b"HTTP/1.1 200 OK\r\n\r\nhel", b"lo"], False),
    "HTTP/1.0 until close": ([b"HTTP/1.0 200 OK\r\n\r\nhello"], False),
    "chunked": (
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
        False,
    ),
    "chunked, split": (
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel", b"\r\n0\r\n\r\n"],
        False,
    ),
    "chunked over 10 KiB": (
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % len(BIG) + BIG],
        False,
    ),
    "informational first": (
        [b"HTTP/1.1 100 Continue\r\n\r\n" + ok()],
        False,
    ),
    "204 with a length": ([b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"], False),
    "304": ([b"HTTP/1.1 304 Not Modified\r\n\r\n"], False),
    "bare LF lines": ([b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"], False),
    "bare LF blank line after CRLF": (
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok\r\n\r\n"],
        False,
    ),
    "folded header": ([b"HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok"], False),
    "repeated equal lengths": (
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"],
        False,
    ),
    "comma-listed lengths": ([b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"], False),
    "HTTP/2.0 status line": ([b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"], False),
    # errors, worded by h11's path:
    "closed at once": ([], False),
    "closed in the headers": ([b"HTTP/1.1 200 OK\r\nContent-"], False),
    "closed in the body": ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], False),
    "bad status line": ([b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok"], False),
    "not HTTP": ([b"SSH-2.0-OpenSSH_9.6\r\n\r\n"], False),
    "bad header line": ([b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n"], False),
    "conflicting lengths": (
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"],
        False,
    ),
    "bad length": ([b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok"], False),
    "length of 21 digits": (
        [b"HTTP/1.1 200 OK\r\nContent-Length: " + b"1" * 21 + b"\r\n\r\n"],
        False,
    ),
    "unknown transfer coding": (
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok"],
        False,
    ),
    "NUL in a value": ([b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 2\r\n\r\nok"], False),
}


async def read(chunks: list[bytes], *, h11_only: bool) -> tuple[Any, ...]:
    exchange = _Exchange(_request(HTTPGetAction(port=8080, path="/healthz"), 8080), CONTEXT)
    connection = cast(Connection, Reads(chunks))
    try:
        if h11_only:
            response = await exchange._talk_h11(connection, await connection.receive())
        else:
            response = await exchange._talk(connection)
    except ConnectionFailed as error:
        return ("error", str(error), exchange.reading_body)
    return (response.status, response.location, response.body)


CONTEXT = insecure_ssl_context()


@pytest.mark.parametrize(("chunks", "fast"), CASES.values(), ids=CASES.keys())
async def test_the_fast_path_reads_what_h11_reads(chunks: list[bytes], fast: bool) -> None:
    expected = await read(chunks, h11_only=True)
    assert await read(chunks, h11_only=False) == expected
    assert (parse_whole(chunks[0] if chunks else b"", MAX_BODY) is not None) is fast


async def test_the_request_is_sent_as_h11_makes_it() -> None:
    connection = Reads([ok()])
    exchange = _Exchange(_request(HTTPGetAction(port=8080, path="/a b"), 8080), CONTEXT)
    await exchange._talk(cast(Connection, connection))
    assert connection.sent == (
        b"GET /a%20b HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: kube-probe/1.34\r\n"
        b"Accept: */*\r\nConnection: close\r\n\r\n"
    )


def test_parse_whole_keeps_at_most_max_body() -> None:
    assert parse_whole(ok(b"abcdef"), 4) == Response(200, None, b"abcd")
    assert parse_whole(b"HTTP/1.1 200 OK\r\n\r\nabcdef", 4) == Response(200, None, b"abcd")
    assert parse_whole(b"HTTP/1.1 200 OK\r\n\r\nabc", 4) is None
