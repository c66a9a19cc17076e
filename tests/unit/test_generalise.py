"""Generalisation of quasi-identifiers."""

from __future__ import annotations

from datetime import date, datetime, time

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.privacy.generalise import (
    DEFAULT_AGE_BAND_LOWER_BOUNDS,
    DEFAULT_AGE_BANDS,
    age_at,
    age_band,
    bands_from_lower_bounds,
    bands_words,
    postcode_district,
    truncate_time,
)


def test_age_at_event_counts_birthdays() -> None:
    dob = pa.array([date(2000, 5, 10), date(2000, 5, 10), date(2010, 2, 28), None])
    at = pa.array([date(2025, 5, 9), date(2025, 5, 10), date(2009, 1, 1), date(2025, 1, 1)])
    assert age_at(dob, at).to_pylist() == [24, 25, None, None]


def test_age_bands_are_the_partnerships_bands() -> None:
    ages = pa.array([0, 9, 10, 15, 16, 17, 18, 24, 25, 34, 35, 49, 50, 64, 65, 99, None])
    assert age_band(ages).to_pylist() == [
        "0-9", "0-9", "10-15", "10-15", "16-17", "16-17", "18-24", "18-24", "25-34", "25-34",
        "35-49", "35-49", "50-64", "50-64", "65+", "65+", None,
    ]  # fmt: skip


def test_postcode_district_and_time_truncation() -> None:
    assert postcode_district(pa.array(["L4 0TH", "WA7 1AB", "M1 1AE"])).to_pylist() == [
        "L4", "WA7", "M1",
    ]  # fmt: skip
    stamp = pa.array([datetime(2025, 5, 7, 13, 5)])
    assert truncate_time(stamp, "week").to_pylist() == [date(2025, 5, 5)]
    assert truncate_time(stamp, "month").to_pylist() == [date(2025, 5, 1)]
    assert truncate_time(stamp, "hour").to_pylist() == [13]
    assert truncate_time(pa.array([time(22, 30)], pa.time32("s")), "hour").to_pylist() == [22]


def test_bands_from_lower_bounds() -> None:
    assert bands_from_lower_bounds((0, 18, 25)) == ((0, 17), (18, 24), (25, None))
    assert bands_from_lower_bounds([0]) == ((0, None),)
    assert bands_words(bands_from_lower_bounds((0, 18, 25))) == "0-17, 18-24, 25+"


def test_no_lower_bounds_means_the_partnerships_bands() -> None:
    assert bands_from_lower_bounds(()) == DEFAULT_AGE_BANDS
    assert bands_from_lower_bounds(DEFAULT_AGE_BAND_LOWER_BOUNDS) == DEFAULT_AGE_BANDS


def test_an_agreements_bands_label_ages() -> None:
    bands = bands_from_lower_bounds((0, 10, 18))
    ages = pa.array([0, 9, 10, 17, 18, 90, None])
    assert age_band(ages, bands).to_pylist() == [
        "0-9", "0-9", "10-17", "10-17", "18+", "18+", None,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("lower", "message"),
    [
        ((5, 18), "must start at 0, not 5"),
        ((0, 18, 18), "strictly increase \\(18 then 18\\)"),
        ((0, 25, 18), "strictly increase \\(25 then 18\\)"),
        ((-1, 0), "must start at 0"),
        ((0, 1.5), "whole numbers"),
        ((0, True), "whole numbers"),
    ],
)
def test_invalid_lower_bounds_are_refused(lower: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bands_from_lower_bounds(lower)


@given(
    st.sets(st.integers(min_value=1, max_value=110)).map(lambda s: (0, *sorted(s))),
    st.integers(min_value=0, max_value=130),
)
def test_every_age_falls_in_exactly_one_band(lower: tuple[int, ...], age: int) -> None:
    bands = bands_from_lower_bounds(lower)
    inside = [(low, high) for low, high in bands if low <= age and (high is None or age <= high)]
    assert len(inside) == 1
    assert bands[-1][1] is None
    assert all(high is not None and high >= low for low, high in bands[:-1])
