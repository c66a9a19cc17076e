"""The normalisers and generalisers as they were before their fast paths (issue 6), kept verbatim
as the reference the property tests compare the fast versions with, value for value and reason
for reason. Not used by the hub."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.checksums import PNC_LETTERS
from hub.privacy.generalise import DEFAULT_AGE_BANDS, band_label
from hub.privacy.normalise._arrow import (
    WHITESPACE,
    ArrayLike,
    as_text,
    finish,
    is_blank,
    matches,
    remove,
    to_array,
    unicode_normalise,
)
from hub.privacy.normalise.dates import DATE_FORMATS, DEFAULT_DATE_FORMATS, EARLIEST_DATE_OF_BIRTH
from hub.privacy.normalise.result import MISSING, Normalised


def first_reason(length: int, rules: Sequence[tuple[pa.Array, str]]) -> pa.Array:
    """Reason per row: the code of the first rule whose mask is true there, else null."""
    reasons = pa.nulls(length, pa.string())
    for mask, code in reversed(rules):
        reasons = pc.if_else(pc.fill_null(mask, False), code, reasons)
    return reasons


# ---------------------------------------------------------------------------------- postcode

_SHAPE = r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"
_FIRST = "[A-PR-UWYZ]"
_SECOND = "[A-HK-Y]"
_OUTWARD = (
    "^(?:"
    f"{_FIRST}[0-9]{{1,2}}"  # A9, A99
    f"|{_FIRST}{_SECOND}[0-9]{{1,2}}"  # AA9, AA99
    f"|{_FIRST}[0-9][ABCDEFGHJKPSTUW]"  # A9A
    f"|{_FIRST}{_SECOND}[0-9][ABEHMNPRVWXY]"  # AA9A
    ")[0-9][A-Z]{2}$"
)
_INWARD = "[0-9][ABD-HJLNP-UW-Z]{2}$"
_GIRO = "GIR0AA"


def postcode(arr: ArrayLike) -> Normalised:
    """Normalise UK postcodes to ``OUTWARD INWARD``.

    Reasons, first match wins: ``missing``, ``format`` (not letters and digits in a postcode
    shape), ``invalid_outward`` (postcode shape, but the outward code breaks the letter rules),
    ``invalid_inward`` (the inward letters include C, I, K, M, O or V).
    """
    text = unicode_normalise(as_text(arr))
    blank = is_blank(text)
    code = remove(pc.utf8_upper(text), WHITESPACE)
    giro = pc.fill_null(pc.equal(code, _GIRO), False)
    bad_shape = pc.and_(pc.invert(matches(code, _SHAPE)), pc.invert(giro))
    bad_outward = pc.and_(pc.invert(matches(code, _OUTWARD)), pc.invert(giro))
    bad_inward = pc.and_(pc.invert(matches(code, _INWARD)), pc.invert(giro))
    reasons = first_reason(
        len(text),
        [
            (blank, MISSING),
            (bad_shape, "format"),
            (bad_outward, "invalid_outward"),
            (bad_inward, "invalid_inward"),
        ],
    )
    canonical = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(code, start=0, stop=-3),
        pc.utf8_slice_codeunits(code, start=-3),
        " ",
    )
    return finish(canonical, reasons)


# ---------------------------------------------------------------------------------- PNC ID

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


# --------------------------------------------------------------------------- date of birth

_TWO_DIGIT_YEAR = r"^(?:[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-][0-9]{2}|[0-9]{6})$"


def _from_text(text: pa.Array, formats: Sequence[str]) -> tuple[pa.Array, list[tuple[Any, str]]]:
    """Dates parsed from text, and the reason rules particular to text."""
    text = pc.utf8_trim_whitespace(unicode_normalise(text))
    canonical = pa.nulls(len(text), pa.string())
    for name in formats:
        parts = pc.extract_regex(text, pattern=DATE_FORMATS[name])
        candidate = pc.binary_join_element_wise(
            pc.struct_field(parts, "y"),
            pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0"),
            pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0"),
            "-",
        )
        canonical = pc.coalesce(canonical, candidate)
    unmatched = pc.is_null(canonical)
    parsed = pc.cast(
        pc.strptime(canonical, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32()
    )
    # strptime rolls 30 February over into March; a date is possible only if it prints back as read.
    possible = pc.fill_null(pc.equal(pc.cast(parsed, pa.string()), canonical), False)
    rules = [
        (pc.and_(unmatched, matches(text, _TWO_DIGIT_YEAR)), "ambiguous_year"),
        (unmatched, "format"),
        (pc.invert(possible), "impossible_date"),
    ]
    return pc.if_else(possible, parsed, pa.scalar(None, pa.date32())), rules


def _from_timestamp(stamps: pa.Array) -> tuple[pa.Array, list[tuple[Any, str]]]:
    """Dates of timestamps that fall at midnight (wall-clock time in their own zone)."""
    if stamps.type.tz is not None:
        stamps = pc.local_timestamp(stamps)
    midnight = pc.equal(pc.floor_temporal(stamps, unit="day"), stamps)
    return pc.cast(stamps, pa.date32()), [(pc.invert(midnight), "format")]


def date_of_birth(
    arr: ArrayLike,
    *,
    reference_date: date,
    formats: Sequence[str] = DEFAULT_DATE_FORMATS,
) -> Normalised:
    """Normalise dates of birth to ``YYYY-MM-DD``.

    ``formats`` names the accepted text formats, tried in order (keys of ``DATE_FORMATS``);
    ``reference_date`` is the latest possible date of birth (usually the extract date). Reasons,
    first match wins: ``missing``, ``ambiguous_year`` (a two-digit year), ``format`` (no accepted
    format, or a timestamp that is not at midnight), ``impossible_date`` (no such calendar day),
    ``too_old`` (before 1900-01-01), ``future`` (after ``reference_date``).
    """
    unknown = [name for name in formats if name not in DATE_FORMATS]
    if unknown:
        raise ValueError(f"unsupported date formats {unknown}; supported: {sorted(DATE_FORMATS)}")
    if isinstance(reference_date, datetime):
        reference_date = reference_date.date()
    array = to_array(arr)
    kind = array.type
    rules: list[tuple[Any, str]]
    if pa.types.is_date(kind):
        dates, rules = pc.cast(array, pa.date32()), []
        blank = pc.is_null(array)
    elif pa.types.is_timestamp(kind):
        dates, rules = _from_timestamp(array)
        blank = pc.is_null(array)
    else:
        text = as_text(array)
        blank = is_blank(text)
        dates, rules = _from_text(text, formats)
    too_old = pc.less(dates, pa.scalar(EARLIEST_DATE_OF_BIRTH, pa.date32()))
    future = pc.greater(dates, pa.scalar(reference_date, pa.date32()))
    reasons = first_reason(
        len(array),
        [(blank, MISSING), *rules, (too_old, "too_old"), (future, "future")],
    )
    return finish(pc.cast(dates, pa.string()), reasons)


# ------------------------------------------------------------------------- age and age band


def _as_date(values: pa.Array) -> pa.Array:
    if pa.types.is_date32(values.type):
        return values
    if pa.types.is_timestamp(values.type):
        return pc.cast(values, pa.date32())
    return pc.cast(
        pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32()
    )


def age_at(dob: pa.Array, at: pa.Array) -> pa.Array:
    """Whole years between a date of birth and an event date (null when either is missing or the
    event is before birth)."""
    born, event = _as_date(dob), _as_date(at)
    years = pc.subtract(pc.year(event), pc.year(born))
    before_birthday = pc.or_(
        pc.less(pc.month(event), pc.month(born)),
        pc.and_(pc.equal(pc.month(event), pc.month(born)), pc.less(pc.day(event), pc.day(born))),
    )
    age = pc.subtract(years, pc.cast(before_birthday, pa.int64()))
    return pc.if_else(pc.less(age, 0), pa.scalar(None, pa.int64()), age)


def age_band(
    ages: pa.Array, bands: Sequence[tuple[int, int | None]] = DEFAULT_AGE_BANDS
) -> pa.Array:
    """Label each age with its band ("18-24", "65+"); ages outside every band become null."""
    result = pa.nulls(len(ages), pa.string())
    ages = pc.cast(ages, pa.int64())
    for low, high in bands:
        inside = pc.greater_equal(ages, low)
        if high is not None:
            inside = pc.and_(inside, pc.less_equal(ages, high))
        result = pc.if_else(pc.fill_null(inside, False), band_label(low, high), result)
    return result
