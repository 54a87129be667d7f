"""Suggestions ("did you mean ...?") for unknown field names."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection

__all__ = ["did_you_mean"]


def did_you_mean(name: str, known: Collection[str]) -> str | None:
    """The known field name ``name`` was most likely meant to be, if any is close enough.

    Tries, in order: a different capitalisation (``Command``), the camelCase spelling of a
    snake_case or kebab-case name (``period_seconds``), then difflib's closest match.
    """
    by_lower = {candidate.lower(): candidate for candidate in known}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    camel = re.sub(r"[_-]+([a-zA-Z0-9])", lambda match: match[1].upper(), name)
    if camel.lower() in by_lower:
        return by_lower[camel.lower()]
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None
