"""The release's place table: events, people and per-definition counts by area and month, every
count disclosure-controlled."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from hub.privacy.disclosure import DisclosureRule
from hub.publication.events import EVENT_SCHEMA
from hub.publication.place import place_counts

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def _events() -> pa.Table:
    rows: list[dict[str, object]] = []
    # area A, January: 23 events of 9 people, 12 of them serious violence under "x"
    rows += [
        {"person_key": f"p{i % 9}", "area_code": "A", "event_month": JAN, "sv_x": i < 12}
        for i in range(23)
    ]
    # area A, February: 5 events (suppressed); area B, January: 8 events of 8 people
    rows += [{"person_key": "p1", "area_code": "A", "event_month": FEB, "sv_x": True}] * 5
    rows += [
        {"person_key": f"q{i}", "area_code": "B", "event_month": JAN, "sv_x": False}
        for i in range(8)
    ]
    rows += [{"person_key": "p2", "area_code": None, "event_month": JAN, "sv_x": True}]  # no area
    schema = EVENT_SCHEMA.append(pa.field("sv_x", pa.bool_()))
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema)


def test_counts_by_area_and_month_are_controlled() -> None:
    table = place_counts(_events(), DisclosureRule())
    assert table.column_names == ["area_code", "event_month", "events", "people", "sv_x"]
    assert table.to_pylist() == [
        {"area_code": "A", "event_month": JAN, "events": 25, "people": 10, "sv_x": 10},
        {"area_code": "A", "event_month": FEB, "events": None, "people": None, "sv_x": None},
        {"area_code": "B", "event_month": JAN, "events": 10, "people": 10, "sv_x": None},
    ]


def test_a_stricter_rule_suppresses_more() -> None:
    table = place_counts(_events(), DisclosureRule(suppress_at_or_below=10, round_to=10))
    assert table.column("events").to_pylist() == [20, None, None]
