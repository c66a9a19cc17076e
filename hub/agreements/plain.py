"""An agreement in plain words, for the data protection leads who read and approve it.

``describe`` turns an ``Agreement`` into frozen dataclasses of sentences; web pages and the CLI
render them and add no wording of their own. Every word the hub uses for a model value lives in the
vocabulary tables below, keyed by the model's enums and literals, so a new enum member without
words fails a test rather than showing a raw code to a reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from cron_descriptor import (
    FormatException,
    MissingFieldException,
    Options,
    WrongArgumentException,
    get_description,
)

from hub.agreements.model import (
    HUB_ROUND_TO,
    HUB_SUPPRESS_AT_OR_BELOW,
    Agreement,
    Classification,
    CrossFieldRule,
    Delivery,
    Disclosure,
    FieldSpec,
    GeneraliseRule,
    IdentifierType,
    LongitudinalProject,
    OutputAccess,
    Party,
    Publication,
    Role,
    Severity,
    Treatment,
)
from hub.privacy.generalise import DEFAULT_AGE_BANDS, bands_from_lower_bounds, bands_words

# --- vocabulary -----------------------------------------------------------------------------------

ROLE_WORDS: Final[dict[Role, str]] = {
    Role.CONTROLLER: "controller",
    Role.JOINT_CONTROLLER: "joint controller",
    Role.PROCESSOR: "processor",
}

CLASSIFICATION_WORDS: Final[dict[Classification, str]] = {
    Classification.DIRECT_IDENTIFIER: "direct identifier",
    Classification.QUASI_IDENTIFIER: "quasi-identifier",
    Classification.SPECIAL_CATEGORY: "special category data",
    Classification.CRIMINAL_OFFENCE: "criminal offence data",
    Classification.OPERATIONAL: "operational",
    Classification.FREE_TEXT: "free text",
}

# What happens to a field, as a past participle ("adds field x (...), kept as sent").
TREATMENT_WORDS: Final[dict[Treatment, str]] = {
    Treatment.PSEUDONYMISE: "pseudonymised",
    Treatment.GENERALISE: "generalised",
    Treatment.KEEP: "kept as sent",
    Treatment.DROP: "not stored",
}

IDENTIFIER_WORDS: Final[dict[IdentifierType, str]] = {
    IdentifierType.NHS_NUMBER: "NHS number",
    IdentifierType.UPN: "unique pupil number",
    IdentifierType.PNC_ID: "Police National Computer ID",
    IdentifierType.FORENAME: "forename",
    IdentifierType.SURNAME: "surname",
    IdentifierType.DATE_OF_BIRTH: "date of birth",
    IdentifierType.POSTCODE: "postcode",
    IdentifierType.SEX: "sex",
    IdentifierType.LOCAL_PERSON_ID: "the partner's own person or case reference",
    IdentifierType.RECORD_ID: "the partner's own record reference",
}

# Identifier types hashed only within their provider's own domain (``token_domain`` in
# ``hub.pipeline.identifiers``): they link one partner's records, never people across partners.
LOCAL_IDENTIFIERS: Final[frozenset[IdentifierType]] = frozenset(
    {IdentifierType.LOCAL_PERSON_ID, IdentifierType.RECORD_ID}
)

AGE_BANDS_WORDS: Final[str] = bands_words(DEFAULT_AGE_BANDS)  # the partnership's default

# Generalisations whose result is an age band (``FieldSpec.age_bands`` sets the bands).
AGE_BAND_RULES: Final[frozenset[GeneraliseRule]] = frozenset(
    {GeneraliseRule.AGE_BAND, GeneraliseRule.AGE_BAND_FROM_AGE}
)

# The short name of a generalisation ("generalise (age band)").
RULE_WORDS: Final[dict[GeneraliseRule, str]] = {
    GeneraliseRule.AGE_BAND: "age band",
    GeneraliseRule.AGE: "age in years",
    GeneraliseRule.BIRTH_YEAR: "year of birth",
    GeneraliseRule.POSTCODE_DISTRICT: "postcode district",
    GeneraliseRule.LSOA: "LSOA",
    GeneraliseRule.DATE: "date",
    GeneraliseRule.WEEK: "week",
    GeneraliseRule.MONTH: "month",
    GeneraliseRule.HOUR: "hour of day",
    GeneraliseRule.AGE_BAND_FROM_AGE: "age band",
}

# What a generalisation does, as a sentence; ``{at}`` is the event an age is computed at and
# ``{bands}`` the age bands (the agreement's own, or the partnership's default).
RULE_EFFECTS: Final[dict[GeneraliseRule, str]] = {
    GeneraliseRule.AGE_BAND: (
        "Reduced to an age band ({bands}) at {at}; the date of birth itself is not kept."
    ),
    GeneraliseRule.AGE: (
        "Reduced to the age in whole years at {at}; the date of birth itself is not kept."
    ),
    GeneraliseRule.BIRTH_YEAR: "Reduced to the year of birth; the full date is not kept.",
    GeneraliseRule.POSTCODE_DISTRICT: (
        "Reduced to the postcode district (the first half of the postcode, e.g. L4: on average "
        "some 20,000 people); the full postcode is not kept."
    ),
    GeneraliseRule.LSOA: (
        "Reduced to the LSOA (neighbourhood of about 1,500 people); the full postcode is not kept."
    ),
    GeneraliseRule.DATE: "Reduced to the date; the time of day is not kept.",
    GeneraliseRule.WEEK: "Reduced to the week (its Monday); the exact date is not kept.",
    GeneraliseRule.MONTH: "Reduced to the month; the exact date is not kept.",
    GeneraliseRule.HOUR: "Reduced to the hour of day (0-23); minutes and the date are not kept.",
    GeneraliseRule.AGE_BAND_FROM_AGE: (
        "Reduced to an age band ({bands}); the exact age is not kept."
    ),
}

TYPE_WORDS: Final[dict[str, str]] = {
    "string": "text",
    "integer": "whole number",
    "boolean": "yes/no",
    "flag": "yes/no flag",
    "date": "date",
    "datetime": "date and time",
    "time": "time of day",
}

FORMAT_WORDS: Final[dict[str, str]] = {
    "csv": "CSV",
    "parquet": "Parquet",
    "ndjson": "newline-delimited JSON",
}

SEVERITY_WORDS: Final[dict[Severity, str]] = {
    Severity.CRITICAL: "Critical: an extract that fails is quarantined and the partner told why.",
    Severity.WARNING: "Warning: failures are reported to the partner; the extract is accepted.",
}

MUST_BE_WORDS: Final[dict[str, str]] = {
    "on_or_before": "on or before",
    "on_or_after": "on or after",
    "before": "before",
    "after": "after",
}

# Keyed by the field names of ``LawfulBasis``.
LAWFUL_BASIS_LABELS: Final[dict[str, str]] = {
    "article6": "UK GDPR Article 6 condition",
    "article9": "Article 9 condition (special category data)",
    "article10": "Article 10 condition (criminal offence data)",
    "statutory_gateway": "Statutory gateway",
}

# Keyed by the field names of ``Retention``.
ZONE_WORDS: Final[dict[str, str]] = {
    "landing_days": "Landing zone (extracts as received, encrypted)",
    "staging_days": "Staging (pseudonymised records)",
    "linkage_days": "Linkage zone (keyed hashes used only for matching)",
    "published_days": "Published releases (for analysts)",
}

# Composite linkage key parts that are not identifier types.
LINKAGE_PART_WORDS: Final[dict[str, str]] = {
    "forename_initial": "first letter of forename",
    "birth_year": "year of birth",
}

# Keyed by the field names of ``Publication`` (``flags`` is worded separately).
PUBLICATION_WORDS: Final[dict[str, str]] = {
    "role": "role",
    "role_field": "role from",
    "event_type": "event type",
    "event_type_field": "event type from",
    "offence_code_field": "offence code from",
    "event_date_field": "dated by",
    "event_hour_field": "hour of day from",
    "area_field": "area from",
    "age_band_field": "age band from",
    "sex_field": "sex from",
    "home_area_field": "home area from",
    "flags": "flags",
}

_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_CRON_MACROS: Final[dict[str, str]] = {
    "@hourly": "every hour",
    "@daily": "every day at 00:00",
    "@midnight": "every day at 00:00",
    "@weekly": "every Sunday at 00:00",
    "@monthly": "on day 1 of the month at 00:00",
    "@yearly": "on 1 January at 00:00",
    "@annually": "on 1 January at 00:00",
}

# --- the plain agreement --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlainParty:
    org: str
    name: str
    role: str
    lead_name: str
    lead_title: str
    lead_email: str
    is_provider: bool
    is_hub_controller: bool


@dataclass(frozen=True)
class PlainField:
    name: str
    description: str
    type: str
    classification: str
    what_happens: str
    required: bool
    justification: str | None
    identifier: str | None  # the identifier type in words, when the field carries one
    stored_as: str | None  # the staged column, or None when nothing of the field is staged


@dataclass(frozen=True)
class PlainAgreement:
    title: str
    summary: str
    parties: tuple[PlainParty, ...]
    purpose: str
    lawful_basis: tuple[tuple[str, str], ...]
    data_subjects: str
    delivery: str
    fields: tuple[PlainField, ...]
    quality: tuple[str, ...]
    retention: tuple[tuple[str, str], ...]
    onward_sharing: str
    output_access: tuple[str, ...]
    disclosure: str
    validity: str
    review: str
    version: str
    change_note: str | None
    linkage: tuple[str, ...]
    publication: str
    # Whether analysts can follow people from one release to the next, and who: one sentence per
    # longitudinal project, then what everyone else gets.
    longitudinal: tuple[str, ...]


# --- small words ----------------------------------------------------------------------------------


def long_date(day: date) -> str:
    """A date as a British reader writes it: ``1 April 2025``."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _plural(count: int, unit: str) -> str:
    return f"{count:,} {unit}" + ("" if count == 1 else "s")


def duration(days: int) -> str:
    """A retention period in words: whole years when the days are (near) whole years, months
    when they are (near) whole months from two to 23, otherwise days.

    >>> duration(2555), duration(3653), duration(180), duration(14), duration(100)
    ('7 years', '10 years', '6 months', '14 days', '100 days')
    """
    years = round(days / 365.25)
    if years >= 1 and years * 365 <= days <= years * 365 + (years + 3) // 4:
        return _plural(years, "year")
    months = round(days / 30.4375)
    near_whole_months = days == months * 30 or abs(days - months * 30.4375) <= 1.5
    if 2 <= months < 24 and near_whole_months:  # beyond two years, months stop being sensible
        return _plural(months, "month")
    return _plural(days, "day")


def hours_words(hours: int) -> str:
    """``48`` -> ``2 days``; ``36`` -> ``36 hours``."""
    if hours % 24 == 0:
        return _plural(hours // 24, "day")
    return _plural(hours, "hour")


def schedule_words(schedule: str) -> str:
    """A cron expression in words, starting in lower case: ``at 05:00, on day 2 of the month``.
    An expression the describer cannot read is quoted rather than guessed at."""
    macro = _CRON_MACROS.get(schedule.strip().lower())
    if macro is not None:
        return macro
    try:
        text = str(
            get_description(schedule, Options(locale_code="en_US", use_24hour_time_format=True))
        )
    except (FormatException, MissingFieldException, WrongArgumentException):
        return f"on the schedule '{schedule}'"
    return text[:1].lower() + text[1:]


def _number(value: float) -> str:
    return f"{value:g}"


def _strptime_words(fmt: str) -> str:
    """``%d/%m/%Y`` -> ``DD/MM/YYYY`` (unknown directives are left as they are)."""
    words = {"%d": "DD", "%m": "MM", "%Y": "YYYY", "%y": "YY", "%H": "hh", "%M": "mm", "%S": "ss"}
    return re.sub(r"%[a-zA-Z]", lambda m: words.get(m.group(0), m.group(0)), fmt)


def treatment_label(spec: FieldSpec) -> str:
    """The treatment as the agreement names it, with its rule: ``generalise (age band)``."""
    if spec.treatment is Treatment.GENERALISE and spec.rule is not None:
        return f"{spec.treatment.value} ({RULE_WORDS[spec.rule]})"
    return spec.treatment.value


def treatment_words(spec: FieldSpec) -> str:
    """What happens, as a short participle phrase: ``generalised to age band``."""
    if spec.treatment is Treatment.GENERALISE and spec.rule is not None:
        return f"generalised to {RULE_WORDS[spec.rule]}"
    if spec.treatment is Treatment.PSEUDONYMISE and spec.identifier is not None:
        return f"pseudonymised as {IDENTIFIER_WORDS[spec.identifier]}"
    return TREATMENT_WORDS[spec.treatment]


def linkage_part_words(part: str) -> str:
    if part in LINKAGE_PART_WORDS:
        return LINKAGE_PART_WORDS[part]
    try:
        return IDENTIFIER_WORDS[IdentifierType(part)]
    except ValueError:
        return part


def age_bands_words(lower: tuple[int, ...]) -> str:
    """The age bands a field's lower bounds give, in words: ``0-17, 18-24, 25+``; the
    partnership's default when there are none. Bounds the checker would refuse are quoted as
    written rather than turned into bands that were never agreed."""
    try:
        return bands_words(bands_from_lower_bounds(lower))
    except ValueError:
        return "bands starting at " + ", ".join(str(b) for b in lower) + " (not valid)"


def disclosure_words(disclosure: Disclosure) -> str:
    """``Counts of 7 or fewer are suppressed; other counts are rounded to the nearest 5.``"""
    if disclosure.suppress_at_or_below > 0:
        first = f"Counts of {disclosure.suppress_at_or_below} or fewer are suppressed"
        rest = "other counts"
    else:
        first, rest = "No counts are suppressed", "counts"
    if disclosure.round_to > 1:
        second = f"{rest} are rounded to the nearest {disclosure.round_to}."
    else:
        second = f"{rest} are not rounded."
    text = f"{first}; {second}"
    if stricter_than_defaults(disclosure):
        text += (
            f" This is stricter than the hub's defaults ({HUB_SUPPRESS_AT_OR_BELOW} or fewer "
            f"suppressed, rounding to {HUB_ROUND_TO})."
        )
    return text


def stricter_than_defaults(disclosure: Disclosure) -> bool:
    return (
        disclosure.suppress_at_or_below > HUB_SUPPRESS_AT_OR_BELOW
        or disclosure.round_to > HUB_ROUND_TO
    )


def is_no_onward_sharing(text: str) -> bool:
    """True when the onward-sharing term says "None" (optionally followed by an explanation)."""
    return re.match(r"\s*none\s*(?:[.;:,(-]|$)", text, flags=re.IGNORECASE) is not None


# --- sections -------------------------------------------------------------------------------------


def _party(agreement: Agreement, party: Party) -> PlainParty:
    lead = party.data_protection_lead
    return PlainParty(
        org=party.org,
        name=party.name,
        role=ROLE_WORDS[party.role],
        lead_name=lead.name,
        lead_title=lead.title,
        lead_email=lead.email,
        is_provider=party.org == agreement.provider,
        is_hub_controller=party.org == agreement.hub_controller,
    )


def _linked(spec: FieldSpec) -> str:
    return " Also used, hashed, for linking." if spec.identifier is not None else ""


def what_happens(spec: FieldSpec) -> str:
    """What the hub does with one field, in a sentence or two."""
    if spec.treatment is Treatment.DROP:
        return "Not stored: read and discarded on arrival."
    if spec.treatment is Treatment.PSEUDONYMISE:
        if spec.identifier in LOCAL_IDENTIFIERS:
            return (
                "Trimmed and put in upper case, then replaced by a keyed hash (HMAC-SHA256) kept "
                "only for linking this partner's own records; never stored or published as sent."
            )
        return (
            "Checked and normalised, then replaced by a keyed hash (HMAC-SHA256) kept only for "
            "linking; never stored or published as sent."
        )
    if spec.treatment is Treatment.GENERALISE and spec.rule is not None:
        at = f"the date of {spec.relative_to}" if spec.relative_to else "the date of the event"
        bands = age_bands_words(spec.age_bands)
        return RULE_EFFECTS[spec.rule].format(at=at, bands=bands) + _linked(spec)
    if spec.identifier is not None:
        return "Kept, normalised to a standard form." + _linked(spec)
    return "Kept as sent."


def _field(spec: FieldSpec) -> PlainField:
    return PlainField(
        name=spec.name,
        description=spec.description,
        type=TYPE_WORDS[spec.type],
        classification=CLASSIFICATION_WORDS[spec.classification],
        what_happens=what_happens(spec),
        required=spec.required,
        justification=spec.justification,
        identifier=None if spec.identifier is None else IDENTIFIER_WORDS[spec.identifier],
        stored_as=spec.staged_name,
    )


def field_quality_words(spec: FieldSpec) -> str | None:
    """One field's quality rules as a sentence, or None when it has none."""
    q = spec.quality
    if q is None:
        return None
    clauses: list[str] = []
    if q.allowed_values:
        clauses.append("be one of " + ", ".join(q.allowed_values))
    if q.pattern is not None:
        clauses.append(f"match the pattern {q.pattern}")
    if q.minimum is not None and q.maximum is not None:
        clauses.append(f"be between {_number(q.minimum)} and {_number(q.maximum)}")
    elif q.minimum is not None:
        clauses.append(f"be at least {_number(q.minimum)}")
    elif q.maximum is not None:
        clauses.append(f"be at most {_number(q.maximum)}")
    if q.unique:
        clauses.append("be unique within each extract")
    if q.not_in_future:
        clauses.append("not be later than the day the extract arrives")
    if not clauses:
        return None
    return f"{spec.name} must {' and '.join(clauses)}. {SEVERITY_WORDS[q.severity]}"


def cross_field_words(rule: CrossFieldRule) -> str:
    description = rule.description.rstrip(".")
    relation = f"{rule.field} must be {MUST_BE_WORDS[rule.must_be]} {rule.other}"
    return f"{description} ({relation}). {SEVERITY_WORDS[rule.severity]}"


def _quality(agreement: Agreement) -> tuple[str, ...]:
    lines: list[str] = []
    if agreement.required_fields:
        lines.append(
            "Every extract must have the columns "
            + ", ".join(agreement.required_fields)
            + "; a row with one of them blank is reported as a quality failure."
        )
    for spec in agreement.fields:
        words = field_quality_words(spec)
        if words is not None:
            lines.append(words)
    lines.extend(cross_field_words(rule) for rule in agreement.quality_rules)
    return tuple(lines)


def _retention(agreement: Agreement) -> tuple[tuple[str, str], ...]:
    kept = agreement.retention.model_dump()
    rows: list[tuple[str, str]] = []
    for key, label in ZONE_WORDS.items():
        days = int(kept[key])
        rows.append((label, "deleted once staged" if days == 0 else duration(days)))
    return tuple(rows)


def delivery_words(delivery: Delivery) -> str:
    text = (
        f"A {FORMAT_WORDS[delivery.format]} extract is due {schedule_words(delivery.schedule)} "
        f"({delivery.timezone} time), and is late after {hours_words(delivery.late_after_hours)}."
    )
    if delivery.date_format:
        text += f" Dates are written {_strptime_words(delivery.date_format)}."
    return text


def output_access_words(access: OutputAccess) -> str:
    what = (
        "pseudonymised row-level data as well as disclosure-controlled aggregates"
        if access.row_level
        else "disclosure-controlled aggregates only"
    )
    purpose = " ".join(access.purpose.split()).rstrip(".")
    return f"{access.who}: {purpose}. Receives {what}."


def _linkage(agreement: Agreement) -> tuple[str, ...]:
    identifiers = [
        IDENTIFIER_WORDS[f.identifier]
        for f in agreement.fields
        if f.identifier is not None and f.treatment is not Treatment.DROP
    ]
    lines: list[str] = []
    if identifiers:
        lines.append(
            "Kept only as keyed hashes in the linkage zone, for matching: "
            + ", ".join(identifiers)
            + "."
        )
    lines.extend(
        f"Combined key {key.name}: " + " + ".join(linkage_part_words(p) for p in key.parts) + "."
        for key in agreement.linkage_keys
    )
    return tuple(lines)


def project_until(project: LongitudinalProject, agreement: Agreement) -> date:
    """The last day a longitudinal project may follow people: its own end date, never later than
    the agreement's validity."""
    if project.until is None:
        return agreement.valid_until
    return min(project.until, agreement.valid_until)


def purpose_phrase(text: str) -> str:
    """A purpose to follow "for": one line, no final full stop, a capital lowered unless it
    starts an abbreviation (``Evaluation of`` -> ``evaluation of``; ``SVD duty`` stays)."""
    purpose = " ".join(text.split()).rstrip(".")
    return purpose[:1].lower() + purpose[1:] if purpose[1:2].islower() else purpose


def longitudinal_project_words(project: LongitudinalProject, agreement: Agreement) -> str:
    """``Analysts of project youth-cohort may follow the same people across releases until
    31 March 2027, for ...``"""
    return (
        f"Analysts of project {project.name} may follow the same people across releases until "
        f"{long_date(project_until(project, agreement))}, for {purpose_phrase(project.purpose)}."
    )


def _longitudinal(agreement: Agreement) -> tuple[str, ...]:
    if not agreement.longitudinal_projects:
        return (
            "Analysts cannot follow people from one release to the next: every release gives "
            "everyone new person keys.",
        )
    return (
        *(longitudinal_project_words(p, agreement) for p in agreement.longitudinal_projects),
        "Everyone else gets new person keys in every release, so releases cannot be joined.",
    )


def publication_words(publication: Publication) -> str:
    parts: list[str] = []
    for key, words in PUBLICATION_WORDS.items():
        if key == "flags":
            continue
        value = getattr(publication, key)
        if value is not None:
            parts.append(f"{words} {value}")
    text = "Each staged record becomes an event in the linked release: " + "; ".join(parts) + "."
    if publication.flags:
        flags = [
            f"{name} (from {flag.field}" + (f" = {flag.equals})" if flag.equals else ")")
            for name, flag in publication.flags.items()
        ]
        text += " Flags: " + ", ".join(flags) + "."
    return text


def _summary(agreement: Agreement) -> str:
    provider = _org_name(agreement, agreement.provider)
    hub = _org_name(agreement, agreement.hub_controller)
    counts = {t: sum(1 for f in agreement.fields if f.treatment is t) for t in Treatment}
    sensitive = [
        CLASSIFICATION_WORDS[c]
        for c in (Classification.SPECIAL_CATEGORY, Classification.CRIMINAL_OFFENCE)
        if any(
            f.classification is c and f.treatment is not Treatment.DROP for f in agreement.fields
        )
    ]
    rows = any(a.row_level for a in agreement.output_access)
    parts = [
        f"{n} {'is' if n == 1 else 'are'} {words}"
        for n, words in (
            (counts[Treatment.PSEUDONYMISE], "replaced by keyed hashes for linking"),
            (counts[Treatment.GENERALISE], "generalised"),
            (counts[Treatment.KEEP], "kept as sent"),
            (counts[Treatment.DROP], "discarded on arrival"),
        )
        if n
    ]
    text = (
        f"{provider} shares records about {_join(agreement.data_subjects)} with the hub run by "
        f"{hub}. Of its {_plural(len(agreement.fields), 'data item')}, {_join(parts)}."
    )
    if sensitive:
        text += f" It includes {_join(sensitive)}."
    text += (
        " Analysts receive disclosure-controlled aggregates and pseudonymised rows."
        if rows
        else " Analysts receive disclosure-controlled aggregates only."
    )
    projects = [p.name for p in agreement.longitudinal_projects]
    if projects:
        text += (
            f" Analysts of {'project' if len(projects) == 1 else 'projects'} {_join(projects)} "
            "may follow the same people from one release to the next."
        )
    return text


def _org_name(agreement: Agreement, org: str) -> str:
    try:
        return agreement.party(org).name
    except KeyError:
        return org


def _join(items: tuple[str, ...] | list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def describe(agreement: Agreement) -> PlainAgreement:
    """The whole agreement in plain words."""
    basis = agreement.lawful_basis.model_dump()
    signers = _join([_org_name(agreement, org) for org in agreement.signing_orgs])
    return PlainAgreement(
        title=agreement.title,
        summary=_summary(agreement),
        parties=tuple(_party(agreement, p) for p in agreement.parties),
        purpose=" ".join(agreement.purpose.split()),
        lawful_basis=tuple(
            (label, str(basis[key])) for key, label in LAWFUL_BASIS_LABELS.items() if basis[key]
        ),
        data_subjects=_join(agreement.data_subjects),
        delivery=delivery_words(agreement.delivery),
        fields=tuple(_field(f) for f in agreement.fields),
        quality=_quality(agreement),
        retention=_retention(agreement),
        onward_sharing=" ".join(agreement.onward_sharing.split()),
        output_access=tuple(output_access_words(a) for a in agreement.output_access),
        disclosure=disclosure_words(agreement.disclosure),
        validity=(
            f"In force from {long_date(agreement.valid_from)} to "
            f"{long_date(agreement.valid_until)} inclusive, once signed by the data protection "
            f"leads of {signers}."
        ),
        review=f"To be reviewed by {long_date(agreement.review_date)}.",
        version=f"{agreement.id}, version {agreement.version}",
        change_note=agreement.change_note,
        linkage=_linkage(agreement),
        publication=publication_words(agreement.publication),
        longitudinal=_longitudinal(agreement),
    )
