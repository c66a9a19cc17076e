"""The Home Office serious-violence measures and the partnerships' recurring local measures,
computed from a release by month and area, through disclosure control.

Home Office success measures (``../shared/domain.md``), with the variants in use:

- ``ed_knife_assault``: emergency-department attendances for assault with a knife or sharp object
  (the timelier proxy for hospital admissions); ``_under_25``: patients under 25;
- ``police_knife_sv``: police-recorded knife- or sharp-object-enabled serious violence (homicide,
  attempted murder, wounding, assault with injury, robbery, threats to kill, rape), counted per
  victim; ``_under_25``: victims under 25;
- ``homicide``: homicides recorded by the police, per victim; ``homicide_non_domestic``: without
  the domestic-abuse flag.

Local measures:

- ``repeat_victimisation``: victim events of a person who was already a victim in the 365 days
  before (by event week), with ``victims`` (every victim event) beside it for the rate;
- ``known_to_two_or_more``: people with an event in the area and month who are known to two or
  more partners over the whole release.

Each row is a measure, an area (``area_code``: where the event happened or, for a source that
does not record it such as ED attendances, the person's home area; by local authority when the
partnership's postcode reference names them, since most LSOA-month counts would be suppressed)
and a month (``event_month``), and its value, controlled like every analyst-facing aggregate
(``hub.privacy.disclosure``). Events without any area or a month are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from hub.privacy.disclosure import DisclosureRule, control
from hub.publication.definitions import Rule, matches

KNIFE_VIOLENCE = ("001/01", "004/01", "002/00", "005/01", "008/01", "034/01", "034/02", "003/02",
                  "019/07")  # fmt: skip
HOMICIDE = ("001/01", "004/01")
REPEAT_WITHIN = timedelta(days=365)
HOME_OFFICE = ("ed_knife_assault", "police_knife_sv", "homicide")


@dataclass(frozen=True)
class Measure:
    id: str
    description: str
    rule: Rule


EVENT_MEASURES = (
    Measure(
        "ed_knife_assault",
        "ED attendances for assault with a knife or sharp object",
        Rule(types=("ed_assault_attendance",), any_flag=("knife",)),
    ),
    Measure(
        "ed_knife_assault_under_25",
        "ED attendances for assault with a knife or sharp object, patients under 25",
        Rule(types=("ed_assault_attendance",), any_flag=("knife",), age_under=25),
    ),
    Measure(
        "police_knife_sv",
        "Police-recorded knife-enabled serious violence (victims)",
        Rule(codes=KNIFE_VIOLENCE, any_flag=("knife",), roles=("victim",)),
    ),
    Measure(
        "police_knife_sv_under_25",
        "Police-recorded knife-enabled serious violence, victims under 25",
        Rule(codes=KNIFE_VIOLENCE, any_flag=("knife",), roles=("victim",), age_under=25),
    ),
    Measure("homicide", "Homicides (victims)", Rule(codes=HOMICIDE, roles=("victim",))),
    Measure(
        "homicide_non_domestic",
        "Non-domestic homicides (victims)",
        Rule(codes=HOMICIDE, roles=("victim",), no_flag=("domestic_abuse",)),
    ),
)
DESCRIPTIONS = {
    **{m.id: m.description for m in EVENT_MEASURES},
    "victims": "Victim events (police)",
    "repeat_victimisation": "Victim events of a person already a victim in the 365 days before",
    "known_to_two_or_more": "People with an event here and then, known to two or more partners",
}


def _repeats(events: pa.Table) -> pa.Array:
    """Whether each event is a victim event of a person with another victim event in the
    REPEAT_WITHIN before it (by event week; ties in the same week count as repeats after the
    first)."""
    victim = pc.and_(
        pc.fill_null(pc.equal(events.column("role"), "victim"), False),
        pc.is_valid(events.column("event_week")),
    ).to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(events.column("person_key")).combine_chunks()
    keys = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    days = pc.fill_null(pc.cast(events.column("event_week"), pa.int32()), 0)
    weeks = days.to_numpy(zero_copy_only=False).astype(np.int64)
    result = np.zeros(events.num_rows, dtype=bool)
    rows = np.flatnonzero(victim & (keys >= 0))
    order = rows[np.lexsort((rows, weeks[rows], keys[rows]))]
    same = keys[order][1:] == keys[order][:-1]
    close = (weeks[order][1:] - weeks[order][:-1]) <= REPEAT_WITHIN.days
    result[order[1:][same & close]] = True
    return pa.array(result)


def _known_to_many(events: pa.Table) -> pa.Table:
    """The people known to two or more sources in the release (one row each)."""
    sources = events.group_by("person_key", use_threads=False).aggregate(
        [("source", "count_distinct")]
    )
    return sources.filter(pc.greater_equal(sources.column("source_count_distinct"), 2))


def local_authorities(reference: Path) -> dict[str, str] | None:
    """LSOA code -> local authority from the partnership's postcode reference file
    (``postcode,lsoa_code,...,local_authority``); None when it has no local authority."""
    if not reference.is_file():
        return None
    names = pacsv.read_csv(reference)
    if "local_authority" not in names.column_names or "lsoa_code" not in names.column_names:
        return None
    pairs = (
        names.select(["lsoa_code", "local_authority"])
        .group_by(["lsoa_code", "local_authority"], use_threads=False)
        .aggregate([])
    )
    return dict(
        zip(
            pairs.column("lsoa_code").to_pylist(),
            pairs.column("local_authority").to_pylist(),
            strict=True,
        )
    )


def with_local_authorities(events: pa.Table, areas: dict[str, str] | None) -> pa.Table:
    """``events`` with ``local_authority`` (of ``area_code``) and ``home_local_authority`` (of
    ``home_area``) from the partnership's reference; null where it does not know the LSOA, or
    everywhere without a reference."""
    for source, name in (("area_code", "local_authority"), ("home_area", "home_local_authority")):
        if areas is None:
            mapped = pa.nulls(events.num_rows, pa.string())
        else:
            lsoas = pa.array(list(areas), pa.string())
            names = pa.array(list(areas.values()), pa.string())
            mapped = pc.take(names, pc.index_in(events.column(source), value_set=lsoas))
        events = events.append_column(pa.field(name, pa.string()), mapped)
    return events


def _located(events: pa.Table, areas: dict[str, str] | None) -> pa.Table:
    """The events with an area (where it happened, else the person's home area; by local
    authority with ``areas``) and a month; the others are left out."""
    area = pc.coalesce(events.column("area_code"), events.column("home_area"))
    if areas is not None:
        lsoas = pa.array(list(areas), pa.string())
        names = pa.array(list(areas.values()), pa.string())
        area = pc.take(names, pc.index_in(area, value_set=lsoas))
    events = events.set_column(events.column_names.index("area_code"), "area_code", area)
    return events.filter(
        pc.and_(pc.is_valid(events.column("area_code")), pc.is_valid(events.column("event_month")))
    )


def _event_masks(located: pa.Table, definitions: bool) -> dict[str, pa.Array]:
    """Which events each event-level measure counts (with ``definitions``, also each local
    definition's ``sv_<id>`` column of the release)."""
    counted: dict[str, pa.Array] = {m.id: matches(m.rule, located) for m in EVENT_MEASURES}
    counted["victims"] = pc.fill_null(pc.equal(located.column("role"), "victim"), False)
    counted["repeat_victimisation"] = _repeats(located)
    if definitions:
        for name in located.column_names:
            if name.startswith("sv_"):
                counted[name] = pc.fill_null(located.column(name), False)
    return counted


def measure_counts(events: pa.Table, areas: dict[str, str] | None = None) -> pa.Table:
    """The raw counts behind every event-level measure and local definition, by source, area and
    month: ``measure``, ``source``, ``area_code``, ``event_month``, ``events``. Not for analysts
    as it is (nothing here is controlled): ``hub.analysis.measures`` adds up the sources a
    project may draw on and controls the result. Pre-aggregating here is what makes a measures
    page fast at national scale (bench/query.py)."""
    located = _located(events, areas)
    keys = located.select(["source", "area_code", "event_month"])
    parts = []
    for measure, mask in _event_masks(located, definitions=True).items():
        grouped = (
            keys.filter(mask)
            .group_by(["source", "area_code", "event_month"], use_threads=False)
            .aggregate([([], "count_all")])
        )
        parts.append(
            pa.table(
                {
                    "measure": pa.array([measure] * grouped.num_rows, pa.string()),
                    "source": grouped.column("source"),
                    "area_code": grouped.column("area_code"),
                    "event_month": grouped.column("event_month"),
                    "events": pc.cast(grouped.column("count_all"), pa.int64()),
                }
            )
        )
    return pa.concat_tables(parts).sort_by(
        [
            ("measure", "ascending"),
            ("source", "ascending"),
            ("area_code", "ascending"),
            ("event_month", "ascending"),
        ]
    )


def compute_measures(
    events: pa.Table, rule: DisclosureRule, areas: dict[str, str] | None = None
) -> pa.Table:
    """Every measure by area and month, controlled; sorted by measure, area, month.

    With ``areas`` (LSOA -> local authority), measures are by local authority: counts of a few
    LSOAs would nearly all be suppressed. An LSOA it does not know is left out."""
    located = _located(events, areas)
    parts = []
    for measure, mask in _event_masks(located, definitions=False).items():
        chosen = located.filter(mask).select(["area_code", "event_month"])
        grouped = chosen.group_by(["area_code", "event_month"], use_threads=False).aggregate(
            [([], "count_all")]
        )
        parts.append(
            pa.table(
                {
                    "measure": pa.array([measure] * grouped.num_rows, pa.string()),
                    "area_code": grouped.column("area_code"),
                    "event_month": grouped.column("event_month"),
                    "value": pc.cast(grouped.column("count_all"), pa.int64()),
                }
            )
        )
    many = _known_to_many(events).column("person_key")
    linked = located.filter(pc.is_in(located.column("person_key"), value_set=many))
    people = linked.group_by(["area_code", "event_month"], use_threads=False).aggregate(
        [("person_key", "count_distinct")]
    )
    parts.append(
        pa.table(
            {
                "measure": pa.array(["known_to_two_or_more"] * people.num_rows, pa.string()),
                "area_code": people.column("area_code"),
                "event_month": people.column("event_month"),
                "value": pc.cast(people.column("person_key_count_distinct"), pa.int64()),
            }
        )
    )
    table = pa.concat_tables(parts).sort_by(
        [("measure", "ascending"), ("area_code", "ascending"), ("event_month", "ascending")]
    )
    return table.set_column(3, pa.field("value", pa.int64()), control(table.column("value"), rule))
