"""The fast path of an httpGet probe: a whole HTTP/1.x response parsed in one go.

Nearly every probe's answer (status line, headers and a short body with a
``Content-Length``) arrives in the first read of the connection. h11 parses it
correctly but through an event state machine that costs more CPU than the rest of the
probe; ``parse_whole`` reads that common case directly and returns None for everything
else, which then goes through h11 as before (``prober/http.py``). It is deliberately
narrow: a response is taken here only if h11 would accept it and read the same status,
``Location`` and body from the same bytes (``tests/unit/test_http_response.py`` runs
both on the same inputs). Anything unusual falls back: no blank line yet, a line h11's
grammar (``h11/_abnf.py``) would reject or fold, an HTTP version other than 1.0/1.1, a
1xx/204/304 status, ``Transfer-Encoding``, a missing, repeated or odd
``Content-Length``, a body not complete in this read. The errors and their wording
therefore all stay h11's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_HEAD", "Response", "parse_whole"]

MAX_HEAD = 16 * 1024  # h11's max_incomplete_event_size: beyond it, h11 decides
_MAX_LENGTH_DIGITS = 20  # h11 CONTENT_LENGTH_MAX_DIGITS

# h11/_abnf.py status_line, for the two versions taken here; reason_phrase is
# ([ \t] | [^\x00\s])*, i.e. no NUL, CR, LF, VT or FF.
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: [^\x00\n\r\x0b\x0c]*)?")
# h11/_abnf.py header_field: token ":" OWS field-value OWS, the value made of
# [^\x00\s] runs separated by spaces and tabs.
_HEADER_FIELD = re.compile(
    rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*([^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?[ \t]*"
)
_DIGITS = re.compile(rb"[0-9]+")


@dataclass(frozen=True)
class Response:
    """What a probe keeps of a response: its status, first Location, and body (capped)."""

    status: int
    location: str | None
    body: bytes


def parse_whole(data: bytes, max_body: int) -> Response | None:
    """The response in ``data`` (the first bytes read), or None: not whole, or not simple."""
    end = data.find(b"\r\n\r\n", 0, MAX_HEAD)
    if end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    status_line = _STATUS_LINE.fullmatch(lines[0])
    if status_line is None:
        return None
    status = int(status_line[1])
    if status < 200 or status in (204, 304):  # informational or bodiless: h11's business
        return None
    location: str | None = None
    length: bytes | None = None
    for line in lines[1:]:
        field = _HEADER_FIELD.fullmatch(line)
        if field is None:
            return None
        name = field[1].lower()
        value = field[2] or b""
        if name == b"content-length":
            if length is not None or _DIGITS.fullmatch(value) is None:
                return None
            length = value
        elif name == b"transfer-encoding":
            return None
        elif name == b"location" and location is None:
            location = value.decode("latin-1")
    body = data[end + 4 :]
    if length is not None:
        if len(length) > _MAX_LENGTH_DIGITS:
            return None
        size = int(length)
        if len(body) >= size:  # what follows the body is not this response's
            return Response(status, location, body[: min(size, max_body)])
    if len(body) >= max_body:  # http.go reads no more than this: the rest is moot
        return Response(status, location, body[:max_body])
    return None  # more to come, or a body until the connection closes: h11 reads on
