"""Kubernetes resource quantities (``128Mi``, ``500m``, ``1e9``), parsed exactly.

A port of ``staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go``
(``parseQuantityString`` and ``ParseQuantity``), with Python fractions instead of inf.Dec:

    <quantity>     ::= <sign>? <digits>? ( "." <digits>? )? <suffix>
    <suffix>       ::= Ki | Mi | Gi | Ti | Pi | Ei          (powers of 1024)
                     | n | u | m | "" | k | M | G | T | P | E  (powers of 1000)
                     | ( e | E ) <sign>? <digits>          (a power of ten)

Kubernetes' quirks are kept on purpose, so that what Kubernetes accepts is accepted here
and nothing else: suffixes are case-sensitive (``K``, ``mi`` and ``MB`` are errors), ``1.``
and ``.5`` are numbers, values are rounded *up* to a whole nano-unit (``0.1n`` -> ``1n``) and
capped at 2^63-1. The error texts are Kubernetes' own (``ErrFormatWrong``, ``ErrSuffix``).
"""

from __future__ import annotations

import math
from fractions import Fraction

from minikubelet.model.spec import Quantity

__all__ = ["ERR_FORMAT_WRONG", "ERR_SUFFIX", "parse_quantity", "quantity_format"]

ERR_FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
ERR_SUFFIX = "unable to parse quantity's suffix"

_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX = Fraction(2**63 - 1)  # resource.maxAllowed
_NANO = Fraction(1, 10**9)
# Beyond these powers of ten a non-zero value is capped (or rounded up to 1n) anyway, so
# the exponent is clamped before exponentiation: "1e999999999" must not hang.
_EXPONENT_CLAMP = 40


def parse_quantity(text: str | int | float) -> Quantity:
    """Parse a quantity as Kubernetes does; YAML numbers (``2``, ``0.5``) are accepted.

    Raises ``ValueError`` with Kubernetes' message for anything else.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        # JSON `true` reaches ParseQuantity as the text "true": a format error there too.
        raise ValueError(ERR_FORMAT_WRONG)
    if isinstance(text, float) and not math.isfinite(text):
        raise ValueError(ERR_FORMAT_WRONG)
    source = text if isinstance(text, str) else str(text)
    # Quantity.UnmarshalJSON trims surrounding whitespace before parsing.
    string = source.strip() if isinstance(text, str) else source
    if not string:
        raise ValueError(ERR_FORMAT_WRONG)
    negative, numerator, denominator, suffix = _split(string)
    base, exponent = _interpret(suffix)
    if numerator.strip("0") == "" and denominator.strip("0") == "":
        return Quantity(Fraction(0), source)
    value = Fraction(int(numerator + denominator), 10 ** len(denominator))
    if base == 2:
        value *= 2**exponent
    elif exponent > _EXPONENT_CLAMP:
        value = _MAX
    elif exponent < -_EXPONENT_CLAMP:
        value = _NANO
    else:
        value *= Fraction(10) ** exponent
    # ParseQuantity rounds non-zero values up (away from zero) to a whole nano-unit ...
    if (value / _NANO).denominator != 1:
        value = Fraction(math.ceil(value / _NANO)) * _NANO
    # ... and caps the magnitude at maxAllowed.
    value = min(value, _MAX)
    return Quantity(-value if negative else value, source)


def quantity_format(quantity: Quantity) -> str:
    """Kubernetes' ``Format`` of a parsed quantity: BinarySI, DecimalSI or DecimalExponent.

    It decides the canonical spelling, which some rules compare against (divisors).
    """
    _, _, _, suffix = _split(quantity.text.strip() or "0")
    if suffix in _BINARY:
        return "BinarySI"
    if suffix in _DECIMAL:
        return "DecimalSI"
    return "DecimalExponent"


def _split(string: str) -> tuple[bool, str, str, str]:
    """``parseQuantityString``: (negative, numerator digits, decimal digits, suffix)."""
    end = len(string)
    pos = 0
    negative = False
    if string[0] in "+-":
        negative = string[0] == "-"
        pos = 1
    start = pos
    while pos < end and string[pos] in _DIGITS:
        pos += 1
    numerator = string[start:pos] or "0"
    denominator = ""
    if pos < end and string[pos] == ".":
        pos += 1
        start = pos
        while pos < end and string[pos] in _DIGITS:
            pos += 1
        denominator = string[start:pos]
    suffix_start = pos
    while pos < end and string[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and string[pos] in "+-":
        pos += 1
    while pos < end and string[pos] in _DIGITS:
        pos += 1
    if pos < end:
        # a character that fits nowhere in the grammar
        raise ValueError(ERR_FORMAT_WRONG)
    return negative, numerator, denominator, string[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int]:
    """``quantitySuffixer.interpret``: (base, exponent) of a suffix."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix]
    if suffix in _BINARY:
        return 2, _BINARY[suffix]
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if body and all(char in _DIGITS for char in body):
            exponent = int(digits)
            if -(2**63) <= exponent < 2**63:  # strconv.ParseInt(..., 10, 64)
                return 10, exponent
    raise ValueError(ERR_SUFFIX)
