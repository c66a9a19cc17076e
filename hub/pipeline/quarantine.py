"""Quarantine: an extract that failed a critical quality rule is held back, encrypted.

Its sealed file moves from ``landing/<agreement>/`` to ``quarantine/<agreement>/`` (a rename, or a
server-side copy on object storage: it stays the same ciphertext), nothing of it is staged, its
status becomes ``quarantined`` and its report says what to fix (rule, column, count, first row
numbers; never a value). The partner fixes the feed and sends the corrected file, which is a new
extract. An operator can stage a quarantined extract again (``hub extract stage``) once the cause
was on the hub's side; when it then passes, its sealed file moves back to ``landing/``. Retention
treats it as any landed file (``landing_days``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import PurePosixPath

from sqlalchemy import Engine

from hub import audit
from hub.errors import NotFoundError
from hub.settings import Settings
from hub.storage import ZoneFile, locate, zone_store
from hub.store import Extract, session_scope

log = logging.getLogger(__name__)


def _move(settings: Settings, record: Extract, zone: str) -> str | None:
    """Move the extract's sealed file into ``zone``; where it now is, as recorded (None: no
    file)."""
    source = sealed_file(settings, record.agreement_id, record.landing_path)
    if source is None:
        return None
    if source.store.zone == zone:  # already there (moved before a crash, the move not recorded)
        return source.recorded
    target = zone_store(settings, zone)
    source.store.move(source.path, target)
    return ZoneFile(target, source.path).recorded


def sealed_file(settings: Settings, agreement_id: str, recorded: str | None) -> ZoneFile | None:
    """Where an extract's sealed file is: at its recorded place, or (after a crash between moving
    it and recording the move) under the same name in the other of ``landing/`` and
    ``quarantine/``; None when it is in neither."""
    if not recorded:
        return None
    store, path = locate(settings, recorded)
    if store.exists(path):
        return ZoneFile(store, path)
    name = PurePosixPath(path).name
    for zone in ("landing", "quarantine"):
        moved = ZoneFile(zone_store(settings, zone), f"{agreement_id}/{name}")
        if moved.exists():
            return moved
    return None


def quarantine_extract(
    settings: Settings,
    engine: Engine,
    extract_id: str,
    report: dict[str, object],
    *,
    rows: int,
) -> ZoneFile | None:
    """Hold the extract back: its sealed file into ``quarantine/``, status and report recorded,
    the decision audited. Returns where the sealed file now is."""
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        if record is None:
            raise NotFoundError(f"no extract {extract_id}")
        moved = _move(settings, record, "quarantine")
        record.landing_path = moved
        record.status = "quarantined"
        record.rows = rows
        record.report = report
        record.staged_path = None
        record.updated_at = datetime.now(UTC)
        agreement_id = record.agreement_id
    critical = report.get("critical", [])
    audit.record(
        engine,
        actor="system:pipeline",
        action="extract.quarantined",
        subject=f"extract:{extract_id}",
        detail={
            "agreement": agreement_id,
            "rows": rows,
            "critical_rules": len(critical) if isinstance(critical, list) else 0,
        },
    )
    log.warning("quarantined extract %s of agreement %s", extract_id, agreement_id)
    return None if moved is None else sealed_file(settings, agreement_id, moved)


def release_from_quarantine(settings: Settings, engine: Engine, extract_id: str) -> None:
    """A quarantined extract that passed when staged again: its sealed file back to
    ``landing/`` (staging records the new status)."""
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        if record is None or not record.landing_path:
            return
        if not record.landing_path.startswith("quarantine/"):
            return
        record.landing_path = _move(settings, record, "landing")
    audit.record(
        engine,
        actor="system:pipeline",
        action="extract.released_from_quarantine",
        subject=f"extract:{extract_id}",
        detail={},
    )
