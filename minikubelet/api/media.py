"""The media types a request body may have, as the apiserver accepts them.

    JSON, YAML                       a whole object (create, replace, DeleteOptions)
    STRATEGIC_MERGE_PATCH, MERGE_PATCH, JSON_PATCH, APPLY_PATCH   what kubectl PATCHes with
    BODY_MEDIA_TYPES                 what POST, PUT and DELETE take
    PATCH_MEDIA_TYPES                what PATCH takes (``types.PatchType``)
    accepted_media_types(method)     which of the two a method takes
    media_type(header)               ``application/json; charset=utf-8`` -> ``application/json``

One list for the whole program: the server refuses any other body with 415
``UnsupportedMediaType`` before a handler sees it (a browser can send ``text/plain`` or a
form to any address without asking first, so accepting those would let any web page
create pods), and the handlers pick their decoder by the same names. Constants only, so
the client commands can import it at no cost.
"""

from __future__ import annotations

__all__ = [
    "APPLY_PATCH",
    "BODY_MEDIA_TYPES",
    "JSON",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_MEDIA_TYPES",
    "STRATEGIC_MERGE_PATCH",
    "YAML",
    "accepted_media_types",
    "media_type",
]

JSON = "application/json"
YAML = "application/yaml"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

BODY_MEDIA_TYPES = (JSON, YAML)
# The apiserver's order (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go).
PATCH_MEDIA_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


def accepted_media_types(method: str) -> tuple[str, ...]:
    """The body types ``method`` takes: the patch types for PATCH, JSON or YAML otherwise."""
    return PATCH_MEDIA_TYPES if method.upper() == "PATCH" else BODY_MEDIA_TYPES


def media_type(header: str) -> str:
    """The media type of a ``Content-Type`` value, lowercased, without its parameters."""
    return header.split(";", 1)[0].strip().lower()
