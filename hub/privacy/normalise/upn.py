"""Unique pupil number (UPN): a check letter followed by twelve characters.

Characters 2 to 12 are digits; character 13 is a digit, or a letter for a temporary UPN. The check
letter is ``hub.privacy.checksums.upn_check_letter`` computed on whole arrays: characters 2..13 take
weights 2..13 (a letter counts as its index in ``UPN_LETTERS``), the sum modulo 23 indexes
``UPN_LETTERS`` (the alphabet without I, O and S).

>>> upn(pa.array(["b801200005001", "A801200005001", "B80120000500", None])).reasons.to_pylist()
[None, 'check_letter', 'wrong_length', 'missing']
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.checksums import UPN_LETTERS
from hub.privacy.normalise._arrow import (
    WHITESPACE,
    ArrayLike,
    as_text,
    finish,
    first_reason,
    is_blank,
    matches,
    one,
    remove,
    unicode_normalise,
    weighted_digit_sum,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue

UPN_REASONS = frozenset({MISSING, "wrong_length", "format", "check_letter"})

_LETTER_CLASS = "[" + UPN_LETTERS + "]"
_SHAPE = f"^{_LETTER_CLASS}[0-9]{{11}}[0-9{UPN_LETTERS}]$"
_PLACEHOLDER = "A000000000000"
# Value of the last character: a digit is itself, a letter its index in UPN_LETTERS.
_LAST_CHARS = pa.array(list("0123456789" + UPN_LETTERS), pa.string())
_LAST_VALUES = pa.array(list(range(10)) + list(range(len(UPN_LETTERS))), pa.int64())
_CHECK_LETTERS = pa.array(list(UPN_LETTERS), pa.string())


def upn(arr: ArrayLike) -> Normalised:
    """Normalise unique pupil numbers to thirteen upper-case characters.

    Whitespace is removed and letters upper-cased. Reasons, first match wins: ``missing``,
    ``wrong_length`` (not thirteen characters), ``format`` (not a check letter, eleven digits and a
    digit or letter other than I, O, S), ``check_letter`` (the check letter does not match).
    """
    text = unicode_normalise(as_text(arr))
    blank = is_blank(text)
    code = remove(pc.utf8_upper(text), WHITESPACE)
    wrong_length = pc.not_equal(pc.utf8_length(code), 13)
    bad_format = pc.invert(matches(code, _SHAPE))
    safe = pc.if_else(bad_format, _PLACEHOLDER, code)

    # Characters 2..12 (positions 1..11) are digits with weights 2..12; the last has weight 13.
    total = weighted_digit_sum(safe, {i: i + 1 for i in range(1, 12)})
    last_char = pc.utf8_slice_codeunits(safe, start=12, stop=13)
    last_value = pc.take(_LAST_VALUES, pc.index_in(last_char, value_set=_LAST_CHARS))
    total = pc.add(total, pc.multiply(last_value, 13))
    position = pc.modulo(total, len(UPN_LETTERS))
    expected = pc.take(_CHECK_LETTERS, position)
    check_ok = pc.equal(expected, pc.utf8_slice_codeunits(safe, start=0, stop=1))

    reasons = first_reason(
        len(text),
        [
            (blank, MISSING),
            (wrong_length, "wrong_length"),
            (bad_format, "format"),
            (pc.invert(check_ok), "check_letter"),
        ],
    )
    return finish(code, reasons)


def upn_one(value: Any) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`upn`.

    >>> upn_one(" p207 0000 16049 ")
    NormalisedValue(value='P207000016049', reason=None)
    """
    return one(upn, value)
