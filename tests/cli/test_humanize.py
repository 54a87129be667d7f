"""Durations and times as kubectl shows them (apimachinery's HumanDuration)."""

from __future__ import annotations

import pytest

from minikubelet.cli.client.humanize import describe_time, human_duration, parse_time, since
from tests.cli.samples import NOW, ago


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (123, "2m3s"),
        (421, "7m1s"),
        (599, "9m59s"),
        (600, "10m"),
        (25 * 60 + 59, "25m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 4 * 60, "3h4m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (2 * 86400, "2d"),
        (3 * 86400 + 5 * 3600, "3d5h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (2 * 365 * 86400, "2y"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_since_and_unknown() -> None:
    assert since(ago(90), NOW) == "90s"
    assert since(None, NOW) == "<unknown>"
    assert since("not a time", NOW) == "<unknown>"


def test_parse_time_accepts_nanoseconds_and_offsets() -> None:
    assert parse_time("2025-03-01T12:00:00.123456789Z") is not None
    assert parse_time("2025-03-01T13:00:00+01:00") == NOW


def test_describe_time_is_rfc1123z_in_local_time(utc_clock: None) -> None:
    assert describe_time(ago(0)) == "Sat, 01 Mar 2025 12:00:00 +0000"
