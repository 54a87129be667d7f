"""Times and sizes the way kubectl shows them.

The durations and ages are the server's (``minikubelet.api.humanize``: apimachinery's
``duration.HumanDuration`` and the printers' ``translateTimestampSince``), re-exported so
the client and the server print the same cells; ``describe_time`` is ``describe``'s own
RFC 1123 format in local time.
"""

from __future__ import annotations

from minikubelet.api.humanize import human_duration, parse_time, short_human_duration, since

__all__ = [
    "describe_time",
    "human_duration",
    "parse_time",
    "short_human_duration",
    "since",
]


def describe_time(value: object) -> str:
    """``describe``'s time format: RFC 1123 with a numeric zone, in local time."""
    moment = parse_time(value)
    if moment is None:
        return "Mon, 01 Jan 0001 00:00:00 +0000"  # Go's zero time, as kubectl prints it
    return moment.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")
