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
    ArrayLike,
    as_text,
    bools,
    compact,
    finish,
    first_reason,
    is_blank,
    matches,
    one,
    split_apply,
    unicode_normalise,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue

PNC_ID_REASONS = frozenset({MISSING, "format", "check_letter"})

_PATTERN = (
    r"^(?:(?P<y4>(?:19|20)[0-9]{2})|(?P<y2>[0-9]{2}))"
    r"(?:/(?P<s1>[0-9]{1,7})|(?P<s2>[0-9]{7}))"
    r"(?P<check>[A-Z])$"
)
# Already canonical (most IDs as a force's system holds them): parsed by position, not by regex.
_CANONICAL = r"^(?:19|20)[0-9]{2}/[0-9]{7}[A-Z]$"
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
    code = compact(text)
    shaped = bools(matches(code, _CANONICAL))
    canonical, bad_format, check_ok = split_apply(
        code, shaped, _canonical_parts, lambda rows: _parts(rows, pivot)
    )
    reasons = first_reason(
        len(text),
        [(blank, MISSING), (bad_format, "format"), (pc.invert(check_ok), "check_letter")],
    )
    return finish(canonical, reasons)


def _checked(number: pa.Array, check: pa.Array) -> pa.Array:
    return pc.equal(pc.take(_CHECK_LETTERS, pc.modulo(number, len(PNC_LETTERS))), check)


def _canonical_parts(code: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``_parts`` of IDs already in canonical form (``_CANONICAL``), read by position."""
    number = pc.add(
        pc.multiply(pc.cast(pc.utf8_slice_codeunits(code, 2, 4), pa.int64()), 10_000_000),
        pc.cast(pc.utf8_slice_codeunits(code, 5, 12), pa.int64()),
    )
    check_ok = _checked(number, pc.utf8_slice_codeunits(code, 12, 13))
    return code, pa.repeat(False, len(code)), check_ok


def _parts(code: pa.Array, pivot: int) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Canonical form, a mask of the IDs in no accepted shape, and whether the check letter is
    right (null where the shape is wrong)."""
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
    canonical = pc.binary_join_element_wise(year, "/", serial, check, "")
    return canonical, bad_format, _checked(number, check)


def pnc_id_one(value: Any, *, pivot: int | None = None) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`pnc_id`.

    >>> pnc_id_one("98/123456G", pivot=25)
    NormalisedValue(value='1998/0123456G', reason=None)
    """
    return one(pnc_id, value, pivot=pivot)
