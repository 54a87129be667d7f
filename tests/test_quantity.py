"""Resource quantities, by Kubernetes' grammar (apimachinery resource/quantity.go)."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from minikubelet.manifest import parse_quantity

FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
SUFFIX = "unable to parse quantity's suffix"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("128Mi", 134_217_728),
        ("1Gi", 1_073_741_824),
        ("1G", 1_000_000_000),
        ("129e6", 129_000_000),
        ("129E6", 129_000_000),  # E followed by digits is an exponent ...
        ("1E", 10**18),  # ... E alone is exa
        ("1k", 1000),
        ("1Ki", 1024),
        ("1Ei", 2**60),
        ("1.5Gi", 1_610_612_736),
        ("500m", Fraction(1, 2)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("1.", 1),
        ("2u", Fraction(2, 10**6)),
        ("100n", Fraction(1, 10**7)),
        ("1e-3", Fraction(1, 1000)),
        ("+1", 1),
        ("-1", -1),
        ("0", 0),
        ("00Mi", 0),
        (" 1Gi ", 2**30),  # Quantity.UnmarshalJSON trims spaces
        (0.5, Fraction(1, 2)),  # YAML numbers
        (2, 2),
        (1e-05, Fraction(1, 100_000)),
        ("1.5n", Fraction(2, 10**9)),  # rounded up to a whole nano-unit
        ("0.1m", Fraction(1, 10_000)),
        ("9223372036854775808", 2**63 - 1),  # capped at maxAllowed
    ],
)
def test_valid(text: str | int | float, value: int | Fraction) -> None:
    quantity = parse_quantity(text)
    assert quantity.value == value
    assert quantity.text == str(text)


def test_milli_rounds_up() -> None:
    assert parse_quantity("0.1m").milli == 1
    assert parse_quantity("500m").milli == 500
    assert parse_quantity("1").milli == 1000
    assert int(parse_quantity("400m")) == 1  # bytes: rounded up too


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", FORMAT_WRONG),
        ("   ", FORMAT_WRONG),
        ("1MB", FORMAT_WRONG),
        ("abc", FORMAT_WRONG),
        ("1.2.3", FORMAT_WRONG),
        ("1 Gi", FORMAT_WRONG),
        ("1e1.5", FORMAT_WRONG),
        ("1K", SUFFIX),  # case-sensitive: kilo is k
        ("1mi", SUFFIX),  # mebi is Mi
        ("K", SUFFIX),
        ("1e", SUFFIX),
        ("1e+", SUFFIX),
        ("1Gi1", SUFFIX),
        ("--1", SUFFIX),
        (True, FORMAT_WRONG),
        (float("nan"), FORMAT_WRONG),
        (float("inf"), FORMAT_WRONG),
    ],
)
def test_invalid(text: str | float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_quantity(text)


def test_huge_exponents_do_not_hang() -> None:
    assert parse_quantity("1e999999999999").value == 2**63 - 1
    assert parse_quantity("1e-999999999999").value == Fraction(1, 10**9)
    assert parse_quantity("0e999999999999").value == 0
