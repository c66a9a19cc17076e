"""Date of birth, to ISO ``YYYY-MM-DD``.

Text is matched against an ordered tuple of formats; the first format whose shape matches decides,
and there is no fall-back to another format when the date it gives is impossible (falling back from
day-first to month-first would silently swap day and month). Partners in England and Wales send
day-first dates: ``01/05/1990`` is the 1st of May, never the 5th of January. ``%m/%d/%Y`` exists
for a partner whose agreement says it sends month-first dates, and is never in the default tuple.

Two-digit years (``01/05/90``, ``900501``) are rejected as ``ambiguous_year``: a pivot that guesses
the century is wrong for the oldest people and for the babies. ``date32``/``date64`` inputs are
taken as they are; ``timestamp`` inputs must fall at midnight (wall-clock time in their own time
zone), so a date that was shifted into the previous evening by a time-zone conversion is refused,
not moved.

>>> from datetime import date
>>> dob = date_of_birth(
...     pa.array(["1990-05-01", "01/05/1990", "1.5.1990", "19900501", "2023-02-30", "01/05/90"]),
...     reference_date=date(2025, 1, 1),
... )
>>> dob.values.to_pylist()[:4]
['1990-05-01', '1990-05-01', '1990-05-01', '1990-05-01']
>>> dob.reasons.to_pylist()[4:]
['impossible_date', 'ambiguous_year']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.normalise._arrow import (
    ArrayLike,
    as_text,
    bools,
    finish,
    first_reason,
    is_blank,
    matches,
    one,
    split_apply,
    to_array,
    unicode_normalise,
)
from hub.privacy.normalise.result import MISSING, Normalised, NormalisedValue

DATE_OF_BIRTH_REASONS = frozenset(
    {MISSING, "format", "ambiguous_year", "impossible_date", "too_old", "future"}
)
EARLIEST_DATE_OF_BIRTH = date(1900, 1, 1)

_Y = "(?P<y>[0-9]{4})"
_M = "(?P<m>[0-9]{1,2})"
_D = "(?P<d>[0-9]{1,2})"
# A time part that is midnight: T or space, hh:mm, optional seconds and fraction, optional offset.
_MIDNIGHT = r"[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"

# Supported format names (strptime spelling) -> regex with named groups y, m, d.
DATE_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        "%Y-%m-%d": f"^{_Y}-{_M}-{_D}$",
        "%Y-%m-%dT%H:%M:%S": f"^{_Y}-{_M}-{_D}{_MIDNIGHT}$",
        "%d/%m/%Y": f"^{_D}/{_M}/{_Y}$",
        "%d-%m-%Y": f"^{_D}-{_M}-{_Y}$",
        "%d.%m.%Y": rf"^{_D}\.{_M}\.{_Y}$",
        "%Y%m%d": "^(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$",
        "%Y/%m/%d": f"^{_Y}/{_M}/{_D}$",
        "%m/%d/%Y": f"^{_M}/{_D}/{_Y}$",
    }
)
DEFAULT_DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y%m%d",
)
_TWO_DIGIT_YEAR = r"^(?:[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-][0-9]{2}|[0-9]{6})$"


# Formats whose matches of exactly this many characters have a two-digit day and month: the
# year, month and day are then read by position ((start, stop) of each), not by regex groups.
_FIXED_WIDTH: Mapping[str, tuple[int, tuple[int, int], tuple[int, int], tuple[int, int]]] = (
    MappingProxyType(
        {
            "%Y-%m-%d": (10, (0, 4), (5, 7), (8, 10)),
            "%d/%m/%Y": (10, (6, 10), (3, 5), (0, 2)),
            "%d-%m-%Y": (10, (6, 10), (3, 5), (0, 2)),
            "%d.%m.%Y": (10, (6, 10), (3, 5), (0, 2)),
            "%Y%m%d": (8, (0, 4), (4, 6), (6, 8)),
            "%Y/%m/%d": (10, (0, 4), (5, 7), (8, 10)),
            "%m/%d/%Y": (10, (6, 10), (0, 2), (3, 5)),
        }
    )
)


def _iso_by_regex(text: pa.Array, name: str) -> tuple[pa.Array]:
    """``YYYY-MM-DD`` of text that matches format ``name``, from the regex groups."""
    parts = pc.extract_regex(text, pattern=DATE_FORMATS[name])
    return (
        pc.binary_join_element_wise(
            pc.struct_field(parts, "y"),
            pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0"),
            pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0"),
            "-",
        ),
    )


def _iso(text: pa.Array, name: str) -> pa.Array:
    """``YYYY-MM-DD`` of text that matches format ``name`` (ASCII digits and separators)."""
    fixed = _FIXED_WIDTH.get(name)
    if fixed is None:
        return _iso_by_regex(text, name)[0]
    width, *places = fixed

    def by_position(rows: pa.Array) -> tuple[pa.Array]:
        raw = rows.cast(pa.binary())
        year, month, day = (pc.binary_slice(raw, start, stop) for start, stop in places)
        return (pc.binary_join_element_wise(year, month, day, b"-").view(pa.string()),)

    wide = bools(pc.equal(pc.binary_length(text), width))
    return split_apply(text, wide, by_position, lambda rows: _iso_by_regex(rows, name))[0]


def _from_text(text: pa.Array, formats: Sequence[str]) -> tuple[pa.Array, list[tuple[Any, str]]]:
    """Dates parsed from text, and the reason rules particular to text.

    The first format whose regex matches a value decides it. Each format is tried only on the
    values no earlier format matched, so a file in one format pays for about one regex per value.
    """
    text = pc.utf8_trim_whitespace(unicode_normalise(text))
    length = len(text)
    left = np.flatnonzero(bools(pc.is_valid(text)))
    positions: list[np.ndarray] = []
    found: list[pa.Array] = []
    for name in formats:
        if left.size == 0:
            break
        rows = text if left.size == length else pc.take(text, pa.array(left))
        hit = bools(matches(rows, DATE_FORMATS[name]))
        if hit.any():
            found.append(_iso(rows.filter(pa.array(hit)), name))
            positions.append(left[hit])
            left = left[~hit]
    where = np.full(length, -1, np.int64)
    if found:
        where[np.concatenate(positions)] = np.arange(sum(len(f) for f in found))
    index = pa.array(where, mask=where < 0)
    canonical = pc.take(pa.concat_arrays(found) if found else pa.array([], pa.string()), index)
    unmatched = pc.is_null(canonical)
    two_digit_year = np.zeros(length, dtype=bool)
    if left.size:
        rows = pc.take(text, pa.array(left))
        two_digit_year[left] = bools(matches(rows, _TWO_DIGIT_YEAR))
    parsed = pc.cast(
        pc.strptime(canonical, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32()
    )
    # strptime rolls 30 February over into March; a date is possible only if it prints back as read.
    possible = pc.fill_null(pc.equal(pc.cast(parsed, pa.string()), canonical), False)
    rules = [
        (pa.array(two_digit_year), "ambiguous_year"),
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


def date_of_birth_one(
    value: Any, *, reference_date: date, formats: Sequence[str] = DEFAULT_DATE_FORMATS
) -> NormalisedValue:
    """Scalar convenience wrapper around :func:`date_of_birth`.

    >>> date_of_birth_one(date(1990, 5, 1), reference_date=date(2025, 1, 1))
    NormalisedValue(value='1990-05-01', reason=None)
    """
    return one(date_of_birth, value, reference_date=reference_date, formats=formats)
