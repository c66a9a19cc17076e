"""Generalisation of quasi-identifiers."""

from __future__ import annotations

from datetime import date, datetime, time

import pyarrow as pa

from hub.privacy.generalise import age_at, age_band, postcode_district, truncate_time


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
