"""The emergency department and ambulance plans, and how they overlap with the police feed.

ED (Information Sharing to Tackle Violence): about 30% of attendances are police-recorded victims
arriving within hours of the offence, drawn mostly from knife, firearm and wounding offences, so
most knife-assault attendances are also police victims; the rest are assaults the police never
heard of, with a few re-presentations. Each attendance is at the ED serving the place of the
assault (three sites). Ambulance: about 40% of assault call-outs are patients then conveyed to one
of those EDs (same person, arriving 20-75 minutes after the call), about 10% attend police
victims the ED feed does not hold (homicide victims first), the rest are patients known to nobody
else; about four in five are conveyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hub.synth.areas import ED_SITES, LOCAL_AUTHORITIES, Geography
from hub.synth.offences import LOCATION_MIX, LOCATIONS, MANSLAUGHTER, MURDER, OFFENCES
from hub.synth.overlap import (
    REPEAT_AMBULANCE,
    REPEAT_ED,
    compact,
    repeat_counts,
    spread,
    weighted_sample,
)
from hub.synth.police import PolicePlan, event_days, event_minutes
from hub.synth.population import AMBULANCE_PATIENT, ED_PATIENT, END, PopulationBuilder

Array = npt.NDArray[Any]
METHODS: Final = (
    "Knife or sharp object",
    "Blunt object",
    "Body part (e.g. fist, feet)",
    "Firearm",
    "Glass or bottle",
    "Other",
    "Not known",
)
KNIFE, BLUNT, BODY, FIREARM = 0, 1, 2, 3
METHOD_MIX: Final = (0.12, 0.10, 0.50, 0.005, 0.06, 0.06, 0.155)
UNARMED_MIX: Final = (0.0, 0.14, 0.62, 0.0, 0.10, 0.06, 0.08)
ED_FROM_POLICE: Final = 0.30
ED_REPRESENT: Final = 0.05
AMBULANCE_FROM_ED: Final = 0.40
AMBULANCE_FROM_POLICE: Final = 0.10
NATURES: Final = (
    "Assault / sexual assault",
    "Stab / gunshot / penetrating trauma",
    "Haemorrhage / lacerations",
    "Unconscious / fainting (near)",
)
SITE_OF_LA: Final = np.array([ED_SITES.index(la[2]) for la in LOCAL_AUTHORITIES])
MINUTES_A_DAY: Final = 1440


@dataclass(frozen=True)
class HealthPlan:
    """Row columns in file order (times are minutes since 1970-01-01)."""

    rows: dict[str, Array]


def _police_weights(police: PolicePlan, per_kind: dict[str, float]) -> Array:
    inc = police.incidents
    incident = police.rows["incident"]
    names = [o.name for o in OFFENCES]
    by_kind = np.array([per_kind.get(name, 0.0) for name in names])
    weight = by_kind[inc["kind"][incident]]
    weapon = inc["knife"][incident] | inc["firearm"][incident]
    weight = np.where(weapon & (weight > 0), np.maximum(weight, per_kind["weapon"]), weight)
    weight[~police.rows["victim"] | (inc["day"][incident] >= END)] = 0.0
    return weight


def _site_of_lsoa(rng: np.random.Generator, geo: Geography, lsoa: Array) -> Array:
    site = SITE_OF_LA[geo.lsoa_la[lsoa]]
    other = rng.random(lsoa.size) < 0.12
    return np.where(other, rng.integers(0, len(ED_SITES), lsoa.size), site)


def plan_ed(
    rng: np.random.Generator,
    n_rows: int,
    builder: PopulationBuilder,
    geo: Geography,
    police: PolicePlan,
) -> HealthPlan:
    """ED attendances; adds ED-only patients to ``builder``."""
    weights = _police_weights(
        police,
        {"Wounding with intent to do GBH": 5.0, "Attempted murder": 5.0, "Murder": 3.0,
         "Manslaughter": 3.0, "Assault with injury": 1.2, "Robbery of personal property": 0.8,
         "Robbery of business property": 0.8, "Aggravated burglary": 1.0, "Rape": 0.3,
         "Arson endangering life": 0.5, "weapon": 8.0},
    )  # fmt: skip
    linked = weighted_sample(rng, weights, round(n_rows * ED_FROM_POLICE))
    inc = police.incidents
    incident = police.rows["incident"][linked]
    offence_at = inc["day"][incident].astype(np.int64) * MINUTES_A_DAY + inc["minute"][incident]
    arrival_linked = offence_at + rng.integers(20, 241, linked.size)
    unarmed = rng.choice(len(METHODS), linked.size, p=UNARMED_MIX)
    method_linked = np.where(
        inc["knife"][incident], KNIFE, np.where(inc["firearm"][incident], FIREARM, unarmed)
    )
    rest = n_rows - linked.size
    again = min(round(rest * ED_REPRESENT), linked.size)
    counts = repeat_counts(rng, rest - again, REPEAT_ED)
    new = builder.add(counts.size, female=0.28, ages=ED_PATIENT, out_of_area=0.20)
    person_rest = np.concatenate(
        [new[spread(rng, counts)], rng.choice(police.rows["person"][linked], again)]
    ).astype(np.int64)
    arrival_rest = event_days(rng, rest) * MINUTES_A_DAY + event_minutes(rng, rest)
    mix = np.array(LOCATION_MIX["assault"])
    lsoa_rest = rng.choice(geo.lsoa_code.size, rest, p=geo.offence_weight)
    rows = {
        "person": np.concatenate([police.rows["person"][linked], person_rest]),
        "arrival": np.concatenate([arrival_linked, arrival_rest]),
        "assault": np.concatenate([offence_at, arrival_rest - rng.integers(10, 361, rest)]),
        "method": np.concatenate([method_linked, rng.choice(len(METHODS), rest, p=METHOD_MIX)]),
        "location": np.concatenate(
            [inc["location"][incident], rng.choice(len(LOCATIONS), rest, p=mix / mix.sum())]
        ),
        "site": _site_of_lsoa(rng, geo, np.concatenate([inc["lsoa"][incident], lsoa_rest])),
        "police_row": np.concatenate([linked, np.full(rest, -1)]),
        "lsoa": np.concatenate([inc["lsoa"][incident], lsoa_rest]),
    }
    order = np.lexsort((rng.random(n_rows), rows["arrival"]))
    rows = {k: v[order] for k, v in rows.items()}
    serial = np.zeros(n_rows, dtype=np.int64)
    for site in range(len(ED_SITES)):
        at = np.flatnonzero(rows["site"] == site)
        serial[at] = int(rng.integers(1_000, 90_000)) + np.cumsum(rng.integers(1, 4, at.size))
    rows["serial"] = serial
    return HealthPlan(rows=compact(rows))


def plan_ambulance(
    rng: np.random.Generator,
    n_rows: int,
    builder: PopulationBuilder,
    geo: Geography,
    police: PolicePlan,
    ed: HealthPlan,
) -> HealthPlan:
    """Ambulance assault call-outs; adds ambulance-only patients to ``builder``."""
    e = ed.rows
    ed_weight = np.where(np.isin(e["method"], (KNIFE, FIREARM)), 3.0, 1.0)
    from_ed = weighted_sample(rng, ed_weight, round(n_rows * AMBULANCE_FROM_ED))
    weights = _police_weights(
        police,
        {"Murder": 200.0, "Manslaughter": 200.0, "Wounding with intent to do GBH": 3.0,
         "Attempted murder": 3.0, "Assault with injury": 0.5, "weapon": 5.0},
    )  # fmt: skip
    weights[e["police_row"][e["police_row"] >= 0]] = 0.0
    from_police = weighted_sample(rng, weights, round(n_rows * AMBULANCE_FROM_POLICE))
    inc = police.incidents
    incident = police.rows["incident"][from_police]
    homicide = np.isin(inc["kind"][incident], (MURDER, MANSLAUGHTER))
    rest = n_rows - from_ed.size - from_police.size
    counts = repeat_counts(rng, rest, REPEAT_AMBULANCE)
    new = builder.add(counts.size, female=0.3, ages=AMBULANCE_PATIENT, out_of_area=0.10)
    lsoa_rest = rng.choice(geo.lsoa_code.size, rest, p=geo.offence_weight)
    conveyed_rest = rng.random(rest) < 0.6
    conveyed_police = rng.random(from_police.size) < np.where(homicide, 0.5, 0.7)
    lsoa_police = inc["lsoa"][incident]
    rows = {
        "person": np.concatenate(
            [e["person"][from_ed], police.rows["person"][from_police], new[spread(rng, counts)]]
        ),
        "call": np.concatenate(
            [
                np.maximum(e["arrival"][from_ed] - rng.integers(20, 76, from_ed.size),
                           e["assault"][from_ed] + 2),
                inc["day"][incident].astype(np.int64) * MINUTES_A_DAY + inc["minute"][incident]
                + rng.integers(2, 16, from_police.size),
                event_days(rng, rest) * MINUTES_A_DAY + event_minutes(rng, rest),
            ]
        ),
        "weapon": np.concatenate(
            [
                np.isin(e["method"][from_ed], (KNIFE, FIREARM)),
                inc["knife"][incident] | inc["firearm"][incident],
                rng.random(rest) < 0.1,
            ]
        ),
        "lsoa": np.concatenate([e["lsoa"][from_ed], lsoa_police, lsoa_rest]),
        "conveyed": np.concatenate([np.ones(from_ed.size, bool), conveyed_police, conveyed_rest]),
        "site": np.concatenate(
            [
                e["site"][from_ed],
                _site_of_lsoa(rng, geo, lsoa_police),
                _site_of_lsoa(rng, geo, lsoa_rest),
            ]
        ),
    }  # fmt: skip
    order = np.lexsort((rng.random(n_rows), rows["call"]))
    rows = {k: v[order] for k, v in rows.items()}
    day = rows["call"] // MINUTES_A_DAY
    rank = np.arange(n_rows) - np.searchsorted(day, day, side="left")
    rows["serial"] = 1 + rank * 7 + rng.integers(0, 7, n_rows)
    return HealthPlan(rows=compact(rows))
