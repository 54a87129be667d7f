"""Which event loop ``serve`` and ``run`` use."""

from __future__ import annotations

import pytest

from minikubelet.errors import ConfigError
from minikubelet.eventloop import EVENT_LOOP_VARIABLE, choose


def test_uvloop_is_the_default_where_installed() -> None:
    pytest.importorskip("uvloop")
    assert choose({}) == ("asyncio", {"use_uvloop": True})
    assert choose({EVENT_LOOP_VARIABLE: "uvloop"}) == ("asyncio", {"use_uvloop": True})


def test_the_standard_loop_and_trio_can_be_chosen() -> None:
    assert choose({EVENT_LOOP_VARIABLE: "asyncio"}) == ("asyncio", {})
    pytest.importorskip("trio")
    assert choose({EVENT_LOOP_VARIABLE: " Trio "}) == ("trio", {})


def test_an_unknown_loop_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"MINIKUBELET_EVENT_LOOP='tokio': unknown event loop"):
        choose({EVENT_LOOP_VARIABLE: "tokio"})
