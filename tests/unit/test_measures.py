"""Home Office and local measures from a release's events: the right events count, repeats are
found within 365 days, people known to two or more partners are counted, and every value is
disclosure-controlled."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from hub.privacy.disclosure import DisclosureRule
from hub.publication.events import EVENT_SCHEMA
from hub.publication.measures import compute_measures, local_authorities

JAN = date(2026, 1, 1)


def _table(rows: list[dict[str, object]]) -> pa.Table:
    full = []
    for row in rows:
        week = row.get("event_week", date(2026, 1, 5))
        assert isinstance(week, date)
        month = week.replace(day=1)
        base = {"area_code": "A", "event_week": week, "event_month": month, **row}
        full.append({f.name: base.get(f.name) for f in EVENT_SCHEMA})
    return pa.Table.from_pylist(full, schema=EVENT_SCHEMA)


def _values(table: pa.Table, measure: str) -> dict[tuple[str, date], int | None]:
    return {
        (r["area_code"], r["event_month"]): r["value"]
        for r in table.to_pylist()
        if r["measure"] == measure
    }


LOOSE = DisclosureRule()  # 7 or fewer suppressed, rounded to 5


def test_home_office_measures_count_the_right_events() -> None:
    rows: list[dict[str, object]] = []
    ed = {"source": "ed", "role": "patient", "event_type": "ed_assault_attendance"}
    rows += [{**ed, "person_key": f"e{i}", "flag_knife": True, "age_band": "18-24"}
             for i in range(9)]  # fmt: skip
    rows += [{**ed, "person_key": f"f{i}", "flag_knife": True, "age_band": "65+"}
             for i in range(3)]  # fmt: skip
    rows += [{**ed, "person_key": "g", "flag_knife": False}] * 20  # no knife: not counted
    police = {"source": "police", "event_type": "assault with injury", "ho_offence_code": "008/01"}
    rows += [{**police, "person_key": f"v{i}", "role": "victim", "flag_knife": True}
             for i in range(10)]  # fmt: skip
    rows += [{**police, "person_key": f"s{i}", "role": "suspect", "flag_knife": True}
             for i in range(10)]  # suspects are not counted  # fmt: skip
    homicide = {"source": "police", "ho_offence_code": "001/01", "role": "victim"}
    rows += [{**homicide, "person_key": f"h{i}", "flag_domestic_abuse": i < 3} for i in range(11)]
    measures = compute_measures(_table(rows), LOOSE)
    at = ("A", JAN)
    assert _values(measures, "ed_knife_assault")[at] == 10  # 12, rounded
    assert _values(measures, "ed_knife_assault_under_25")[at] == 10  # 9
    assert _values(measures, "police_knife_sv")[at] == 10
    assert _values(measures, "homicide")[at] == 10  # 11
    assert _values(measures, "homicide_non_domestic")[at] == 10  # 8
    assert _values(measures, "police_knife_sv_under_25") == {}  # no age band: not under 25


def test_repeat_victimisation_within_a_year() -> None:
    start = date(2026, 1, 5)
    rows: list[dict[str, object]] = []
    for i in range(10):  # ten people, victims twice: 40 weeks apart (repeat) ...
        rows.append({"person_key": f"p{i}", "role": "victim", "event_week": start})
        rows.append(
            {"person_key": f"p{i}", "role": "victim", "event_week": start + timedelta(weeks=40)}
        )
    for i in range(10):  # ... and ten, 60 weeks apart (not a repeat)
        rows.append({"person_key": f"q{i}", "role": "victim", "event_week": start})
        rows.append(
            {"person_key": f"q{i}", "role": "victim", "event_week": start + timedelta(weeks=60)}
        )
    measures = compute_measures(_table(rows), LOOSE)
    repeats = _values(measures, "repeat_victimisation")
    later = (start + timedelta(weeks=40)).replace(day=1)
    assert repeats == {("A", later): 10}
    assert _values(measures, "victims")[("A", JAN)] == 20


def test_people_known_to_two_or_more_partners() -> None:
    rows: list[dict[str, object]] = []
    for i in range(12):  # twelve people seen by police and ED
        rows.append({"person_key": f"p{i}", "source": "police", "role": "victim"})
        rows.append({"person_key": f"p{i}", "source": "ed", "role": "patient", "area_code": "B"})
    rows += [{"person_key": f"x{i}", "source": "police", "role": "victim"} for i in range(30)]
    measures = compute_measures(_table(rows), LOOSE)
    assert _values(measures, "known_to_two_or_more") == {("A", JAN): 10, ("B", JAN): 10}


def test_small_values_are_suppressed() -> None:
    rows = [{"person_key": "h", "source": "police", "ho_offence_code": "001/01", "role": "victim"}]
    measures = compute_measures(_table(rows), LOOSE)
    assert _values(measures, "homicide") == {("A", JAN): None}
    assert all(v is None or (v > 7 and v % 5 == 0) for v in measures.column("value").to_pylist())


def test_a_source_without_an_event_area_counts_in_the_home_area() -> None:
    ed = {"role": "patient", "event_type": "ed_assault_attendance", "flag_knife": True}
    rows = [{**ed, "person_key": f"e{i}", "area_code": None, "home_area": "H"} for i in range(9)]
    rows += [{**ed, "person_key": "z", "area_code": None, "home_area": None}]  # no area at all
    measures = compute_measures(_table(rows), LOOSE)
    assert _values(measures, "ed_knife_assault") == {("H", JAN): 10}


def test_measures_by_local_authority(tmp_path: Path) -> None:
    reference = tmp_path / "postcode_lsoa.csv"
    reference.write_text(
        "postcode,lsoa_code,lsoa_name,local_authority\n"
        "L1 1AA,A,Town 001A,Townshire\nL1 1AB,A,Town 001A,Townshire\nL2 2AA,B,Town 002A,Townshire\n"
        "L3 3AA,C,Vale 001A,Valeshire\n"
    )
    areas = local_authorities(reference)
    assert areas == {"A": "Townshire", "B": "Townshire", "C": "Valeshire"}
    homicide = {"source": "police", "ho_offence_code": "001/01", "role": "victim"}
    rows = [{**homicide, "person_key": f"a{i}", "area_code": "A"} for i in range(5)]
    rows += [{**homicide, "person_key": f"b{i}", "area_code": "B"} for i in range(5)]
    rows += [{**homicide, "person_key": "z", "area_code": "Z"}]  # not in the reference: left out
    by_lsoa = compute_measures(_table(rows), LOOSE)
    assert _values(by_lsoa, "homicide") == {("A", JAN): None, ("B", JAN): None, ("Z", JAN): None}
    by_authority = compute_measures(_table(rows), LOOSE, areas)
    assert _values(by_authority, "homicide") == {("Townshire", JAN): 10}
    assert local_authorities(tmp_path / "missing.csv") is None
