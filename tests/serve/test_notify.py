"""sd_notify: datagrams on a real AF_UNIX socket, abstract names, the watchdog interval."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from minikubelet.notify import Notifier, without_notify_variables


@pytest.fixture
def receiver(short_tmp: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(short_tmp / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        yield sock, path


def test_messages_arrive_as_one_datagram_each(receiver: tuple[socket.socket, str]) -> None:
    sock, path = receiver
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": path})
    assert notifier.ready("Running 2 pods")
    assert notifier.status("Running\n3 pods")
    assert notifier.watchdog()
    assert notifier.stopping()
    assert sock.recv(4096) == b"READY=1\nSTATUS=Running 2 pods"
    assert sock.recv(4096) == b"STATUS=Running 3 pods"
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_socket_names() -> None:
    name = f"minikubelet-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier(f"@{name}").ready()
        assert sock.recv(4096) == b"READY=1"


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert notifier.watchdog_interval is None


def test_a_missing_socket_is_not_fatal(short_tmp: Path) -> None:
    assert not Notifier(str(short_tmp / "nobody")).ready()


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000"}, 2.0),
        (
            {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())},
            2.0,
        ),
        ({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}, None),
        ({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "nope"}, None),
        ({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "4000000"}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout(
    environ: dict[str, str], interval: float | None
) -> None:
    assert Notifier.from_environment(environ).watchdog_interval == interval


def test_containers_do_not_inherit_the_protocol_variables() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "2", "PATH": "/bin"}
    without_notify_variables(env)
    assert env == {"PATH": "/bin"}
