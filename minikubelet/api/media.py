"""Media types as the apiserver reads them: what a request body may be, what a client accepts.

    JSON, YAML                       a whole object (create, replace, DeleteOptions)
    STRATEGIC_MERGE_PATCH, MERGE_PATCH, JSON_PATCH, APPLY_PATCH   what kubectl PATCHes with
    BODY_MEDIA_TYPES                 what POST, PUT and DELETE take
    PATCH_MEDIA_TYPES                what PATCH takes (``types.PatchType``)
    accepted_media_types(method)     which of the two a method takes
    media_type(header)               ``application/json; charset=utf-8`` -> ``application/json``
    parse_accept(header)             the ``Accept`` header's entries, in the client's order

One list for the whole program: the server refuses any other body with 415
``UnsupportedMediaType`` before a handler sees it (a browser can send ``text/plain`` or a
form to any address without asking first, so accepting those would let any web page
create pods), and the handlers pick their decoder by the same names. Nothing here is
heavy, so the client commands can import it at no cost.

kubectl asks for conversions through ``Accept`` parameters: ``application/json;as=Table;
v=v1;g=meta.k8s.io`` for server-side printing, ``application/json;g=apidiscovery.k8s.io;
v=v2;as=APIGroupDiscoveryList`` for aggregated discovery. The apiserver takes the first entry
it can serve (``k8s.io/apiserver/pkg/endpoints/handlers/negotiation``); so do we, which is
why ``parse_accept`` returns the entries in the client's order rather than sorted by ``q``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "APPLY_PATCH",
    "BODY_MEDIA_TYPES",
    "JSON",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_MEDIA_TYPES",
    "STRATEGIC_MERGE_PATCH",
    "YAML",
    "MediaType",
    "accepted_media_types",
    "media_type",
    "parse_accept",
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


@dataclass(frozen=True)
class MediaType:
    """One entry of an ``Accept`` header: ``type/subtype`` and its parameters."""

    mime: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_json(self) -> bool:
        return self.mime in ("application/json", "application/*", "*/*")

    def param(self, name: str) -> str:
        return self.params.get(name, "")


def parse_accept(header: str | None) -> list[MediaType]:
    """The entries of ``header`` in order; an absent or empty header means ``*/*``."""
    if not header or not header.strip():
        return [MediaType("*/*")]
    entries = []
    for raw in header.split(","):
        parts = [part.strip() for part in raw.split(";")]
        mime = parts[0].lower()
        if not mime:
            continue
        params: dict[str, str] = {}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            if key.strip():
                params[key.strip().lower()] = value.strip().strip('"')
        entries.append(MediaType(mime, params))
    return entries or [MediaType("*/*")]
