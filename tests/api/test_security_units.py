"""The guard's pure parts, as tables: Host parsing, the failed-authentication limiter."""

from __future__ import annotations

import pytest

from minikubelet.api.media import accepted_media_types, media_type
from minikubelet.server.auth import FailedAuthLimiter, TcpEndpoint, split_host


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("localhost", ("localhost", None)),
        ("localhost:10250", ("localhost", 10250)),
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("[::1]", ("::1", None)),
        ("[::1]:10250", ("::1", 10250)),
        (" example.com ", ("example.com", None)),
        ("", None),
        (":80", None),
        ("::1", None),  # IPv6 must be bracketed
        ("[::1", None),
        ("[::1]x", None),
        ("[::1]:", None),
        ("host:port", None),
        ("host:", None),
    ],
)
def test_split_host(header: str, expected: tuple[str, int | None] | None) -> None:
    assert split_host(header) == expected


def test_the_limiter_counts_failures_in_a_sliding_window() -> None:
    limiter = FailedAuthLimiter(limit=3, window=10.0)
    assert limiter.retry_after("a", 0.0) is None
    assert limiter.failed("a", 0.0) is False
    assert limiter.failed("a", 1.0) is False
    assert limiter.retry_after("a", 2.0) is None
    assert limiter.failed("a", 2.0) is True  # the third: the allowance is used up
    assert limiter.retry_after("a", 2.0) == 8.0  # until the first one is 10 s old
    assert limiter.retry_after("b", 2.0) is None  # per client
    assert limiter.retry_after("a", 9.5) == 0.5
    assert limiter.retry_after("a", 10.0) is None  # the first one left the window
    assert limiter.failed("a", 10.0) is True  # the 2nd, 3rd and this one: full again
    assert limiter.retry_after("a", 10.0) == 1.0
    assert limiter.retry_after("a", 30.0) is None
    assert limiter.failed("a", 30.0) is False  # all forgotten


def test_the_limiter_remembers_a_bounded_number_of_clients() -> None:
    limiter = FailedAuthLimiter(limit=2, window=10.0, max_clients=3)
    for index, client in enumerate(("a", "b", "c")):
        limiter.failed(client, float(index))
        limiter.failed(client, float(index))
    limiter.failed("d", 5.0)  # the oldest ("a") makes room
    assert limiter.retry_after("a", 5.0) is None
    assert limiter.retry_after("b", 5.0) is not None
    assert limiter.retry_after("c", 5.0) is not None
    limiter.failed("e", 20.0)  # everything expired: all make room
    assert limiter.retry_after("b", 20.0) is None


@pytest.mark.parametrize(
    ("address", "tls", "url"),
    [
        ("127.0.0.1", False, "http://127.0.0.1:1"),
        ("0.0.0.0", True, "https://127.0.0.1:1"),
        ("::", True, "https://[::1]:1"),
        ("::1", False, "http://[::1]:1"),
        ("192.0.2.7", True, "https://192.0.2.7:1"),
        ("localhost", False, "http://localhost:1"),
    ],
)
def test_where_a_local_client_connects(address: str, tls: bool, url: str) -> None:
    assert TcpEndpoint(address=address, port=1, tls=tls, token=None).url == url


@pytest.mark.parametrize(
    ("method", "header", "accepted"),
    [
        ("POST", "application/json", True),
        ("PUT", "application/json; charset=utf-8", True),
        ("DELETE", "Application/YAML", True),
        ("POST", "text/plain", False),
        ("POST", "application/x-www-form-urlencoded", False),
        ("POST", "application/strategic-merge-patch+json", False),
        ("PATCH", "application/strategic-merge-patch+json", True),
        ("PATCH", "application/merge-patch+json", True),
        ("PATCH", "application/json-patch+json", True),
        ("patch", "application/apply-patch+yaml", True),
        ("PATCH", "application/json", False),
    ],
)
def test_accepted_media_types(method: str, header: str, accepted: bool) -> None:
    assert (media_type(header) in accepted_media_types(method)) is accepted
