"""The live dashboard (``minikubelet ui``, ``minikubelet run --ui``), on Textual.

    Dashboard(server, on_quit=None)   the Textual app (``app``)
    require_textual()                 None, or the message to print without the extra

The dashboard needs the ``ui`` extra (``pip install 'minikubelet[ui]'``: textual and
rich); the rest of minikubelet, ``trace --svg`` included, does not. Modules: ``app`` (the
app), ``state`` (what it shows, as pure functions of the API's JSON), ``client`` (its
HTTP calls, async and with timeouts), ``unix`` (their unix socket transport), ``screens``
(confirmations, describe, help), ``embedded`` (``run --ui``: the dashboard inside run's own
event loop).
"""

from __future__ import annotations

import importlib.util

__all__ = ["MISSING_EXTRA", "require_textual"]

MISSING_EXTRA = "error: the dashboard needs the 'ui' extra (textual): pip install 'minikubelet[ui]'"


def require_textual() -> str | None:
    """None when Textual can be imported, else the message saying how to install it."""
    try:
        found = importlib.util.find_spec("textual") is not None
    except (ImportError, ValueError):
        found = False
    return None if found else MISSING_EXTRA
