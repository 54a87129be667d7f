"""Ages and durations the way the apiserver's printers and kubectl show them.

``human_duration`` and ``short_human_duration`` are apimachinery's
``k8s.io/apimachinery/pkg/util/duration`` ``HumanDuration`` / ``ShortHumanDuration``;
``since`` is the printers' ``translateTimestampSince`` (``<unknown>`` for a zero time).
Shared by the server (Table cells) and the client commands, so it imports nothing but the
standard library: the client's start-up stays light.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "human_duration",
    "parse_time",
    "short_human_duration",
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
    """``duration.HumanDuration``: coarser as durations grow, never more than 2 units."""
    # int() truncates toward zero like Go's int(d.Seconds()): -1.9s is "0s", a tolerated
    # clock skew, while -2s and below are "<invalid>".
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


def short_human_duration(seconds: float) -> str:
    """``duration.ShortHumanDuration``: one unit only (``59s``, ``59m``, ``23h``, ``364d``)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 60:
        return f"{whole}s"
    if whole // 60 < 60:
        return f"{whole // 60}m"
    hours = whole // 3600
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def since(value: object, now: datetime) -> str:
    """The age of a JSON timestamp at ``now``; ``<unknown>`` when there is none."""
    moment = parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())
