"""Which event loop runs minikubelet: asyncio on uvloop where it is installed.

The engine is written against anyio, so it runs on asyncio's own loop, on uvloop (libuv:
its callbacks, timers and readiness waits cost about half of asyncio's), and on trio. The
default is uvloop, a dependency on the platforms it supports, with asyncio's own loop as
the fallback where it cannot be imported. ``MINIKUBELET_EVENT_LOOP`` chooses explicitly:
``uvloop``, ``asyncio`` (the standard library's loop) or ``trio`` (if it is installed).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, TypeVarTuple, Unpack

import anyio

from minikubelet.errors import ConfigError

__all__ = ["EVENT_LOOP_VARIABLE", "EventLoop", "choose", "run"]

EVENT_LOOP_VARIABLE = "MINIKUBELET_EVENT_LOOP"

T = TypeVar("T")
Args = TypeVarTuple("Args")

EventLoop = tuple[str, dict[str, Any]]  # (anyio backend, its backend_options)

_CHOICES = ("uvloop", "asyncio", "trio")


def choose(environ: Mapping[str, str] = os.environ) -> EventLoop:
    wanted = environ.get(EVENT_LOOP_VARIABLE, "").strip().lower()
    if wanted not in ("", *_CHOICES):
        raise ConfigError(
            f"{EVENT_LOOP_VARIABLE}={wanted!r}: unknown event loop (use one of: "
            f"{', '.join(_CHOICES)})"
        )
    if wanted == "trio":
        if importlib.util.find_spec("trio") is None:
            raise ConfigError(f"{EVENT_LOOP_VARIABLE}=trio: trio is not installed")
        return "trio", {}
    if wanted == "asyncio":
        return "asyncio", {}
    if importlib.util.find_spec("uvloop") is not None:
        return "asyncio", {"use_uvloop": True}
    if wanted == "uvloop":
        raise ConfigError(f"{EVENT_LOOP_VARIABLE}=uvloop: uvloop is not installed")
    return "asyncio", {}


def run(loop: EventLoop, func: Callable[[Unpack[Args]], Awaitable[T]], *args: *Args) -> T:
    """``anyio.run`` on ``loop`` (from ``choose``)."""
    backend, options = loop
    return anyio.run(func, *args, backend=backend, backend_options=options)
