"""Go-style durations (``500ms``, ``10s``, ``1m20s``), as the kubelet writes and reads them."""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; raises ValueError naming the text if it is not one.

    A bare ``0`` is accepted, as Go's ``time.ParseDuration`` does.
    """
    stripped = text.strip()
    if stripped == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(stripped):
        match = _PART.match(stripped, position)
        if match is None:
            raise ValueError(
                f'invalid duration "{text}": use a number with a unit, such as 500ms, 10s or 5m'
            )
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not stripped:
        raise ValueError('invalid duration "": use a number with a unit, such as 500ms, 10s or 5m')
    return total


def format_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String``: ``10s``, ``1m20s``, ``5m0s``, ``500ms``."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        millis = seconds * 1000
        return f"{millis:.6g}ms" if millis >= 1 else f"{seconds * 1e6:.6g}µs"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text
