"""What the DAGs' tasks call. Each builds its settings from the environment at run time, so DAG
files stay free of database and key access at import."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from hub.agreements import Agreement, get_agreement
from hub.agreements.loader import load_agreements_leniently
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import open_keyring
from hub.publication.release import publish_release
from hub.settings import Settings
from hub.store import make_engine

log = logging.getLogger(__name__)


def run_stage(agreement_id: str, extract_id: str) -> dict[str, object]:
    """Stage one extract; returns a small summary for XCom (counts only, no values)."""
    settings = Settings()
    engine = make_engine(settings.metadata_url)
    try:
        agreement = get_agreement(settings.contracts_dir, agreement_id)
        result = stage_extract(settings, engine, open_keyring(settings), agreement, extract_id)
    finally:
        engine.dispose()
    findings = result.report.get("findings", [])
    return {
        "extract_id": result.extract_id,
        "rows": result.rows,
        "findings": len(findings) if isinstance(findings, list) else 0,
    }


def _agreements_in_use(settings: Settings) -> dict[str, Agreement]:
    """The agreements that load; a broken file's extracts are left out of the release."""
    agreements, broken = load_agreements_leniently(settings.contracts_dir)
    for error in broken:
        log.error("agreement file left out of publication: %s", error.message)
    return agreements


def run_publish() -> dict[str, object]:
    """Link every staged extract in force and publish a release."""
    settings = Settings()
    engine = make_engine(settings.metadata_url)
    try:
        release = publish_release(
            settings,
            engine,
            open_keyring(settings),
            _agreements_in_use(settings),
            now=datetime.now(UTC),
        )
    finally:
        engine.dispose()
    return {
        "release_id": release.release_id,
        "people": release.people,
        "events": release.events,
        "people_in_two_or_more_sources": release.people_in_two_or_more_sources,
    }
