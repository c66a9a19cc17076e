"""One chunk of each feed as a pyarrow table, columns in the agreed order.

``COLUMNS`` is the contract with the agreements: the lead writes each agreement's data items to
match these names and this order exactly. Every renderer takes the rows ``[start, stop)`` of its
plan (already in file order) and a random generator for that chunk's noise.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hub.synth import render
from hub.synth.areas import ED_SITES
from hub.synth.health import METHODS, NATURES, HealthPlan
from hub.synth.offences import LOCATIONS, MO_PHRASES, OFFENCES
from hub.synth.police import PolicePlan
from hub.synth.render import Context, format_days, format_minutes, pick, strings
from hub.synth.texts import LOCATION_OFFSETS, LOCATION_PHRASES, OTHER_METHODS
from hub.synth.volumes import AMBULANCE, ED, POLICE, SCHOOLS, YOUTH_JUSTICE
from hub.synth.youth import EVENTS, OUTCOMES, REASONS, YouthPlan

Array = npt.NDArray[Any]
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    POLICE: (
        "crime_reference", "person_urn", "pnc_id", "involvement", "forename", "surname",
        "date_of_birth", "sex", "home_postcode", "offence_date", "offence_time", "recorded_date",
        "offence_type", "ho_offence_code", "knife_flag", "firearm_flag", "domestic_abuse_flag",
        "alcohol_flag", "youth_flag", "night_time_economy_flag", "lsoa_code", "mo_text",
    ),
    ED: (
        "site_code", "period_start", "period_end", "attendance_id", "nhs_number", "forename",
        "surname", "date_of_birth", "sex", "postcode", "arrival_datetime", "assault_datetime",
        "assault_method", "other_method_description", "assault_location_type",
        "assault_location_description",
    ),
    AMBULANCE: (
        "incident_number", "call_datetime", "nature_of_call", "patient_forename",
        "patient_surname", "patient_age", "date_of_birth", "sex", "nhs_number", "incident_lsoa",
        "conveyed", "destination_site_code",
    ),
    YOUTH_JUSTICE: (
        "yjs_case_id", "forename", "surname", "date_of_birth", "sex", "upn", "postcode",
        "offence_type", "ho_offence_code", "outcome", "outcome_date", "first_time_entrant",
        "knife_flag",
    ),
    SCHOOLS: (
        "upn", "forename", "surname", "date_of_birth", "sex", "postcode", "school_urn",
        "academic_year", "event_type", "event_date", "sessions", "reason_code",
    ),
}  # fmt: skip
OFFENCE_NAMES: Final = tuple(o.name for o in OFFENCES)
OFFENCE_CODES: Final = tuple(o.code for o in OFFENCES)
YES_NO: Final = ("N", "Y")
MINUTES_A_DAY: Final = 1440


def _padded(values: Array, width: int) -> pa.Array:
    return pc.utf8_lpad(
        pa.array(values.astype(np.int64)).cast(pa.string()), width=width, padding="0"
    )


def _join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _flag(values: Array) -> pa.Array:
    return pick(YES_NO, values.astype(np.int64))


def _table(feed: str, columns: dict[str, Any]) -> pa.Table:
    return pa.table({name: columns[name] for name in COLUMNS[feed]})


def police(plan: PolicePlan, sl: slice, ctx: Context, rng: np.random.Generator) -> pa.Table:
    """Police records management system: one row per victim or suspect of a crime."""
    person, victim = plan.rows["person"][sl], plan.rows["victim"][sl]
    inc = {k: v[plan.rows["incident"][sl]] for k, v in plan.incidents.items()}
    r, n = ctx.rates, person.size
    urn = np.where(rng.random(n) < r.duplicate_urn, plan.alt_urn[person], plan.urn[person])
    fore, sur = render.names(ctx, person, rng)
    pnc_missing = np.where(victim, r.police_pnc_missing_victim, r.police_pnc_missing_suspect)
    return _table(POLICE, {
        "crime_reference": _join("MV/", _padded(inc["ref_year"], 2), "/", _padded(inc["ref_seq"], 7)),
        "person_urn": _join("MV", _padded(urn, 8)),
        "pnc_id": render.pnc_ids(ctx, person, rng, pnc_missing),
        "involvement": pick(("Suspect", "Victim"), victim.astype(np.int64)),
        "forename": strings(fore),
        "surname": strings(sur),
        "date_of_birth": render.dates_of_birth(ctx, person, rng, "%d/%m/%Y", r.police_dob_missing),
        "sex": render.sexes(ctx, person, rng, ("M", "F"), ("U",)),
        "home_postcode": render.postcodes(ctx, person, inc["day"], rng, r.police_postcode_missing),
        "offence_date": strings(format_days(inc["day"], "%Y-%m-%d")),
        "offence_time": _join(_padded(inc["minute"] // 60, 2), ":", _padded(inc["minute"] % 60, 2)),
        "recorded_date": strings(format_days(inc["recorded"], "%Y-%m-%d")),
        "offence_type": pick(OFFENCE_NAMES, inc["kind"]),
        "ho_offence_code": pick(OFFENCE_CODES, inc["kind"]),
        "knife_flag": _flag(inc["knife"]),
        "firearm_flag": _flag(inc["firearm"]),
        "domestic_abuse_flag": _flag(inc["domestic"]),
        "alcohol_flag": _flag(inc["alcohol"]),
        "youth_flag": _flag(inc["youth"]),
        "night_time_economy_flag": _flag(inc["nte"]),
        "lsoa_code": pick(tuple(ctx.geo.lsoa_code.tolist()), inc["lsoa"]),
        "mo_text": pick(MO_PHRASES, inc["mo"]),
    })  # fmt: skip


def ed(plan: HealthPlan, sl: slice, ctx: Context, rng: np.random.Generator) -> pa.Table:
    """ED assault attendances: ISTV fields plus the patient's identifiers."""
    rows = {k: v[sl] for k, v in plan.rows.items()}
    person, r, n = rows["person"], ctx.rates, rows["person"].size
    day = rows["arrival"] // MINUTES_A_DAY
    month = day.astype("datetime64[D]").astype("datetime64[M]")
    fore, sur = render.names(ctx, person, rng)
    other = np.where(
        (rows["method"] == METHODS.index("Other")) & (rng.random(n) < 0.7),
        rng.integers(0, len(OTHER_METHODS), n),
        -1,
    )
    offsets = np.array((*LOCATION_OFFSETS, len(LOCATION_PHRASES)))
    loc = rows["location"]
    phrase = offsets[loc] + (rng.random(n) * (offsets[loc + 1] - offsets[loc])).astype(np.int64)
    site = pick(ED_SITES, rows["site"])
    return _table(ED, {
        "site_code": site,
        "period_start": strings(format_days(month.astype("datetime64[D]").astype(np.int64), "%Y-%m-%d")),
        "period_end": strings(
            format_days((month + 1).astype("datetime64[D]").astype(np.int64) - 1, "%Y-%m-%d")
        ),
        "attendance_id": _join(site, "-", _padded(rows["serial"], 7)),
        "nhs_number": render.nhs_numbers(ctx, person, rng, r.ed_nhs_missing),
        "forename": strings(fore),
        "surname": strings(sur),
        "date_of_birth": render.dates_of_birth(ctx, person, rng, "%Y-%m-%d", r.ed_dob_missing),
        "sex": render.sexes(ctx, person, rng, ("1", "2"), ("0", "9")),
        "postcode": render.postcodes(ctx, person, day, rng, r.ed_postcode_missing),
        "arrival_datetime": format_minutes(rows["arrival"], "%Y-%m-%d %H:%M"),
        "assault_datetime": pc.if_else(
            pa.array(rng.random(n) < r.ed_assault_time_missing),
            pa.scalar(None, pa.string()),
            format_minutes(rows["assault"], "%Y-%m-%d %H:%M"),
        ),
        "assault_method": pick(METHODS, rows["method"]),
        "other_method_description": pick(OTHER_METHODS, other),
        "assault_location_type": pick(LOCATIONS, loc),
        "assault_location_description": pick(
            LOCATION_PHRASES, np.where(rng.random(n) < 0.25, -1, phrase)
        ),
    })  # fmt: skip


def ambulance(plan: HealthPlan, sl: slice, ctx: Context, rng: np.random.Generator) -> pa.Table:
    """Ambulance computer-aided dispatch: assault call-outs and the patient as recorded."""
    rows = {k: v[sl] for k, v in plan.rows.items()}
    person, r, n = rows["person"], ctx.rates, rows["person"].size
    day = rows["call"] // MINUTES_A_DAY
    fore, sur = render.names(ctx, person, rng)
    unnamed = rng.random(n) < r.ambulance_name_missing
    fore[unnamed] = None
    sur[unnamed] = np.where(rng.random(int(unnamed.sum())) < 0.3, "Unknown", None)  # type: ignore[call-overload]
    age = render.ages_at(ctx, person, day)
    off = np.where(rng.random(n) < r.age_estimate, rng.choice([-2, -1, 1, 2], n), 0)
    nature = np.where(
        rows["weapon"] & (rng.random(n) < 0.9),
        1,
        rng.choice([0, 2, 3], n, p=[0.85, 0.1, 0.05]),
    )
    seconds = rows["call"].astype(np.int64) * 60 + rng.integers(0, 60, n)
    stamps = pa.array(seconds, type=pa.timestamp("s"))
    return _table(AMBULANCE, {
        "incident_number": _join(pc.strftime(stamps, format="%y%m%d"), "-", _padded(rows["serial"], 5)),
        "call_datetime": pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S"),
        "nature_of_call": pick(NATURES, nature),
        "patient_forename": strings(fore),
        "patient_surname": strings(sur),
        "patient_age": pa.array(
            np.maximum(age + off, 0), mask=rng.random(n) < r.ambulance_age_missing, type=pa.int64()
        ),
        "date_of_birth": render.dates_of_birth(ctx, person, rng, "%d-%m-%Y", r.ambulance_dob_missing),
        "sex": render.sexes(ctx, person, rng, ("Male", "Female"), ("Unknown",)),
        "nhs_number": render.nhs_numbers(ctx, person, rng, r.ambulance_nhs_missing),
        "incident_lsoa": pick(tuple(ctx.geo.lsoa_code.tolist()), rows["lsoa"]),
        "conveyed": _flag(rows["conveyed"]),
        "destination_site_code": pick(ED_SITES, np.where(rows["conveyed"], rows["site"], -1)),
    })  # fmt: skip


def youth_justice(plan: YouthPlan, sl: slice, ctx: Context, rng: np.random.Generator) -> pa.Table:
    """Youth justice case management export (typed: dates are date32, flags are booleans)."""
    rows = {k: v[sl] for k, v in plan.rows.items()}
    person, r = rows["person"], ctx.rates
    fore, sur = render.names(ctx, person, rng)
    dob = render.dob_days(ctx, person, rng)
    return _table(YOUTH_JUSTICE, {
        "yjs_case_id": _join("YJ", _padded(rows["case"], 6)),
        "forename": strings(fore),
        "surname": strings(sur),
        "date_of_birth": pa.array(dob.astype(np.int32), type=pa.date32()),
        "sex": render.sexes(ctx, person, rng, ("M", "F"), ()),
        "upn": render.upns(ctx, person, rng, r.yj_upn_missing),
        "postcode": render.postcodes(ctx, person, rows["outcome_day"], rng, 0.0),
        "offence_type": pick(OFFENCE_NAMES, rows["kind"]),
        "ho_offence_code": pick(OFFENCE_CODES, rows["kind"]),
        "outcome": pick(OUTCOMES, rows["outcome"]),
        "outcome_date": pa.array(rows["outcome_day"].astype(np.int32), type=pa.date32()),
        "first_time_entrant": pa.array(rows["fte"], type=pa.bool_()),
        "knife_flag": pa.array(rows["knife"], type=pa.bool_()),
    })  # fmt: skip


def schools(plan: YouthPlan, sl: slice, ctx: Context, rng: np.random.Generator) -> pa.Table:
    """School census-style events: suspensions, permanent exclusions, persistent absence."""
    rows = {k: v[sl] for k, v in plan.rows.items()}
    person, r = rows["person"], ctx.rates
    fore, sur = render.names(ctx, person, rng)
    year = rows["academic_year"]
    return _table(SCHOOLS, {
        "upn": render.upns(ctx, person, rng, r.schools_upn_missing),
        "forename": strings(fore),
        "surname": strings(sur),
        "date_of_birth": render.dates_of_birth(ctx, person, rng, "%d/%m/%Y", 0.0),
        "sex": render.sexes(ctx, person, rng, ("M", "F"), ()),
        "postcode": render.postcodes(ctx, person, rows["day"], rng, 0.0),
        "school_urn": pa.array(rows["urn"].astype(np.int64)).cast(pa.string()),
        "academic_year": _join(pa.array(year).cast(pa.string()), "/", _padded((year + 1) % 100, 2)),
        "event_type": pick(EVENTS, rows["event"]),
        "event_date": strings(format_days(rows["day"], "%Y-%m-%d")),
        "sessions": pa.array(rows["sessions"].astype(np.int64), type=pa.int64()),
        "reason_code": pick(REASONS, rows["reason"]),
    })  # fmt: skip
