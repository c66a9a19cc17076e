"""Risk flags: what a data protection lead should look at twice before signing an agreement.

``risk_flags`` reads the terms and returns flags, most serious first. A flag is advice, not a
refusal: ``hub agreement lint`` and the loader refuse what is not allowed; these flags point at what
is allowed but deserves a reason (special category data kept at full detail, long retention,
row-level outputs, quasi-identifiers that single people out when kept together, age bands finer
than the partnership's, people followed across releases by a longitudinal project).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from hub.agreements.model import (
    HUB_ROUND_TO,
    HUB_SUPPRESS_AT_OR_BELOW,
    LANDING_DAYS_MAX,
    Agreement,
    Classification,
    FieldSpec,
    GeneraliseRule,
    IdentifierType,
    Treatment,
)
from hub.agreements.plain import (
    AGE_BAND_RULES,
    CLASSIFICATION_WORDS,
    IDENTIFIER_WORDS,
    duration,
    is_no_onward_sharing,
    long_date,
    project_until,
    stricter_than_defaults,
)
from hub.privacy.generalise import DEFAULT_AGE_BANDS, band_label, bands_from_lower_bounds

Level = Literal["high", "medium", "info"]

LONG_RETENTION_DAYS: Final = 3653  # ten years, leap days included
VALIDITY_WARNING_DAYS: Final = 60  # time to review and sign the next version
NARROW_AGE_BAND_YEARS: Final = 5  # an agreement's own age band narrower than this is flagged

_ORDER: Final[dict[Level, int]] = {"high": 0, "medium": 1, "info": 2}

# Staged columns that narrow down who a row is about (see ``_small_cells``).
_AGE_RULES: Final = frozenset(
    {
        GeneraliseRule.AGE,
        GeneraliseRule.AGE_BAND,
        GeneraliseRule.AGE_BAND_FROM_AGE,
        GeneraliseRule.BIRTH_YEAR,
    }
)
_AREA_RULES: Final = frozenset({GeneraliseRule.LSOA, GeneraliseRule.POSTCODE_DISTRICT})
_AREA_WORDS: Final = frozenset({"lsoa", "msoa", "oa", "ward", "postcode", "neighbourhood"})


@dataclass(frozen=True)
class RiskFlag:
    level: Level
    title: str
    detail: str
    field: str | None = None


def _tokens(spec: FieldSpec) -> set[str]:
    return set(spec.name.lower().split("_"))


def _is_date_of_birth(spec: FieldSpec) -> bool:
    words = _tokens(spec)
    return (
        spec.identifier is IdentifierType.DATE_OF_BIRTH
        or "dob" in words
        or spec.name.lower() in {"birthdate", "birth_date", "date_of_birth"}
        or {"birth", "date"} <= words
    )


def _is_postcode(spec: FieldSpec) -> bool:
    return (
        spec.identifier is IdentifierType.POSTCODE
        or "postcode" in _tokens(spec)
        or {"post", "code"} <= _tokens(spec)
    )


def _kept(spec: FieldSpec) -> bool:
    return spec.treatment is Treatment.KEEP


def _field_flags(agreement: Agreement) -> Iterator[RiskFlag]:
    for spec in agreement.fields:
        exact_date = _kept(spec) or (
            spec.treatment is Treatment.GENERALISE and spec.rule is GeneraliseRule.DATE
        )
        if exact_date and _is_date_of_birth(spec):
            yield RiskFlag(
                "high",
                "Exact date of birth kept",
                f"{spec.name} keeps each person's full date of birth, which with sex and area "
                "identifies most people. Generalise it (age band at the event, or year of "
                "birth) or pseudonymise it for linking only.",
                spec.name,
            )
        elif _kept(spec) and _is_postcode(spec):
            yield RiskFlag(
                "high",
                "Full postcode kept",
                f"{spec.name} keeps full postcodes (about 15 households each). Generalise it to "
                "the LSOA or postcode district, or pseudonymise it for linking only.",
                spec.name,
            )
        elif _kept(spec) and spec.classification is Classification.FREE_TEXT:
            why = (
                f" The agreement's justification: {spec.justification}"
                if spec.justification
                else " The agreement gives no justification."
            )
            yield RiskFlag(
                "high",
                "Free text kept",
                f"{spec.name} keeps free text, which can hold names, addresses and other "
                f"details that no rule removes.{why}",
                spec.name,
            )
        elif _kept(spec) and (
            spec.classification is Classification.DIRECT_IDENTIFIER
            or (spec.identifier is not None and spec.identifier is not IdentifierType.SEX)
        ):
            what = (
                IDENTIFIER_WORDS[spec.identifier]
                if spec.identifier is not None
                else CLASSIFICATION_WORDS[spec.classification]
            )
            yield RiskFlag(
                "high",
                "Direct identifier kept",
                f"{spec.name} ({what}) would be stored as sent, where analysts' data is built "
                "from. Identifiers must be pseudonymised (kept only as keyed hashes for linking) "
                "or dropped; the agreement checker refuses this.",
                spec.name,
            )


def _age_band_flags(agreement: Agreement) -> Iterator[RiskFlag]:
    """An agreement's own age bands narrower than five years, other than the partnership's
    (16-17 is one of those: the line between a child and a young adult)."""
    for spec in agreement.fields:
        if not spec.age_bands or spec.rule not in AGE_BAND_RULES:
            continue
        try:
            bands = bands_from_lower_bounds(spec.age_bands)
        except ValueError:
            continue  # the agreement checker refuses these
        narrow = [
            band_label(low, high)
            for low, high in bands
            if high is not None
            and high - low + 1 < NARROW_AGE_BAND_YEARS
            and (low, high) not in DEFAULT_AGE_BANDS
        ]
        if narrow:
            yield RiskFlag(
                "medium",
                "Narrow age bands",
                f"{spec.name} is reduced to the agreement's own age bands, some narrower than "
                f"{NARROW_AGE_BAND_YEARS} years ({', '.join(narrow)}). With sex and area, a "
                "narrow band holds few people; use the partnership's bands unless the purpose "
                "needs these.",
                spec.name,
            )


def _longitudinal_flags(agreement: Agreement, today: date) -> Iterator[RiskFlag]:
    running = [p for p in agreement.longitudinal_projects if project_until(p, agreement) >= today]
    if not running:
        return
    projects = "; ".join(
        f"{p.name} until {long_date(project_until(p, agreement))}" for p in running
    )
    yield RiskFlag(
        "medium",
        "People followed across releases",
        f"Analysts of a longitudinal project ({projects}) get person keys that stay the same "
        "from one release to the next, so each person's events build up over time and a "
        "history is easier to recognise than a single event. Check that the project needs it, "
        "who its analysts are, and that it ends when its purpose is met. " + _outputs(agreement),
    )


def _sensitive_flags(agreement: Agreement) -> Iterator[RiskFlag]:
    basis = agreement.lawful_basis
    for classification, condition, article in (
        (Classification.SPECIAL_CATEGORY, basis.article9, "Article 9"),
        (Classification.CRIMINAL_OFFENCE, basis.article10, "Article 10"),
    ):
        words = CLASSIFICATION_WORDS[classification]
        present = [
            f
            for f in agreement.fields
            if f.classification is classification and f.treatment is not Treatment.DROP
        ]
        if present and not condition:
            yield RiskFlag(
                "high",
                f"{words.capitalize()} without an {article} condition",
                f"The agreement receives {words} ({', '.join(f.name for f in present)}) but "
                f"names no {article} condition in its lawful basis.",
            )
        kept = [f for f in present if _kept(f)]
        unjustified = [f.name for f in kept if not f.justification]
        justified = [f.name for f in kept if f.justification]
        if classification is Classification.SPECIAL_CATEGORY and unjustified:
            yield RiskFlag(
                "medium",
                "Special category data kept at full detail without a justification",
                f"{', '.join(unjustified)} {_are(unjustified)} kept as sent, and the agreement "
                "does not say why each is needed at full detail. Add a justification to each "
                "field, or generalise it.",
                unjustified[0] if len(unjustified) == 1 else None,
            )
            names = justified
        else:
            names = justified + unjustified
        if names:
            yield RiskFlag(
                "info",
                f"{words.capitalize()} kept at full detail",
                f"{', '.join(names)} {_are(names)} {words}, kept as sent in staging"
                + (f" under the {article} condition stated. " if condition else ". ")
                + _outputs(agreement),
                names[0] if len(names) == 1 else None,
            )


def _outputs(agreement: Agreement) -> str:
    if any(a.row_level for a in agreement.output_access):
        return "Some outputs are pseudonymised rows, not only aggregates."
    return "Outputs are disclosure-controlled aggregates only."


def _are(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _small_cells(agreement: Agreement) -> Iterator[RiskFlag]:
    """Exact event times, small areas, age and sex, kept together, single people out."""
    exact: list[str] = []
    hours: list[str] = []
    days: list[str] = []
    areas: list[str] = []
    ages: list[str] = []
    sexes: list[str] = []
    time_only = False
    for spec in agreement.fields:
        column = spec.staged_name
        if column is None:
            continue
        rule, words = spec.rule, _tokens(spec)
        if _kept(spec) and spec.type in ("datetime", "time"):
            exact.append(column)
            time_only = time_only or spec.type == "time"  # a time of day is exact with its date
        elif rule is GeneraliseRule.HOUR:
            hours.append(column)
        elif (_kept(spec) and spec.type == "date") or rule is GeneraliseRule.DATE:
            days.append(column)
        if rule in _AREA_RULES or (_kept(spec) and words & _AREA_WORDS):
            areas.append(column)
        if rule in _AGE_RULES or (_kept(spec) and "age" in words):
            ages.append(column)
        if _kept(spec) and (spec.identifier is IdentifierType.SEX or words & {"sex", "gender"}):
            sexes.append(column)
    times = exact + days if time_only else exact or (hours + days if hours and days else [])
    if times and areas and (ages or sexes):
        yield RiskFlag(
            "medium",
            "Quasi-identifiers that single people out when kept together",
            f"Staged rows keep the time of events ({', '.join(times)}) with "
            f"{_join_person(areas, ages, sexes)}. In a neighbourhood of "
            "about 1,500 people, few people of one age band and sex are involved in an event "
            "at a given time, so a row can point at one person. Aggregates are protected by "
            "disclosure control; consider generalising times to the hour or the date.",
        )
    elif days and areas and ages and sexes:
        rows = any(a.row_level for a in agreement.output_access)
        yield RiskFlag(
            "medium" if rows else "info",
            "Quasi-identifiers kept together",
            f"Staged rows keep dates ({', '.join(days)}) with "
            f"{_join_person(areas, ages, sexes)}; some combinations will "
            "be unique in small areas. "
            + (
                "Row-level output carries them to analysts."
                if rows
                else "Outputs are aggregates under disclosure control."
            ),
        )


def _join_person(areas: list[str], ages: list[str], sexes: list[str]) -> str:
    parts = [
        f"{what} ({', '.join(columns)})"
        for what, columns in (("the area", areas), ("age", ages), ("sex", sexes))
        if columns
    ]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def _output_flags(agreement: Agreement) -> Iterator[RiskFlag]:
    for access in agreement.output_access:
        if access.row_level:
            yield RiskFlag(
                "high",
                "Row-level output access",
                f"{access.who} may receive pseudonymised row-level data, not only "
                "disclosure-controlled aggregates. Rows can be re-identified by someone who "
                "knows of an event; check who they are, where they work with the rows, and why "
                "aggregates will not do.",
            )
    if not is_no_onward_sharing(agreement.onward_sharing):
        yield RiskFlag(
            "medium",
            "Onward sharing allowed",
            "The agreement allows onward sharing: "
            + " ".join(agreement.onward_sharing.split())
            + " Check who receives what, and under which terms.",
        )
    if stricter_than_defaults(agreement.disclosure):
        d = agreement.disclosure
        yield RiskFlag(
            "info",
            "Disclosure control stricter than the hub's defaults",
            f"Counts of {d.suppress_at_or_below} or fewer are suppressed and the rest rounded "
            f"to the nearest {d.round_to} (hub defaults: {HUB_SUPPRESS_AT_OR_BELOW} and "
            f"{HUB_ROUND_TO}). Outputs will show less detail than other agreements'.",
        )


def _retention_flags(agreement: Agreement) -> Iterator[RiskFlag]:
    r = agreement.retention
    if r.landing_days > LANDING_DAYS_MAX:
        yield RiskFlag(
            "medium",
            "Raw extracts kept long",
            f"Extracts as received, identifiers and all, are kept for {duration(r.landing_days)} "
            f"in the landing zone; more than {LANDING_DAYS_MAX} days is rarely needed once an "
            "extract is staged.",
        )
    for zone, days, what in (
        ("staging", r.staging_days, "pseudonymised records"),
        ("linkage", r.linkage_days, "keyed hashes of identifiers"),
    ):
        if days > LONG_RETENTION_DAYS:
            yield RiskFlag(
                "medium",
                f"Long retention in {zone}",
                f"{what.capitalize()} are kept for {duration(days)} ({days:,} days), more than "
                "ten years.",
            )


def _date_flags(agreement: Agreement, today: date) -> Iterator[RiskFlag]:
    if agreement.review_date < today:
        yield RiskFlag(
            "medium",
            "Review date passed",
            f"The agreement was due for review by {long_date(agreement.review_date)}.",
        )
    left = (agreement.valid_until - today).days
    if left < 0:
        yield RiskFlag(
            "medium",
            "Agreement expired",
            f"The agreement ended on {long_date(agreement.valid_until)}; no extract is "
            "accepted under it.",
        )
    elif left <= VALIDITY_WARNING_DAYS:
        yield RiskFlag(
            "info",
            "Agreement ends soon",
            f"The agreement ends on {long_date(agreement.valid_until)}, in {left} "
            f"day{'' if left == 1 else 's'}; a new version must be signed for sharing to "
            "continue.",
        )


def risk_flags(agreement: Agreement, today: date | None = None) -> tuple[RiskFlag, ...]:
    """Flags for one agreement, high first; dates are judged on ``today`` (default: today)."""
    on = today if today is not None else date.today()
    flags = [
        *_field_flags(agreement),
        *_age_band_flags(agreement),
        *_sensitive_flags(agreement),
        *_small_cells(agreement),
        *_output_flags(agreement),
        *_longitudinal_flags(agreement, on),
        *_retention_flags(agreement),
        *_date_flags(agreement, on),
    ]
    return tuple(sorted(flags, key=lambda f: _ORDER[f.level]))
