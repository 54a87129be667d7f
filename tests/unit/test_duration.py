"""Go durations as the kubelet writes them (``10s``, ``1m20s``, ``5m0s``) and reads them."""

from __future__ import annotations

import pytest

from minikubelet.model.duration import format_duration, parse_duration

HINT = "use a number with a unit, such as 500ms, 10s or 5m"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("10s", 10.0, id="seconds"),
        pytest.param("1m20s", 80.0, id="minutes-and-seconds"),
        pytest.param("5m0s", 300.0, id="max-back-off"),
        pytest.param("5m", 300.0, id="minutes-only"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("1.5s", 1.5, id="fraction"),
        pytest.param(".5s", 0.5, id="leading-dot"),
        pytest.param("1.s", 1.0, id="trailing-dot"),
        pytest.param("0", 0.0, id="bare-zero"),
        pytest.param("0s", 0.0, id="zero-seconds"),
        pytest.param("1h", 3600.0, id="hour"),
        pytest.param("1h2m3.5s", 3723.5, id="all-units"),
        pytest.param("250us", 250e-6, id="microseconds-us"),
        pytest.param("250µs", 250e-6, id="microseconds-mu"),
        pytest.param("100ns", 100e-9, id="nanoseconds"),
        pytest.param("1m1ms", 60.001, id="m-then-ms"),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("10", id="missing-unit"),
        pytest.param("abc", id="word"),
        pytest.param("10 s", id="inner-space"),
        pytest.param("1x", id="unknown-unit"),
        pytest.param("s", id="unit-only"),
        pytest.param("1.5.5s", id="two-dots"),
        pytest.param("-1s", id="negative"),
        pytest.param("10s5", id="trailing-number"),
    ],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as caught:
        parse_duration(text)
    assert str(caught.value) == f'invalid duration "{text}": {HINT}'


def test_parse_duration_rejects_empty_text() -> None:
    with pytest.raises(ValueError, match="invalid duration") as caught:
        parse_duration("")
    assert str(caught.value) == f'invalid duration "": {HINT}'


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(10, "10s", id="seconds"),
        pytest.param(20.0, "20s", id="float-seconds"),
        pytest.param(80, "1m20s", id="minutes-and-seconds"),
        pytest.param(160, "2m40s", id="back-off-160"),
        pytest.param(300, "5m0s", id="back-off-max"),
        pytest.param(0.5, "500ms", id="milliseconds"),
        pytest.param(0.1, "100ms", id="tenth"),
        pytest.param(0.0015, "1.5ms", id="fractional-milliseconds"),
        pytest.param(1e-6, "1µs", id="microsecond"),
        pytest.param(1.5, "1.5s", id="fractional-seconds"),
        pytest.param(3600, "1h0m0s", id="hour"),
        pytest.param(3661.5, "1h1m1.5s", id="everything"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "seconds", [0.0, 0.1, 0.2, 0.4, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 3723.5]
)
def test_format_then_parse_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
