"""``-o json``, ``-o yaml`` and ``-o name``, as kubectl prints them.

Objects print as received, keys sorted (kubectl goes through a Go map); JSON is indented by
four spaces. A list prints as ``kind: List`` with an empty ``resourceVersion`` whatever the
server sent, and its items get their ``kind``/``apiVersion`` filled in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["as_list", "to_json", "to_name", "to_yaml"]


def as_list(items: Sequence[Mapping[str, Any]], kind: str = "Pod") -> dict[str, Any]:
    """The ``List`` kubectl prints for several objects."""
    filled = [{"apiVersion": "v1", "kind": kind, **item} for item in items]
    return {
        "apiVersion": "v1",
        "items": filled,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def to_yaml(document: Mapping[str, Any]) -> str:
    import yaml  # only -o yaml pays for it

    class Dumper(yaml.SafeDumper):
        """Go YAML's look: strings that need quotes get double quotes, text gets ``|``."""

        def choose_scalar_style(self) -> str:
            style: str = super().choose_scalar_style()
            return '"' if style == "'" else style

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value and not value.startswith(" ") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    text: str = yaml.dump(
        dict(document), Dumper=Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True
    )
    return text


def to_name(document: Mapping[str, Any], resource: str = "pod") -> str:
    name = document.get("metadata", {}).get("name", "")
    return f"{resource}/{name}\n"
