"""Apply each agreement's retention to the zones, extract by extract and release by release.

An extract's age counts from when it was received. Per zone:

- ``landing/``: the sealed file goes ``landing_days`` after arrival, once the pipeline has
  finished with it (staged, published, rejected or expired). A file still waiting to be staged is
  kept and reported, never deleted unprocessed.
- ``staging/``: the extract's staged Parquet goes ``staging_days`` after arrival; the extract is
  then ``expired`` and no later release includes it.
- ``linkage/``: its tokens go ``linkage_days`` after arrival.
- ``quality/``: its Data Docs go with its staged data, ``staging_days`` after arrival (its report
  in the metadata keeps the findings).
- ``published/``: a release goes when the shortest ``published_days`` of the agreements of its
  inputs has passed since it was made, except the ``CURRENT`` release, which is kept (and
  reported) until a newer release replaces it.

Every deletion is written to the audit log (zone, extract or release, the rule; never a value).
Running it again deletes nothing more: it is idempotent, and ``dry_run`` lists what would go.
A run also removes the hidden temporary files of writes that a killed process left in any zone
(``.tmp-``, untouched for a day; ``ZoneStore.sweep_temporaries``).

The files are deleted through the zones' stores (``hub.storage``), so the same rules apply to
the local folders and to object storage. A release loses its ``manifest.json`` first (a release
exists only while its manifest does, so no reader starts on a half-deleted one), then its other
files, then this machine's local copy of them (``settings.cache_dir``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from hub import audit
from hub.agreements.model import Agreement
from hub.settings import ZONES, Settings
from hub.storage import locate, zone_store
from hub.store import Extract, Release, ReleaseInput, session_scope
from hub.times import as_utc

log = logging.getLogger(__name__)

ACTOR = "system:retention"
FINISHED = frozenset({"staged", "published", "rejected", "expired", "quarantined"})
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
# A hidden temporary file of a write (hub.storage) not touched for a day was left by a process
# killed part-way; a write in progress is far younger.
STALE_TEMPORARY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Deletion:
    """One thing retention removes (or, in a dry run, would remove)."""

    zone: str
    subject: str  # extract:<id> or release:<id>
    agreement_id: str | None
    path: str  # as the metadata records it: <zone>/<path inside the zone>
    rule: str  # e.g. "staging_days=2555"


@dataclass
class RetentionRun:
    at: datetime
    dry_run: bool
    deleted: list[Deletion] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # why something past its time was kept

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(timespec="seconds"),
            "dry_run": self.dry_run,
            "deleted": [vars(d) for d in self.deleted],
            "kept": self.kept,
        }


def _remove(settings: Settings, deletion: Deletion) -> None:
    """Delete the file or folder ``deletion.path`` from its zone (nothing there is fine)."""
    store, path = locate(settings, deletion.path)
    if store.exists(path):  # a file: a landed extract
        store.delete(path)
        return
    release = deletion.subject.startswith("release:")
    if release:
        store.delete(f"{path}/{MANIFEST}")  # first: the release is gone for every reader
    store.delete_tree(path)
    if release:  # this machine's copy of it, if it was read from object storage
        store.forget_mirror(path, settings.cache_dir)


def _present(settings: Settings, recorded: str) -> bool:
    """Whether anything is left of the file or folder recorded as ``recorded``."""
    store, path = locate(settings, recorded)
    return store.exists(path) or bool(store.list(path))


def _extract_deletions(
    settings: Settings, extract: Extract, agreement: Agreement, now: datetime, run: RetentionRun
) -> list[tuple[Deletion, dict[str, object]]]:
    """What of one extract is past its time, with the record changes each deletion makes."""
    age = now - as_utc(extract.received_at)
    days = agreement.retention
    found: list[tuple[Deletion, dict[str, object]]] = []
    subject = f"extract:{extract.id}"
    landing = extract.landing_path
    if landing and age >= timedelta(days=days.landing_days):
        if extract.status in FINISHED:
            found.append(
                (
                    Deletion(
                        "landing",
                        subject,
                        agreement.id,
                        landing,
                        f"landing_days={days.landing_days}",
                    ),
                    {"landing_path": None},
                )
            )
        else:
            run.kept.append(
                f"{subject}: its landed file is past landing_days={days.landing_days} but it is "
                f"still {extract.status}; it is kept until it has been staged"
            )
    zones: tuple[tuple[str, int, dict[str, object]], ...] = (
        ("staging", days.staging_days, {"staged_path": None, "status": "expired"}),
        ("linkage", days.linkage_days, {}),
        ("quality", days.staging_days, {}),
    )
    for zone, limit, changes in zones:
        folder = f"{zone}/{extract.agreement_id}/{extract.id}"
        if age < timedelta(days=limit):
            continue
        # a record still naming staged files that are gone (a run that crashed between deleting
        # them and recording it) is tidied, and the deletion audited, all the same
        untidy = zone == "staging" and extract.staged_path is not None
        if untidy or _present(settings, folder):
            deletion = Deletion(zone, subject, agreement.id, folder, f"{zone}_days={limit}")
            found.append((deletion, changes))
    return found


def _release_deletions(
    settings: Settings,
    engine: Engine,
    agreements: dict[str, Agreement],
    now: datetime,
    run: RetentionRun,
) -> list[Deletion]:
    published = zone_store(settings, "published")
    current = published.read_text(CURRENT).strip() if published.exists(CURRENT) else None
    with session_scope(engine) as session:
        releases = session.scalars(select(Release).order_by(Release.created_at)).all()
        inputs = session.execute(
            select(ReleaseInput.release_id, Extract.agreement_id).join(
                Extract, Extract.id == ReleaseInput.extract_id
            )
        ).all()
    agreements_of: dict[str, set[str]] = {}
    for release_id, agreement_id in inputs:
        agreements_of.setdefault(release_id, set()).add(agreement_id)
    found = []
    for release in releases:
        limits = [
            agreements[a].retention.published_days
            for a in agreements_of.get(release.id, set())
            if a in agreements
        ]
        if not limits or not _present(settings, release.path):
            continue
        limit = min(limits)
        if now - as_utc(release.created_at) < timedelta(days=limit):
            continue
        if release.id == current:
            run.kept.append(
                f"release:{release.id}: past published_days={limit} but it is the CURRENT "
                "release; it goes when a newer release replaces it"
            )
            continue
        found.append(
            Deletion(
                "published",
                f"release:{release.id}",
                None,
                release.path,
                f"published_days={limit}",
            )
        )
    return found


def apply_retention(
    settings: Settings,
    engine: Engine,
    agreements: dict[str, Agreement],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionRun:
    """Delete what each agreement's retention no longer allows; see the module docstring."""
    now = as_utc(now or datetime.now(UTC))
    run = RetentionRun(at=now, dry_run=dry_run)
    with session_scope(engine) as session:
        extracts = list(session.scalars(select(Extract).order_by(Extract.received_at)).all())
    for extract in extracts:
        agreement = agreements.get(extract.agreement_id)
        if agreement is None:
            run.kept.append(
                f"extract:{extract.id}: agreement {extract.agreement_id} is not in the contracts, "
                "so its retention is unknown; nothing of it was deleted"
            )
            continue
        for deletion, changes in _extract_deletions(settings, extract, agreement, now, run):
            if not dry_run:
                _delete(settings, engine, deletion, extract.id, changes)
            run.deleted.append(deletion)
    for deletion in _release_deletions(settings, engine, agreements, now, run):
        if not dry_run:
            _delete(settings, engine, deletion, None, {})
        run.deleted.append(deletion)
    if not dry_run:
        swept = sum(
            zone_store(settings, zone).sweep_temporaries(STALE_TEMPORARY_SECONDS) for zone in ZONES
        )
        if swept:
            log.warning("removed %d unfinished temporary file(s) left by a crash", swept)
    verb = "would delete" if dry_run else "deleted"
    log.info(
        "retention %s %d item(s); kept %d past their time", verb, len(run.deleted), len(run.kept)
    )
    return run


def _delete(
    settings: Settings,
    engine: Engine,
    deletion: Deletion,
    extract_id: str | None,
    changes: dict[str, object],
) -> None:
    """Remove the files first, then record it: a crash in between leaves a record pointing at
    nothing, which the next run tidies (never data without a record of its deletion)."""
    _remove(settings, deletion)
    if extract_id is not None and changes:
        with session_scope(engine) as session:
            record = session.get(Extract, extract_id)
            if record is not None:
                for name, value in changes.items():
                    setattr(record, name, value)
                record.updated_at = datetime.now(UTC)
    audit.record(
        engine,
        actor=ACTOR,
        action="retention.deleted",
        subject=deletion.subject,
        detail={"zone": deletion.zone, "path": deletion.path, "rule": deletion.rule},
    )
