"""Police National Computer (PNC) ID: year, serial number and check character.

Accepted: ``YYYY/NNNNNNNC`` and ``YY/NNNNNNNC`` with a serial of one to seven digits after the
slash (left-padded to seven), or the same without the slash when the serial has all seven digits
(without a slash a shorter serial cannot be told apart from the year). Case and whitespace do not
matter. A four-digit year starts with 19 or 20; a two-digit year is expanded with a pivot. The check
character is ``hub.privacy.checksums.pnc_check_letter`` computed on whole arrays: the two-digit year
followed by the seven-digit serial, as one number, modulo 23, indexes ``PNC_LETTERS``.

Canonical form: ``YYYY/NNNNNNNC``.

>>> pnc_id(pa.array(["98/123456g", "1998/0123456G", "98/123456H"]), pivot=25).values.to_pylist()
['1998/0123456G', '1998/0123456G', None]
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.checksums import PNC_LETTERS
from hub.privacy.normalise._arrow import (
    WHITESPACE,
    ArrayLike,
    as_text,
    finish,
    first_reason,
    is_blank,
    one,
    remove,
    unicode_normalise,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue

PNC_ID_REASONS = frozenset({MISSING, "format", "check_letter"})

_PATTERN = (
    r"^(?:(?P<y4>(?:19|20)[0-9]{2})|(?P<y2>[0-9]{2}))"
    r"(?:/(?P<s1>[0-9]{1,7})|(?P<s2>[0-9]{7}))"
    r"(?P<check>[A-Z])$"
)
_CHECK_LETTERS = pa.array(list(PNC_LETTERS), pa.string())


def _pick(first: pa.Array, second: pa.Array) -> pa.Array:
    """``first`` where non-empty, else ``second`` (a regex group that did not take part is "")."""
    return pc.if_else(pc.greater(pc.binary_length(first), 0), first, second)


def pnc_id(arr: ArrayLike, *, pivot: int | None = None) -> Normalised:
    """Normalise PNC IDs to ``YYYY/NNNNNNNC``.

    ``pivot`` is a two-digit year (0..99): a two-digit year above it is in the 1900s, otherwise in
    the 2000s. The default is the current two-digit year. Reasons: ``missing``, ``format`` (not one
    of the accepted shapes), ``check_letter`` (the check character does not match).
    """
    if pivot is None:
        pivot = date.today().year % 100
    if not 0 <= pivot <= 99:
        raise ValueError("pivot must be a two-digit year, 0..99")
    text = unicode_normalise(as_text(arr))
    blank = is_blank(text)
    code = remove(pc.utf8_upper(text), WHITESPACE)
    parts = pc.extract_regex(code, pattern=_PATTERN)
    bad_format = pc.invert(pc.fill_null(pc.is_valid(parts), False))

    # struct_field propagates the null of a row that did not match.
    y2 = pc.struct_field(parts, "y2")
    y4 = pc.struct_field(parts, "y4")
    century = pc.if_else(pc.greater(pc.cast(_pick(y2, "00"), pa.int64()), pivot), "19", "20")
    year = _pick(y4, pc.binary_join_element_wise(century, y2, ""))
    serial = pc.utf8_lpad(_pick(pc.struct_field(parts, "s1"), pc.struct_field(parts, "s2")), 7, "0")
    number = pc.cast(
        pc.binary_join_element_wise(pc.utf8_slice_codeunits(year, 2, 4), serial, ""), pa.int64()
    )
    check = pc.struct_field(parts, "check")
    check_ok = pc.equal(pc.take(_CHECK_LETTERS, pc.modulo(number, len(PNC_LETTERS))), check)

    reasons = first_reason(
        len(text),
        [(blank, MISSING), (bad_format, "format"), (pc.invert(check_ok), "check_letter")],
    )
    canonical = pc.binary_join_element_wise(year, "/", serial, check, "")
    return finish(canonical, reasons)


def pnc_id_one(value: Any, *, pivot: int | None = None) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`pnc_id`.

    >>> pnc_id_one("98/123456G", pivot=25)
    NormalisedValue(value='1998/0123456G', reason=None)
    """
    return one(pnc_id, value, pivot=pivot)
