"""The police feed's plan: incidents, the people involved in them, and who they are.

One row per person involved (victim or suspect) in a serious-violence-relevant crime, as a records
management system exports it: about 1.6 person rows per incident (one victim, sometimes two or
three; an identified suspect in under half of incidents; possession offences have a suspect and no
victim). Offence dates cluster on Friday and Saturday nights and in summer; recording follows
within a day for most crimes, weeks or months for rape and stalking. Offences concentrate in a
few hotspots. The victims are people who appear once or several times (``REPEAT_VICTIM``); about
12% of suspects are also victims in the year; homicide victims appear once.

Flags are per incident: ``youth_flag`` when a victim or suspect is under 18 on the offence date;
``night_time_economy_flag`` for non-domestic offences between 20:00 and 05:00 in a hotspot or at
licensed premises; alcohol is flagged more often there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hub.synth.areas import Geography
from hub.synth.identifiers import unique_integers
from hub.synth.offences import (
    HOME,
    LICENSED,
    LOCATION_MIX,
    MANSLAUGHTER,
    MURDER,
    OFFENCES,
    STREET,
    mo_choices,
)
from hub.synth.overlap import (
    REPEAT_SUSPECT,
    REPEAT_VICTIM,
    compact,
    distinct,
    repeat_counts,
    spread,
)
from hub.synth.population import (
    END,
    FEMALE,
    START,
    SUSPECT_FEMALE,
    SUSPECT_MALE,
    VICTIM_FEMALE,
    VICTIM_MALE,
    YEAR,
    PopulationBuilder,
)
from hub.synth.volumes import DEFAULT_HOMICIDES, FEEDS, POLICE

Array = npt.NDArray[Any]
HOUR_WEIGHTS: Final = np.array(
    [6, 5, 4, 3, 2, 1.5, 1.5, 2, 3, 3.5, 4, 4.5, 5, 5, 5, 5.5, 6, 6.5, 7, 7, 7, 7.5, 7.5, 7]
)
NIGHT_HOURS: Final = (20, 21, 22, 23, 0, 1, 2, 3, 4)
VICTIM_OUT_OF_AREA: Final = 0.25
SUSPECT_OUT_OF_AREA: Final = 0.15
SUSPECTS_ALSO_VICTIMS: Final = 0.12
YOUTH_AGE: Final = 18


@dataclass(frozen=True)
class PolicePlan:
    """Incident columns (index = incident, in crime reference order) and person rows."""

    incidents: dict[str, Array]
    rows: dict[str, Array]  # incident, person, victim: in file order
    urn: Array  # by person index (police people only), and a second one for duplicates
    alt_urn: Array


def _attr(name: str) -> Array:
    return np.array([getattr(o, name) for o in OFFENCES])


def event_days(rng: np.random.Generator, n: int) -> Array:
    """Days in the period, busier on Friday to Sunday and in summer and December."""
    days = np.arange(START, END + 1)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    month = (days.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12) + 1
    weight = np.where(weekday >= 4, 1.3, 1.0) * np.where(np.isin(month, (6, 7, 8, 12)), 1.12, 1.0)
    return rng.choice(days, n, p=weight / weight.sum())


def event_minutes(rng: np.random.Generator, n: int) -> Array:
    """Minute of the day, with violence peaking in the evening and night."""
    hours = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return hours * 60 + rng.integers(0, 60, n)


def _incident_sizes(rng: np.random.Generator, n_rows: int) -> tuple[Array, Array, Array]:
    weights = _attr("weight")
    has_victim = _attr("has_victim")
    n_est = n_rows // 1.3 + 100
    while True:
        kind = rng.choice(len(OFFENCES), int(n_est), p=weights / weights.sum())
        u = rng.random(kind.size)
        victims = np.where(has_victim[kind], 1 + (u > 0.95) + (u > 0.99), 0)
        suspects = np.where(
            has_victim[kind],
            rng.choice(4, kind.size, p=[0.55, 0.36, 0.07, 0.02]),
            1 + (rng.random(kind.size) > 0.9),
        )
        cum = np.cumsum(victims + suspects)
        if cum[-1] >= n_rows:
            break
        n_est = n_rows
    keep = int(np.searchsorted(cum, n_rows)) + 1
    kind, victims, suspects = kind[:keep], victims[:keep], suspects[:keep]
    over = int(cum[keep - 1]) - n_rows
    cut = min(int(suspects[-1]), over)
    suspects[-1] -= cut
    victims[-1] -= over - cut
    n_homicide = min(
        round(DEFAULT_HOMICIDES * n_rows / FEEDS[POLICE][0]), int((victims == 1).sum())
    )
    homicide = rng.choice(np.flatnonzero(victims == 1), n_homicide, replace=False)
    kind[homicide] = np.where(rng.random(n_homicide) < 0.87, MURDER, MANSLAUGHTER)
    return kind, victims, suspects


def _incidents(rng: np.random.Generator, kind: Array, geo: Geography) -> dict[str, Array]:
    n = kind.size
    groups = sorted(LOCATION_MIX)
    group = np.array([groups.index(o.group) for o in OFFENCES], dtype=np.int8)[kind]
    day = event_days(rng, n)
    minute = event_minutes(rng, n)
    lag = np.where(rng.random(n) < 0.65, 0, 1 + rng.exponential(4.0, n).astype(np.int64))
    slow = np.isin(group, (groups.index("sexual"), groups.index("stalking")))
    slow &= rng.random(n) < 0.6
    lag = np.where(slow, rng.exponential(45.0, n).astype(np.int64), lag)
    lsoa = rng.choice(geo.lsoa_code.size, n, p=geo.offence_weight)
    knife = rng.random(n) < _attr("knife")[kind]
    firearm = ~knife & (rng.random(n) < _attr("firearm")[kind])
    domestic = rng.random(n) < _attr("domestic")[kind]
    night = np.isin(minute // 60, NIGHT_HOURS)
    hotspot = geo.night_time_economy[lsoa]
    boost = np.where(night & hotspot, 2.5, 1.0)
    alcohol = rng.random(n) < np.minimum(1.0, _attr("alcohol")[kind] * boost)
    location = np.empty(n, dtype=np.int8)
    for g, name in enumerate(groups):
        at = np.flatnonzero(group == g)
        mix = np.array(LOCATION_MIX[name])
        location[at] = rng.choice(mix.size, at.size, p=mix / mix.sum())
    location[domestic & (rng.random(n) < 0.85)] = HOME
    going_out = ~domestic & night & hotspot & (group == groups.index("assault"))
    location[going_out] = np.where(rng.random(int(going_out.sum())) < 0.45, LICENSED, STREET)
    weapon = knife.astype(np.int8) + 2 * firearm.astype(np.int8)
    mo_groups = [*groups, "domestic"]
    as_domestic = domestic & np.isin(group, (groups.index("assault"), groups.index("threat")))
    mo_group = np.where(as_domestic, len(groups), group).astype(np.int8)
    combined = mo_group.astype(np.int16) * 3 + weapon
    mo = np.empty(n, dtype=np.int16)
    for code in distinct(combined).tolist():
        at = np.flatnonzero(combined == code)
        choices = mo_choices(mo_groups[code // 3], ("", "knife", "firearm")[code % 3])
        mo[at] = rng.choice(choices, at.size)
    return {
        "kind": kind,
        "day": day,
        "minute": minute,
        "recorded": np.minimum(day + lag, END),
        "lsoa": lsoa,
        "knife": knife,
        "firearm": firearm,
        "domestic": domestic,
        "alcohol": alcohol,
        "nte": ~domestic & night & (hotspot | (location == LICENSED)),
        "location": location,
        "mo": mo,
    }


def _crime_references(rng: np.random.Generator, recorded: Array) -> tuple[Array, Array]:
    year = recorded.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    seq = np.zeros(recorded.size, dtype=np.int64)
    for y in distinct(year).tolist():
        at = np.flatnonzero(year == y)
        top = int(np.clip(9_000_000 // max(at.size, 1), 1, 6))
        start = int(rng.integers(1_000, 40_000)) if y == 2025 else 0
        seq[at] = start + np.cumsum(rng.integers(1, top + 1, at.size))
    return year % 100, seq


def _people(
    rng: np.random.Generator,
    builder: PopulationBuilder,
    female: Array,
    victim_pool: tuple[Array, Array] | None,
) -> tuple[Array, tuple[Array, Array]]:
    """Person per row, separately for female and male rows; returns the people of each sex."""
    person = np.empty(female.size, dtype=np.int64)
    made: list[Array] = []
    for sex in (0, 1):
        rows = np.flatnonzero(female == sex)
        if victim_pool is None:
            counts = repeat_counts(rng, rows.size, REPEAT_VICTIM)
            people = builder.add(
                counts.size,
                female=float(sex),
                ages=VICTIM_FEMALE if sex == FEMALE else VICTIM_MALE,
                out_of_area=VICTIM_OUT_OF_AREA,
            )
        else:
            counts = repeat_counts(rng, rows.size, REPEAT_SUSPECT)
            shared = min(int(counts.size * SUSPECTS_ALSO_VICTIMS), victim_pool[sex].size)
            reused = rng.choice(victim_pool[sex], shared, replace=False)
            new = builder.add(
                counts.size - shared,
                female=float(sex),
                ages=SUSPECT_FEMALE if sex == FEMALE else SUSPECT_MALE,
                out_of_area=SUSPECT_OUT_OF_AREA,
            )
            people = rng.permutation(np.concatenate([reused, new]))
        person[rows] = people[spread(rng, counts)]
        made.append(people)
    return person, (made[0], made[1])


def plan_police(
    rng: np.random.Generator, n_rows: int, builder: PopulationBuilder, geo: Geography
) -> PolicePlan:
    """Incidents and person rows for ``n_rows`` rows; adds the police people to ``builder``."""
    kind, victims, suspects = _incident_sizes(rng, n_rows)
    incidents = _incidents(rng, kind, geo)
    order = np.lexsort(
        (rng.random(kind.size), incidents["minute"], incidents["day"], incidents["recorded"])
    )
    incidents = compact({k: v[order] for k, v in incidents.items()})
    victims, suspects = victims[order], suspects[order]
    incidents["ref_year"], incidents["ref_seq"] = _crime_references(rng, incidents["recorded"])
    # Rows: each incident's victims, then its suspects (int32 and float32 keep 10M rows small).
    incident = np.repeat(np.arange(kind.size, dtype=np.int32), victims + suspects)
    runs = np.column_stack([victims, suspects]).ravel()
    is_victim = np.repeat(np.tile(np.array([True, False]), kind.size), runs)
    domestic, kinds = incidents["domestic"], incidents["kind"]
    p_victim = np.where(domestic, 0.75, _attr("female_victim")[kinds]).astype(np.float32)
    p_suspect = np.where(domestic, 0.2, _attr("female_suspect")[kinds]).astype(np.float32)
    p_female = np.where(is_victim, p_victim[incident], p_suspect[incident])
    female = (rng.random(incident.size, dtype=np.float32) < p_female).astype(np.int8)
    del p_female
    person = np.empty(incident.size, dtype=np.int32)
    v_rows = np.flatnonzero(is_victim)
    person[v_rows], victim_people = _people(rng, builder, female[v_rows], None)
    s_rows = np.flatnonzero(~is_victim)
    person[s_rows], _ = _people(rng, builder, female[s_rows], victim_people)
    del female
    homicide = np.isin(incidents["kind"], (MURDER, MANSLAUGHTER))
    _homicide_victims_once(rng, person, v_rows, homicide[incident[v_rows]])
    builder.give_pnc(distinct(person[s_rows]), 0.95)
    builder.give_pnc(distinct(person[v_rows]), 0.15)
    del v_rows, s_rows
    young = (incidents["day"][incident] - builder.column("dob")[person]) < YOUTH_AGE * YEAR
    incidents["youth"] = np.bincount(incident[young], minlength=kind.size) > 0
    urns = unique_integers(rng, 10_000_000, 100_000_000, 2 * builder.size)
    return PolicePlan(
        incidents=incidents,
        rows=compact({"incident": incident, "person": person, "victim": is_victim}),
        urn=urns[: builder.size],
        alt_urn=urns[builder.size :],
    )


def _homicide_victims_once(
    rng: np.random.Generator, person: Array, v_rows: Array, homicide: Array
) -> None:
    """Swap people so that every homicide victim appears on exactly one police row."""
    people = person[v_rows]
    once = np.bincount(person)[people] == 1
    need = np.flatnonzero(homicide & ~once)
    spare = np.flatnonzero(~homicide & once)
    give = rng.choice(spare, min(need.size, spare.size), replace=False)
    need = need[: give.size]
    people[need], people[give] = people[give], people[need].copy()
    person[v_rows] = people
