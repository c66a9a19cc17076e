"""The release's ``place`` table: events and people by area and month, disclosure-controlled.

One row per area (``area_code``: where the event happened, as the sources give it) and month
(``event_month``), with the number of events, of distinct people and of events counting under
each serious-violence definition (``sv_<id>``, ``hub.publication.definitions``). Every count
goes through disclosure control (``hub.privacy.disclosure``) with the strictest rule of the
agreements the release draws on: small counts are null, the rest rounded. Events without an area
or a month are not counted here (they stay in ``event``).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from hub.privacy.disclosure import DisclosureRule, control_table

KEYS = ("area_code", "event_month")


def place_counts(events: pa.Table, rule: DisclosureRule) -> pa.Table:
    """Controlled counts by area and month, sorted by area then month."""
    located = events.filter(
        pc.and_(pc.is_valid(events.column("area_code")), pc.is_valid(events.column("event_month")))
    )
    definitions = [n for n in events.column_names if n.startswith("sv_")]
    columns = {
        "area_code": located.column("area_code"),
        "event_month": located.column("event_month"),
        "person_key": located.column("person_key"),
        **{n: pc.cast(located.column(n), pa.int64()) for n in definitions},
    }
    grouped = (
        pa.table(columns)
        .group_by(list(KEYS), use_threads=False)
        .aggregate(
            [("person_key", "count"), ("person_key", "count_distinct")]
            + [(n, "sum") for n in definitions]
        )
        .sort_by([(k, "ascending") for k in KEYS])
    )
    table = pa.table(
        {
            "area_code": grouped.column("area_code"),
            "event_month": grouped.column("event_month"),
            "events": grouped.column("person_key_count"),
            "people": grouped.column("person_key_count_distinct"),
            **{n: grouped.column(f"{n}_sum") for n in definitions},
        }
    )
    return control_table(table, ["events", "people", *definitions], rule)
