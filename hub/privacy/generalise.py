"""Generalising quasi-identifiers: coarser values that keep analytic use and lose identifiability.

Dates of birth become an age or age band at the event, or a birth year; postcodes become their
district or LSOA; timestamps become a date, ISO week, month or hour of day.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# Age bands the partnerships report (design brief); the last band is open-ended.
DEFAULT_AGE_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 9),
    (10, 15),
    (16, 17),
    (18, 24),
    (25, 34),
    (35, 49),
    (50, 64),
    (65, None),
)


def as_date(values: pa.Array) -> pa.Array:
    """Dates as ``date32``: dates as they are, timestamps to their date, ISO text parsed."""
    if pa.types.is_date32(values.type):
        return values
    if pa.types.is_timestamp(values.type):
        return pc.cast(values, pa.date32())
    return pc.cast(
        pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32()
    )


def date_number(dates: pa.Array) -> pa.Array:
    """Each date as the number ``YYYYMMDD`` (int64; dates as ``as_date`` reads them)."""
    days = as_date(dates)
    return pc.add(
        pc.add(pc.multiply(pc.year(days), 10_000), pc.multiply(pc.month(days), 100)), pc.day(days)
    )


def age_from_numbers(born: pa.Array, at: pa.Array) -> pa.Array:
    """``age_at`` of dates given as ``date_number``: the difference of two ``YYYYMMDD`` numbers,
    in whole ten-thousands, is the whole years between them (month and day make up less than one
    ten-thousand, and decide whether the last year is complete)."""
    difference = pc.subtract(at, born)
    return pc.if_else(
        pc.less(difference, 0), pa.scalar(None, pa.int64()), pc.divide(difference, 10_000)
    )


def age_at(dob: pa.Array, at: pa.Array) -> pa.Array:
    """Whole years between a date of birth and an event date (null when either is missing or the
    event is before birth)."""
    return age_from_numbers(date_number(dob), date_number(at))


DEFAULT_AGE_BAND_LOWER_BOUNDS: tuple[int, ...] = tuple(low for low, _ in DEFAULT_AGE_BANDS)


def band_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


def bands_from_lower_bounds(lower: Sequence[int]) -> tuple[tuple[int, int | None], ...]:
    """Age bands from their lower bounds, as an agreement writes them (``FieldSpec.age_bands``).

    ``(0, 18, 25)`` -> ``((0, 17), (18, 24), (25, None))``: each band ends the year before the
    next begins, and the last is open-ended. Empty means the partnership's default bands. The
    bounds must start at 0 (every age has a band) and strictly increase (no empty or overlapping
    band); anything else is a ``ValueError`` naming the problem.
    """
    if not lower:
        return DEFAULT_AGE_BANDS
    bounds = list(lower)
    if any(isinstance(b, bool) or not isinstance(b, int) for b in bounds):
        raise ValueError("age band lower bounds must be whole numbers of years")
    if bounds[0] != 0:
        raise ValueError(f"age bands must start at 0, not {bounds[0]}")
    for before, after in pairwise(bounds):
        if after <= before:
            raise ValueError(
                f"age band lower bounds must strictly increase ({before} then {after})"
            )
    return tuple(
        (low, None if i == len(bounds) - 1 else bounds[i + 1] - 1) for i, low in enumerate(bounds)
    )


def bands_words(bands: Sequence[tuple[int, int | None]]) -> str:
    """``0-17, 18-24, 25+``."""
    return ", ".join(band_label(low, high) for low, high in bands)


def age_band(
    ages: pa.Array, bands: Sequence[tuple[int, int | None]] = DEFAULT_AGE_BANDS
) -> pa.Array:
    """Label each age with its band ("18-24", "65+"); ages outside every band become null.

    Where bands overlap, the later one wins. Labels are worked out once per distinct age (a few
    dozen in any extract), then given to every row.
    """
    encoded = pc.dictionary_encode(pc.cast(ages, pa.int64()))
    distinct = encoded.dictionary
    labels = pa.nulls(len(distinct), pa.string())
    for low, high in bands:
        inside = pc.greater_equal(distinct, low)
        if high is not None:
            inside = pc.and_(inside, pc.less_equal(distinct, high))
        labels = pc.if_else(pc.fill_null(inside, False), band_label(low, high), labels)
    return pc.take(labels, encoded.indices)


def birth_year(dob: pa.Array) -> pa.Array:
    return pc.cast(pc.year(as_date(dob)), pa.int32())


def postcode_district(postcodes: pa.Array) -> pa.Array:
    """The outward code of canonical postcodes ("L4 0TH" -> "L4")."""
    return pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(postcodes, 0, -3))


def truncate_time(stamps: pa.Array, unit: str) -> pa.Array:
    """A timestamp or date generalised to its ``date``, ``week`` (Monday), ``month`` or ``hour``."""
    if unit == "hour":
        if pa.types.is_time(stamps.type):
            micros = pc.cast(pc.cast(stamps, pa.time64("us")), pa.int64())
            return pc.cast(pc.divide(micros, 3_600_000_000), pa.int8())
        return pc.cast(pc.hour(stamps), pa.int8())
    days = as_date(stamps)
    if unit == "date":
        return days
    if unit == "week":
        return pc.cast(pc.floor_temporal(days, unit="week", week_starts_monday=True), pa.date32())
    if unit == "month":
        return pc.cast(pc.floor_temporal(days, unit="month"), pa.date32())
    raise ValueError(f"unknown time unit {unit}")


class LsoaLookup:
    """Postcode -> LSOA code from a reference file (postcode,lsoa_code,...); out-of-area -> null."""

    def __init__(self, path: Path) -> None:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=["postcode", "lsoa_code"],
                column_types={"postcode": pa.string(), "lsoa_code": pa.string()},
            ),
        )
        self._postcodes = table.column("postcode").combine_chunks()
        self._lsoas = table.column("lsoa_code").combine_chunks()

    def __call__(self, postcodes: pa.Array) -> pa.Array:
        index = pc.index_in(postcodes, value_set=self._postcodes)
        return pc.take(self._lsoas, index)
