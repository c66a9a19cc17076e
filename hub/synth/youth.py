"""The youth justice and schools plans: the young people several agencies know.

Youth justice: about three quarters of outcomes follow a police-recorded offence by a suspect aged
10-17 (20-150 days later); the rest are young people the serious-violence extract does not hold.
Ages are 10-17 at the outcome; a first outcome makes a first-time entrant about half the time.

Schools: suspensions (75%), permanent exclusions (1.5%) and persistent absence at the census
dates (23.5%) of pupils aged 5-16. Over half of the youth justice cohort has school events, and
some young police victims and suspects too; the rest are pupils known to nobody else, many with
repeat suspensions. Suspensions and exclusions fall on term-time weekdays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from hub.synth.areas import LOCAL_AUTHORITIES, Geography
from hub.synth.identifiers import unique_integers
from hub.synth.offences import MANSLAUGHTER, MURDER, OFFENCES, YOUTH_OFFENCES, YOUTH_WEIGHTS
from hub.synth.overlap import REPEAT_PUPIL, compact, distinct, repeat_counts, spread
from hub.synth.police import PolicePlan
from hub.synth.population import END, START, YEAR, PopulationBuilder
from hub.synth.volumes import day_number

Array = npt.NDArray[Any]
OUTCOMES: Final = (
    "Youth Caution",
    "Youth Conditional Caution",
    "Referral Order",
    "Youth Rehabilitation Order",
    "Detention and Training Order",
)
OUTCOME_MIX: Final = (0.22, 0.20, 0.38, 0.15, 0.05)
YJ_FROM_POLICE: Final = 0.75
EVENTS: Final = ("Suspension", "Permanent exclusion", "Persistent absence")
EVENT_MIX: Final = (0.75, 0.015, 0.235)
SUSPENSION, EXCLUSION, ABSENCE = range(3)
REASONS: Final = ("PP", "PA", "VA", "VP", "BU", "DA", "OW", "PD", "DM", "TH", "RA", "SM")
REASON_MIX_KNOWN: Final = (0.2, 0.12, 0.12, 0.06, 0.03, 0.06, 0.08, 0.25, 0.04, 0.02, 0.01, 0.01)
REASON_MIX_OTHER: Final = (0.12, 0.08, 0.15, 0.08, 0.04, 0.03, 0.02, 0.40, 0.04, 0.02, 0.01, 0.01)
HOLIDAYS: Final = (
    ("2025-04-07", "2025-04-21"),
    ("2025-05-05", "2025-05-05"),
    ("2025-05-26", "2025-05-30"),
    ("2025-07-23", "2025-09-02"),
    ("2025-10-27", "2025-10-31"),
    ("2025-12-22", "2026-01-02"),
    ("2026-02-16", "2026-02-20"),
)
# School census days in the period (third Thursday of May, first of October, third of January).
CENSUS_DAYS: Final = tuple(
    day_number(dt.date.fromisoformat(d)) for d in ("2025-05-15", "2025-10-02", "2026-01-15")
)
NEW_YEAR: Final = day_number(dt.date(2025, 9, 1))


@dataclass(frozen=True)
class YouthPlan:
    """Row columns in file order (dates are day numbers)."""

    rows: dict[str, Array]


def _school_days() -> Array:
    days = np.arange(START, END + 1)
    weekday = (days + 3) % 7
    keep = weekday < 5
    for first, last in HOLIDAYS:
        a, b = (day_number(dt.date.fromisoformat(d)) for d in (first, last))
        keep &= (days < a) | (days > b)
    return days[keep]


def plan_youth_justice(
    rng: np.random.Generator, n_rows: int, builder: PopulationBuilder, police: PolicePlan
) -> YouthPlan:
    """Youth justice outcomes; adds young people known only to youth justice to ``builder``."""
    inc, rows = police.incidents, police.rows
    dob = builder.column("dob")
    incident = rows["incident"]
    day = inc["day"][incident]
    outcome = np.minimum(day + rng.integers(20, 151, incident.size), END)
    age_off = (day - dob[rows["person"]]) / YEAR
    age_out = (outcome - dob[rows["person"]]) / YEAR
    homicide = np.isin(inc["kind"][incident], (MURDER, MANSLAUGHTER))
    margin = 3 / YEAR  # keep clear of birthdays: ages are 10-17 on both dates
    ok = ~rows["victim"] & (age_off >= 10 + margin) & (age_out < 18 - margin) & ~homicide
    candidates = np.flatnonzero(ok)
    linked = np.sort(
        rng.choice(candidates, min(round(n_rows * YJ_FROM_POLICE), candidates.size), replace=False)
    )
    n_new = n_rows - linked.size
    out_day = rng.integers(START, END + 1, n_new)
    age_at_outcome = rng.choice(
        np.arange(10, 18), n_new, p=[0.02, 0.03, 0.06, 0.1, 0.15, 0.2, 0.22, 0.22]
    )
    fraction = rng.uniform(0.02, 0.98, n_new)
    ages_at_start = age_at_outcome + fraction - (out_day - START) / YEAR
    new = builder.add(n_new, female=0.15, ages=ages_at_start, out_of_area=0.03)
    builder.give_pnc(new)
    new_kind = np.array(YOUTH_OFFENCES)[rng.choice(len(YOUTH_OFFENCES), n_new, p=YOUTH_WEIGHTS)]
    knife_p = np.array([o.knife for o in OFFENCES])
    plan = {
        "person": np.concatenate([rows["person"][linked], new]),
        "kind": np.concatenate([inc["kind"][incident[linked]], new_kind]),
        "outcome_day": np.concatenate([outcome[linked], out_day]),
        "knife": np.concatenate(
            [inc["knife"][incident[linked]], rng.random(n_new) < knife_p[new_kind]]
        ),
        "outcome": rng.choice(len(OUTCOMES), n_rows, p=OUTCOME_MIX),
    }
    order = np.lexsort((rng.random(n_rows), plan["outcome_day"]))
    plan = {k: v[order] for k, v in plan.items()}
    people, first = np.unique(plan["person"], return_index=True)
    fte = np.zeros(n_rows, dtype=bool)
    fte[first] = rng.random(first.size) < 0.55
    plan["fte"] = fte
    case = unique_integers(rng, 100_000, 1_000_000, people.size)
    plan["case"] = case[np.searchsorted(people, plan["person"])]
    return YouthPlan(rows=compact(plan))


def _windows(dob: Array) -> tuple[Array, Array]:
    """First and last day in the period on which each person is aged 5-16."""
    return np.maximum(START, dob + int(5 * YEAR) + 1), np.minimum(END, dob + int(17 * YEAR) - 1)


def plan_schools(
    rng: np.random.Generator,
    n_rows: int,
    builder: PopulationBuilder,
    geo: Geography,
    police: PolicePlan,
    youth: YouthPlan,
) -> YouthPlan:
    """School events; adds pupils known only to schools to ``builder``."""
    dob = builder.column("dob")
    lo, hi = _windows(dob)
    fits = hi - lo >= 60
    homicide = np.isin(police.incidents["kind"][police.rows["incident"]], (MURDER, MANSLAUGHTER))
    dead = distinct(police.rows["person"][police.rows["victim"] & homicide])
    yj = distinct(youth.rows["person"])
    yj = yj[~np.isin(yj, dead)]
    yj = yj[fits[yj]]
    yj = yj[rng.random(yj.size) < 0.55]
    known = distinct(police.rows["person"])
    known = known[~np.isin(known, np.concatenate([dead, yj]))]
    known = known[fits[known]]
    known = known[rng.random(known.size) < 0.12]
    counts_known = np.concatenate(
        [
            1 + np.minimum(rng.poisson(1.5, yj.size), 7),
            1 + np.minimum(rng.poisson(0.6, known.size), 5),
        ]
    )
    sources = np.concatenate([yj, known])
    cum = np.cumsum(counts_known)
    keep = int(np.searchsorted(cum, int(n_rows * 0.6), side="right"))
    sources, counts_known = sources[:keep], counts_known[:keep]
    rest = n_rows - int(counts_known.sum())
    counts = repeat_counts(rng, rest, REPEAT_PUPIL)
    age_weights = np.array([4, 4, 5, 5, 6, 6, 10, 14, 16, 16, 14], dtype=float)
    ages = (
        5 + rng.choice(11, counts.size, p=age_weights / age_weights.sum()) + rng.random(counts.size)
    )
    new = builder.add(counts.size, female=0.35, ages=ages, out_of_area=0.03)
    person = np.concatenate([np.repeat(sources, counts_known), new[spread(rng, counts)]])
    known_row = np.arange(n_rows) < int(counts_known.sum())
    dob = builder.column("dob")
    lo, hi = _windows(dob[person])
    plan = {"person": person}
    plan.update(_events(rng, lo, hi, known_row, dob[person]))
    plan.update(_schools_of(rng, builder, geo, person, plan["day"], dob[person]))
    order = np.lexsort((rng.random(n_rows), plan["day"]))
    return YouthPlan(rows=compact({k: v[order] for k, v in plan.items()}))


def _events(
    rng: np.random.Generator, lo: Array, hi: Array, known: Array, dob: Array
) -> dict[str, Array]:
    n = lo.size
    days = _school_days()
    a = np.searchsorted(days, lo)
    b = np.maximum(np.searchsorted(days, hi, side="right"), a + 1)
    day = days[np.minimum(a + (rng.random(n) * (b - a)).astype(np.int64), days.size - 1)]
    event = rng.choice(len(EVENTS), n, p=EVENT_MIX)
    census = np.array(CENSUS_DAYS)
    pick = census[rng.integers(0, census.size, n)]
    in_window = (pick >= lo) & (pick <= hi)
    event = np.where((event == ABSENCE) & ~in_window, SUSPENSION, event)
    day = np.where(event == ABSENCE, pick, day)
    sessions = np.select(
        [event == SUSPENSION, event == ABSENCE],
        [
            rng.choice(
                np.array([1, 2, 3, 4, 5, 10, 15]), n, p=[0.4, 0.25, 0.15, 0.07, 0.08, 0.03, 0.02]
            ),
            12 + np.minimum(rng.gamma(2.0, 8.0, n).astype(np.int64), 60),
        ],
        0,
    )
    reason = np.where(
        known,
        rng.choice(len(REASONS), n, p=REASON_MIX_KNOWN),
        rng.choice(len(REASONS), n, p=REASON_MIX_OTHER),
    )
    reason = np.where(event == ABSENCE, -1, reason)
    return {"day": day, "event": event, "sessions": sessions, "reason": reason}


def _schools_of(
    rng: np.random.Generator,
    builder: PopulationBuilder,
    geo: Geography,
    person: Array,
    day: Array,
    dob: Array,
) -> dict[str, Array]:
    """Each pupil's primary and secondary school (URN), by the authority they live in."""
    n_la = len(LOCAL_AUTHORITIES)
    urns = unique_integers(rng, 100_000, 150_000, n_la * 75).reshape(n_la, 75)
    people, inverse = np.unique(person, return_inverse=True)
    out = builder.column("out").astype(bool)[people]
    home_la = geo.lsoa_la[geo.postcode_lsoa[builder.column("home0")[people]]]
    la = np.where(out, rng.integers(0, n_la, people.size), home_la)[inverse]
    primary = rng.integers(0, 60, people.size)[inverse]
    secondary = rng.integers(60, 75, people.size)[inverse]
    secondary_age = (day - dob) / YEAR >= 11
    urn = urns[la, np.where(secondary_age, secondary, primary)]
    return {"urn": urn, "academic_year": np.where(day >= NEW_YEAR, 2025, 2024)}
