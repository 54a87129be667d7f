"""The ``Accept`` header as the apiserver reads it: media types with parameters, in order.

kubectl asks for conversions through parameters: ``application/json;as=Table;v=v1;
g=meta.k8s.io`` for server-side printing, ``application/json;g=apidiscovery.k8s.io;v=v2;
as=APIGroupDiscoveryList`` for aggregated discovery. The apiserver takes the first entry it
can serve (``k8s.io/apiserver/pkg/endpoints/handlers/negotiation``); so do we, which is why
this returns the entries in the client's order rather than sorted by ``q``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["MediaType", "parse_accept"]


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
