"""NHS number: ten digits, the last a modulus-11 check digit.

Spaces, dashes and dots between digits are dropped (``943 476 5919``, ``943-476-5919``); an integer
input is left-padded to ten digits, because an integer column has already lost leading zeros. The
check digit is ``hub.privacy.checksums.nhs_check_digit`` computed on whole arrays: digit slices,
weights 10..2, modulo 11.

>>> nhs_number(pa.array(["943 476 5919", "9434765918", "123", None])).reasons.to_pylist()
[None, 'check_digit', 'wrong_length', 'missing']
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.normalise._arrow import (
    ArrayLike,
    apply_where,
    as_text,
    digit_at,
    finish,
    first_reason,
    is_blank,
    matches,
    one,
    remove,
    to_array,
    unicode_normalise,
    weighted_digit_sum,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue

NHS_NUMBER_REASONS = frozenset({MISSING, "non_digit", "wrong_length", "dummy", "check_digit"})

# Separators between digit groups: whitespace, any dash, dots.
_SEPARATORS = r"[\s\p{Z}\p{Pd}.]+"
_PLACEHOLDER = "0000000000"
# Numbers made of one repeated digit pass the modulus-11 check (d * 1111111111); all are dummies.
_REPDIGIT = 1_111_111_111
# The NHS reserves 999 000 0000 .. 999 999 9999 for test patients.
_TEST_RANGE = (9_990_000_000, 9_999_999_999)


def _text(arr: ArrayLike) -> tuple[pa.Array, pa.Array]:
    """Text of the input and a mask of negative integers (which are never NHS numbers)."""
    array = to_array(arr)
    if pa.types.is_integer(array.type):
        negative = pc.fill_null(pc.less(array, 0), False)
        text = pc.cast(array, pa.string())
        padded = pc.utf8_lpad(text, width=10, padding="0")
        return pc.if_else(negative, text, padded), negative
    return as_text(array), pa.repeat(False, len(array))


def nhs_number(arr: ArrayLike) -> Normalised:
    """Normalise NHS numbers to their ten digits.

    Reasons, first match wins: ``missing`` (null, empty, whitespace), ``non_digit`` (a character
    other than a digit or separator, or a negative integer), ``wrong_length`` (not ten digits),
    ``dummy`` (one repeated digit, or the 999 test range), ``check_digit`` (modulus-11 fails,
    including numbers whose check digit would be 10).
    """
    text, negative = _text(arr)
    text = unicode_normalise(text)
    blank = is_blank(text)
    digits = apply_where(
        text, pc.invert(pc.ascii_is_decimal(text)), lambda rows: remove(rows, _SEPARATORS)
    )
    non_digit = pc.or_(negative, pc.invert(matches(digits, r"^[0-9]*$")))
    wrong_length = pc.not_equal(pc.binary_length(digits), 10)
    shaped = pc.invert(pc.or_(pc.or_(blank, non_digit), pc.fill_null(wrong_length, True)))
    # Rows that are not ten digits compute on a placeholder; their reason is already decided.
    safe = pc.if_else(shaped, digits, _PLACEHOLDER)

    number = pc.cast(safe, pa.int64())
    repdigit = pc.equal(pc.modulo(number, _REPDIGIT), 0)
    test_range = pc.and_(
        pc.greater_equal(number, _TEST_RANGE[0]), pc.less_equal(number, _TEST_RANGE[1])
    )

    # Weights 10..2 on the first nine digits; check = 11 - (sum mod 11), 11 meaning 0 and 10
    # meaning that no valid number has these nine digits.
    remainder = pc.modulo(weighted_digit_sum(safe, {i: 10 - i for i in range(9)}), 11)
    expected = pc.modulo(pc.subtract(11, remainder), 11)
    check_ok = pc.and_(pc.not_equal(remainder, 1), pc.equal(expected, digit_at(safe, 9)))

    reasons = first_reason(
        len(text),
        [
            (blank, MISSING),
            (non_digit, "non_digit"),
            (wrong_length, "wrong_length"),
            (pc.or_(repdigit, test_range), "dummy"),
            (pc.invert(check_ok), "check_digit"),
        ],
    )
    return finish(digits, reasons)


def nhs_number_one(value: Any) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`nhs_number`.

    >>> nhs_number_one(9434765919)
    NormalisedValue(value='9434765919', reason=None)
    >>> nhs_number_one("999 000 0018").reason
    'dummy'
    """
    return one(nhs_number, value)
