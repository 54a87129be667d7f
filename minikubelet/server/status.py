"""Errors as Kubernetes ``Status`` objects, with the apiserver's reasons and codes.

Every failure the API reports is a ``minikubelet.errors.RequestError``; the app turns it into
``{"kind":"Status","apiVersion":"v1","status":"Failure","message":…,"reason":…,"code":…}``,
which kubectl prints as ``Error from server (<reason>): <message>``. For 422 ``Invalid``
kubectl rebuilds the message from ``details.causes``, so each cause's ``message`` holds
only the error body (``Invalid value: -5: must be …``), never the field again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from minikubelet.api.types import JSON
from minikubelet.errors import FieldError, RequestError

__all__ = [
    "already_exists",
    "bad_request",
    "cause_reason",
    "invalid",
    "not_found",
    "status_json",
    "status_of",
]


# ``field.ErrorType`` text -> ``metav1.CauseType`` (``field.ErrorType.String``).
_CAUSES = {
    "Not found": "FieldValueNotFound",
    "Required value": "FieldValueRequired",
    "Duplicate value": "FieldValueDuplicate",
    "Invalid value": "FieldValueInvalid",
    "Unsupported value": "FieldValueNotSupported",
    "Forbidden": "FieldValueForbidden",
    "Too long": "FieldValueTooLong",
    "Too many": "FieldValueTooMany",
    "Internal error": "InternalError",
    "Type error": "FieldValueTypeInvalid",
}


def status_json(code: int, message: str, reason: str, details: JSON | None = None) -> JSON:
    data: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        data["details"] = details
    data["code"] = code
    return data


def status_of(error: RequestError) -> JSON:
    """The ``Status`` object answering ``error``."""
    return status_json(error.code, error.message, error.reason, error.details)


def not_found(name: str, kind: str = "pods") -> RequestError:
    return RequestError(404, f'{kind} "{name}" not found', details={"name": name, "kind": kind})


def already_exists(name: str, kind: str = "pods") -> RequestError:
    return RequestError(
        409, f'{kind} "{name}" already exists', details={"name": name, "kind": kind}
    )


def bad_request(message: str) -> RequestError:
    return RequestError(400, message)


def cause_reason(error: FieldError) -> str:
    return _CAUSES.get(error.kind, "FieldValueInvalid")


def invalid(kind: str, name: str, errors: Sequence[FieldError]) -> RequestError:
    """422 ``Invalid``, worded as ``errors.NewInvalid``: one cause per field error."""
    texts = [str(error) for error in errors]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    causes = [
        {
            "reason": cause_reason(error),
            "message": str(replace(error, path="")),
            "field": error.path,
        }
        for error in errors
    ]
    return RequestError(
        422,
        f'{kind} "{name}" is invalid: {summary}',
        details={"name": name, "kind": kind, "causes": causes},
    )
