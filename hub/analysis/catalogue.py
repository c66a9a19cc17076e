"""The catalogue an analyst reads: what each release column means, where it comes from and on
what lawful basis, how fresh each source is, its quality history and the linkage quality.

Everything here is metadata: descriptions from the agreements and the release schema, counts,
dates and rates. No row value is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from hub.agreements.model import Agreement, FieldSpec
from hub.analysis.access import ReleaseView, input_agreements
from hub.store import Extract, session_scope

EVENT_COLUMNS: dict[str, str] = {
    "person_key": "The person's key in this release only (32 hex characters): the same person "
    "has the same key in every table of the release and a different one in every other release",
    "source": "The agreement the event was shared under",
    "role": "The person's part in the event (victim, suspect, patient, pupil, young person...)",
    "event_type": "What happened, in the source's words (lower case)",
    "ho_offence_code": "Home Office offence classification code (police and youth justice)",
    "event_week": "The Monday of the week the event happened",
    "event_month": "The first day of the month the event happened",
    "event_hour": "The hour of the day the event happened (0-23)",
    "area_code": "LSOA (2021) where the event happened",
    "age_band": "The person's age band at the event",
    "sex": "The person's sex as the source records it",
    "home_area": "LSOA (2021) of the person's home postcode",
    "local_authority": "Local authority of area_code (from the partnership's postcode reference)",
    "home_local_authority": "Local authority of home_area (from the partnership's postcode "
    "reference)",
}
FLAG_WORDS = {
    "knife": "a knife or sharp object was involved",
    "firearm": "a firearm was involved",
    "domestic_abuse": "the source flags domestic abuse",
    "alcohol": "alcohol was involved",
    "youth": "the source flags the event as youth violence",
    "night_time_economy": "the event is linked to the night-time economy",
}
PERSON_COLUMNS: dict[str, str] = {
    "person_key": "The person's key in this release (as in event)",
    "sex": "The person's sex (the most recent the sources record)",
    "age_band_at_first_event": "Age band at the person's first event in the release",
    "home_area": "LSOA of the person's home postcode",
    "first_seen_week": "Week of the person's first event from your project's sources",
    "last_seen_week": "Week of the person's last event from your project's sources",
    "sources": "Your project's sources the person has events from",
    "events": "How many events the person has from your project's sources",
}
# which publication setting feeds each event column (the others come from every source)
_FED_BY = {
    "ho_offence_code": "offence_code_field",
    "event_hour": "event_hour_field",
    "area_code": "area_field",
    "age_band": "age_band_field",
    "sex": "sex_field",
    "home_area": "home_area_field",
    "local_authority": "area_field",
    "home_local_authority": "home_area_field",
    "role": "role_field",
    "event_type": "event_type_field",
}
_DATE_FED = ("event_week", "event_month")


@dataclass(frozen=True)
class ColumnSource:
    """Where one agreement's data feeds a release column from."""

    agreement_id: str
    field: str | None  # the agreement's field (None: a constant the agreement sets)
    description: str
    treatment: str
    lawful_basis: str


@dataclass(frozen=True)
class CatalogueColumn:
    table: str
    name: str
    description: str
    sources: tuple[ColumnSource, ...]


@dataclass(frozen=True)
class Freshness:
    agreement_id: str
    title: str
    schedule: str
    last_received: datetime | None
    last_staged: datetime | None
    extracts: int
    in_release: bool


@dataclass(frozen=True)
class QualityRow:
    agreement_id: str
    extract_id: str
    received_at: datetime
    status: str
    rows: int | None
    findings: int  # rows with a finding, summed over the rules
    critical: int
    worst_completeness: tuple[str, float] | None


def lawful_basis(agreement: Agreement) -> str:
    basis = agreement.lawful_basis
    parts = [basis.article6]
    if basis.article9:
        parts.append(basis.article9)
    if basis.article10:
        parts.append(basis.article10)
    return "; ".join(parts) + f" (gateway: {basis.statutory_gateway})"


def _staged_field(agreement: Agreement, staged: str) -> FieldSpec | None:
    for spec in agreement.fields:
        if staged in (spec.staged_name, spec.name):
            return spec
    return None


def _source_of(agreement: Agreement, column: str) -> ColumnSource | None:
    spec = agreement.publication
    basis = lawful_basis(agreement)
    field_name: str | None
    if column in _DATE_FED:
        field_name = spec.event_date_field
    elif column.startswith("flag_"):
        flag = spec.flags.get(column.removeprefix("flag_"))
        if flag is None:
            return None
        field_name = flag.field
    elif column in _FED_BY:
        field_name = getattr(spec, _FED_BY[column])
        if field_name is None:
            constant = {"role": spec.role, "event_type": spec.event_type}.get(column)
            if constant is None:
                return None
            return ColumnSource(agreement.id, None, f"always {constant!r}", "constant", basis)
    else:
        return ColumnSource(agreement.id, None, "set by the hub", "derived", basis)
    found = _staged_field(agreement, field_name)
    if found is None:
        return ColumnSource(agreement.id, field_name, "", "", basis)
    treatment = found.treatment.value + (f" ({found.rule.value})" if found.rule else "")
    return ColumnSource(agreement.id, found.name, found.description, treatment, basis)


def _definitions(view: ReleaseView) -> dict[str, str]:
    described = {}
    entry = view.manifest.get("serious_violence_definitions")
    if isinstance(entry, dict):
        for d in entry.get("definitions", []):
            if isinstance(d, dict) and "column" in d:
                described[str(d["column"])] = (
                    f"Counts as serious violence under the {d.get('title', d['column'])} "
                    "definition (docs/definitions.md)"
                )
                if d.get("harm_weighted"):
                    described[f"harm_{d['id']}"] = (
                        f"Harm weight (days) under the {d.get('title', d['id'])} definition"
                    )
    return described


def columns(view: ReleaseView, agreements: dict[str, Agreement]) -> list[CatalogueColumn]:
    """Every column the project sees, with its description and the agreements feeding it."""
    described = _definitions(view)
    found = []
    for name in view.tables["event"]:
        if name.startswith("flag_"):
            text = "True when " + FLAG_WORDS.get(name.removeprefix("flag_"), name)
        else:
            text = EVENT_COLUMNS.get(name) or described.get(name, "")
        sources = tuple(
            s
            for s in (_source_of(agreements[a], name) for a in view.sources if a in agreements)
            if s is not None
        )
        found.append(CatalogueColumn("event", name, text, sources))
    for name in view.tables["person"]:
        found.append(CatalogueColumn("person", name, PERSON_COLUMNS.get(name, ""), ()))
    return found


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def freshness(
    engine: Engine,
    view: ReleaseView | None,
    sources: tuple[str, ...],
    agreements: dict[str, Agreement],
) -> list[Freshness]:
    """For each source: when its newest extract arrived and was staged, and whether the
    release carries it."""
    in_release = set(view.sources) if view is not None else set()
    with session_scope(engine) as session:
        extracts = session.scalars(select(Extract).where(Extract.agreement_id.in_(sources))).all()
        rows = [(e.agreement_id, e.received_at, e.updated_at, e.status) for e in extracts]
    found = []
    for agreement_id in sources:
        mine = [r for r in rows if r[0] == agreement_id]
        staged = [_utc(r[2]) for r in mine if r[3] == "staged"]
        agreement = agreements.get(agreement_id)
        found.append(
            Freshness(
                agreement_id=agreement_id,
                title=agreement.title if agreement else agreement_id,
                schedule=agreement.delivery.schedule if agreement else "",
                last_received=max((_utc(r[1]) for r in mine), default=None),  # type: ignore[type-var]
                last_staged=max((s for s in staged if s is not None), default=None),
                extracts=len(mine),
                in_release=agreement_id in in_release,
            )
        )
    return found


def quality_history(engine: Engine, sources: tuple[str, ...], limit: int = 50) -> list[QualityRow]:
    """The newest extracts of the sources with their quality findings (counts, never values)."""
    with session_scope(engine) as session:
        extracts = session.scalars(
            select(Extract)
            .where(Extract.agreement_id.in_(sources))
            .order_by(Extract.received_at.desc())
            .limit(limit)
        ).all()
        history = []
        for e in extracts:
            report = e.report if isinstance(e.report, dict) else {}
            listed = report.get("findings")
            findings = (
                [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
            )
            completeness = report.get("completeness") or {}
            worst = (
                min(completeness.items(), key=lambda item: item[1])
                if isinstance(completeness, dict) and completeness
                else None
            )
            history.append(
                QualityRow(
                    agreement_id=e.agreement_id,
                    extract_id=e.id,
                    received_at=_utc(e.received_at) or e.received_at,
                    status=e.status,
                    rows=e.rows,
                    findings=sum(int(f.get("count", 0)) for f in findings),
                    critical=sum(
                        int(f.get("count", 0)) for f in findings if f.get("severity") == "critical"
                    ),
                    worst_completeness=(str(worst[0]), float(worst[1])) if worst else None,
                )
            )
    return history


def linkage_quality(view: ReleaseView) -> dict[str, object]:
    """The release's linkage report (method, passes, model, links, expected false links).

    Its counts are over every source of the release. A project that draws on only some of them
    gets the method, the threshold and the model's estimate of false links, not the counts: how
    many records matched on a police or school identifier, or how many people are known to two
    or more partners, is about sources the project does not see."""
    linkage = view.manifest.get("linkage")
    if not isinstance(linkage, dict):
        return {}
    if set(view.sources) >= input_agreements(view.manifest):
        return linkage
    probabilistic = linkage.get("probabilistic")
    kept: dict[str, object] = {"method": linkage.get("method"), "partial": True}
    if isinstance(probabilistic, dict):
        kept["probabilistic"] = {
            k: probabilistic[k]
            for k in ("run", "threshold", "expected_false_links")
            if k in probabilistic
        }
    return kept
