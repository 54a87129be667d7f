"""The apiserver's ``StatusReason`` for each HTTP code (``metav1.StatusReason``).

Shared by the server (to build ``Status`` objects) and the client (to word errors that
did not come as a ``Status``); light enough for the client's start-up.
"""

from __future__ import annotations

__all__ = ["STATUS_REASONS"]

STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "AlreadyExists",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
