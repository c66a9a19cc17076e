"""What the DAGs' tasks call. Each builds its settings from the environment at run time, so DAG
files stay free of database and key access at import."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from hub.agreements import Agreement, get_agreement
from hub.agreements.loader import load_agreements_leniently
from hub.pipeline.process import process_extract
from hub.privacy.keys import open_keyring
from hub.publication.release import publish_release
from hub.settings import Settings
from hub.store import make_engine
from hub.times import as_utc

log = logging.getLogger(__name__)
# A scheduled run leaves an extract received this recently to its landing event's run, which is
# starting; one still waiting after this long had its trigger missed.
MISSED_TRIGGER_AFTER = timedelta(minutes=15)


def run_stage(agreement_id: str, extract_id: str) -> dict[str, object]:
    """Stage and validate one extract (quarantined on a critical failure); returns a small
    summary for XCom (counts only, no values)."""
    settings = Settings()
    engine = make_engine(settings.metadata_url)
    try:
        agreement = get_agreement(settings.contracts_dir, agreement_id)
        result = process_extract(settings, engine, open_keyring(settings), agreement, extract_id)
    finally:
        engine.dispose()
    findings = result.report.get("findings", [])
    return {
        "extract_id": result.extract_id,
        "status": result.status,
        "rows": result.rows,
        "findings": len(findings) if isinstance(findings, list) else 0,
    }


def _agreements_in_use(settings: Settings) -> dict[str, Agreement]:
    """The agreements that load; a broken file's extracts are left out of the release."""
    agreements, broken = load_agreements_leniently(settings.contracts_dir)
    for error in broken:
        log.error("agreement file left out of publication: %s", error.message)
    return agreements


def run_publish(*, full_relink: bool = False) -> dict[str, object]:
    """Link every staged extract in force and publish a release (``full_relink``: score every
    pair again with a newly trained model)."""
    settings = Settings()
    engine = make_engine(settings.metadata_url)
    try:
        release = publish_release(
            settings,
            engine,
            open_keyring(settings),
            _agreements_in_use(settings),
            now=datetime.now(UTC),
            full_relink=full_relink,
        )
    finally:
        engine.dispose()
    return {
        "release_id": release.release_id,
        "people": release.people,
        "events": release.events,
        "people_in_two_or_more_sources": release.people_in_two_or_more_sources,
    }


def run_retention() -> dict[str, object]:
    """Apply every agreement's retention (the retention DAG's task); counts per zone only."""
    from hub.retention import apply_retention

    settings = Settings()
    engine = make_engine(settings.metadata_url)
    try:
        run = apply_retention(settings, engine, _agreements_in_use(settings))
    finally:
        engine.dispose()
    zones: dict[str, int] = {}
    for deletion in run.deleted:
        zones[deletion.zone] = zones.get(deletion.zone, 0) + 1
    return {"deleted": zones, "kept": len(run.kept)}


def run_delivery_check(agreement_id: str, at: datetime | None = None) -> list[str]:
    """A run of the agreement's delivery schedule at ``at``: was the period just ended delivered?
    A late feed is logged and audited (``delivery.late``); extracts still waiting to be staged
    since before ``at - MISSED_TRIGGER_AFTER`` (their trigger was missed) are returned to be
    staged now. One received since then is its landing event's run's to stage: taking it too
    would stage it twice at once on two workers."""
    from sqlalchemy import select

    from hub import audit
    from hub.agreements.registry import AgreementRegistry
    from hub.ingestion.deliveries import DeliveryState, deliveries
    from hub.store import Extract, session_scope

    settings = Settings()
    engine = make_engine(settings.metadata_url)
    try:
        agreement = get_agreement(settings.contracts_dir, agreement_id)
        # just before this due time, the period that ended is the one being checked
        checked = (at or datetime.now(UTC)) - timedelta(seconds=1)
        (status,) = deliveries([agreement], AgreementRegistry.open(settings, engine), checked)
        if status.state is DeliveryState.LATE:
            log.error(
                "feed %s from %s is late: %s", agreement.id, agreement.provider, status.reason
            )
            audit.record(
                engine,
                actor="system:delivery-check",
                action="delivery.late",
                subject=f"agreement:{agreement.id}",
                detail=status.to_json(),
            )
        with session_scope(engine) as session:
            waiting = session.execute(
                select(Extract.id, Extract.received_at)
                .where(Extract.agreement_id == agreement.id, Extract.status == "received")
                .order_by(Extract.received_at)
            ).all()
    finally:
        engine.dispose()
    cutoff = (at or datetime.now(UTC)) - MISSED_TRIGGER_AFTER
    return [extract_id for extract_id, received in waiting if as_utc(received) <= cutoff]


def still_waiting(extract_ids: list[str]) -> list[str]:
    """Those of ``extract_ids`` (a landing event's run's) still waiting to be staged: one that
    another run staged or quarantined meanwhile is not staged again (an operator re-stages an
    extract on purpose with the run's ``extract_id`` param)."""
    from sqlalchemy import select

    from hub.store import Extract, session_scope

    settings = Settings()
    engine = make_engine(settings.metadata_url)
    try:
        with session_scope(engine) as session:
            found = dict(
                session.execute(
                    select(Extract.id, Extract.status).where(Extract.id.in_(extract_ids))
                ).all()
            )
    finally:
        engine.dispose()
    skipped = [i for i in extract_ids if found.get(i) != "received"]
    for extract_id in skipped:
        log.info(
            "extract %s is %s, not waiting: not staged again", extract_id, found.get(extract_id)
        )
    return [i for i in extract_ids if found.get(i) == "received"]
