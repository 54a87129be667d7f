"""Error messages as kubectl words them, from Kubernetes ``Status`` objects (pure).

kubectl prints ``Error from server (<reason>): <message>``; for ``Invalid`` it rebuilds the
message from the details: ``The Pod "x" is invalid: <field>: <message>`` (one cause) or a
``* field: message`` list (several).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minikubelet.api.reasons import STATUS_REASONS

__all__ = ["status_error", "synthetic_status"]


def synthetic_status(code: int, body: str) -> dict[str, Any]:
    """The Status client-go makes up when an error response is not a Status object."""
    reason = STATUS_REASONS.get(code, "")
    if code == 404:
        message = "the server could not find the requested resource"
    elif code == 405:
        message = "the server does not allow this method on the requested resource"
    elif code >= 500:
        detail = body.strip() or "unknown"
        message = f'an error on the server ("{detail}") has prevented the request from succeeding'
    else:
        message = body.strip() or f"unknown (HTTP {code})"
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def status_error(status: Mapping[str, Any], prefix: str = "") -> str:
    """The line kubectl prints for a failed request (``prefix`` as in ``error when creating``)."""
    reason = str(status.get("reason") or "")
    message = prefix + str(status.get("message") or "")
    details = status.get("details")
    if reason == "Invalid":
        if not isinstance(details, Mapping):
            return "The request is invalid" + (f": {message}" if message else "")
        kind, name = str(details.get("kind") or ""), str(details.get("name") or "")
        head = f'The {kind} "{name}" is invalid' if kind or name else "The request is invalid"
        causes = [c for c in details.get("causes") or [] if isinstance(c, Mapping)]
        lines = [f"{c.get('field', '')}: {c.get('message', '')}" for c in causes]
        if not lines:
            return head
        if len(lines) == 1:
            return f"{head}: {lines[0]}"
        return f"{head}: \n" + "\n".join(f"* {line}" for line in lines)
    if reason == "Unauthorized":
        return f"error: You must be logged in to the server ({message})"
    if reason:
        return f"Error from server ({reason}): {message}"
    return f"Error from server: {message}"
