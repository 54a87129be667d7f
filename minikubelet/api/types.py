"""The JSON shapes of the API, named once for every module that builds or reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["JSON", "JSONView"]

JSON = dict[str, Any]  # an object being built, or handed over to be changed
JSONView = Mapping[str, Any]  # an object only read
