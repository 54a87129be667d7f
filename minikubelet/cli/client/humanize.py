"""Times and sizes the way kubectl shows them.

``human_duration`` is apimachinery's ``duration.HumanDuration`` (``45s``, ``7m1s``, ``25m``,
``3h4m``, ``5h``, ``3d``); ``since`` is the printers' ``translateTimestampSince``.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "describe_time",
    "human_duration",
    "parse_time",
    "since",
]


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp from Kubernetes JSON (``2025-01-01T00:00:00Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def human_duration(seconds: float) -> str:
    """Go's ``duration.HumanDuration``: coarser as durations grow, never more than 2 units."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 60 * 2:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{hours // 24 // 365}y"


def since(value: object, now: datetime) -> str:
    """The age of a JSON timestamp at ``now``; ``<unknown>`` when there is none."""
    moment = parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


def describe_time(value: object) -> str:
    """``describe``'s time format: RFC 1123 with a numeric zone, in local time."""
    moment = parse_time(value)
    if moment is None:
        return "Mon, 01 Jan 0001 00:00:00 +0000"  # Go's zero time, as kubectl prints it
    return moment.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")
