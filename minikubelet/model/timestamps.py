"""Timestamps as Kubernetes writes them."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_timestamp"]


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds, UTC: ``2026-11-25T01:02:03.123456000Z`` (CRI log records,
    ``kubectl logs --timestamps``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
