"""Publishing the linked one picture as an immutable, versioned release.

A release is written whole in a local work folder, then put into the published zone
(``hub.storage``: a local folder or a bucket) file by file as ``<id>/...``, its ``manifest.json``
last; then ``CURRENT`` is replaced to point at it. Object storage has no atomic rename of a folder,
so readers go by the manifest: a release exists once its manifest does, and a crash before that
leaves files that the next run with the same inputs writes again. Person keys in a release are
derived again with a key specific to that release, so two releases, or a release and the linkage
zone, do not join. The release id is derived from its inputs (extracts, configuration, the
probabilistic links in force, code and key versions): publishing the same inputs again is a no-op.
The manifest records the key versions used; tokens files at different pseudonymisation key versions
(a rotation not yet finished) are refused, since they would not link.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from hub.agreements.canonical import terms_digest
from hub.agreements.model import Agreement
from hub.agreements.registry import AgreementRegistry
from hub.errors import NotFoundError
from hub.files import file_sha256
from hub.linkage import LinkInput, LinkResult
from hub.linkage.config import load_linkage_config
from hub.linkage.engine import Linkage, run_linkage
from hub.privacy.bloom import ENCODING
from hub.privacy.disclosure import strictest
from hub.privacy.keys import Keyring
from hub.privacy.rotation import TOKENS_FILE, require_current_tokens
from hub.publication.definitions import flag_events, load_definitions, manifest_entry
from hub.publication.events import staged_events
from hub.publication.measures import DESCRIPTIONS as MEASURE_DESCRIPTIONS
from hub.publication.measures import (
    compute_measures,
    local_authorities,
    measure_counts,
    with_local_authorities,
)
from hub.publication.place import place_counts
from hub.publication.pseudonyms import (
    project_key_table,
    project_keys_path,
    projects_allowed,
    release_key,
    release_person_keys,
)
from hub.publication.version import code_version
from hub.settings import Settings
from hub.storage import ZoneFile, ZoneStore, zone_store
from hub.store import Extract, Release, ReleaseInput, session_scope

log = logging.getLogger(__name__)
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
MEASURE_COUNTS = "measure_counts.parquet"  # raw, never a view for analysts
# read a measure at a time: small row groups let the reader skip the other measures (at 100M
# events, 0.06 s instead of 0.27 s for the six Home Office measures; bench/query.py)
MEASURE_COUNTS_ROW_GROUP = 16_384


@dataclass(frozen=True)
class PublishedRelease:
    release_id: str
    store: ZoneStore  # the published zone
    cache: Path  # where a local copy of a release on object storage is kept
    people: int
    events: int
    people_in_two_or_more_sources: int
    manifest: dict[str, object]

    @property
    def path(self) -> Path:
        """The release's files as a local folder: the zone's own folder on a local disk, a
        copy downloaded once from object storage."""
        return self.store.mirror(self.release_id, self.cache)

    def file(self, name: str) -> ZoneFile:
        """One of the release's files, in the published zone."""
        return ZoneFile(self.store, f"{self.release_id}/{name}")


def _inputs(
    registry: AgreementRegistry, agreements: dict[str, Agreement], today: datetime
) -> list[Extract]:
    """Staged extracts whose agreement is in force today (signatures verified again)."""
    with session_scope(registry.engine) as session:
        staged = session.scalars(select(Extract).where(Extract.status == "staged")).all()
    usable = []
    for extract in staged:
        agreement = agreements.get(extract.agreement_id)
        if agreement is None or not registry.may_send(
            agreement,
            extract.sender_org,
            today.date(),
            actor="system:one-picture",
            step="publish",
        ):
            continue
        usable.append(extract)
    return sorted(usable, key=lambda e: (e.agreement_id, e.id))


def _person_table(events: pa.Table) -> pa.Table:
    grouped = events.group_by("person_key", use_threads=False).aggregate(
        [
            ("event_week", "min"),
            ("event_week", "max"),
            ("source", "distinct"),
            ("source", "count"),
            ("sex", "max"),
            ("home_area", "max"),
        ]
    )
    first_band = (
        events.sort_by([("person_key", "ascending"), ("event_week", "ascending")])
        .group_by("person_key", use_threads=False)
        .aggregate([("age_band", "first")])
    )
    # Both have one row per person: sorting aligns them (Arrow joins refuse list columns).
    table = grouped.sort_by("person_key")
    first_band = first_band.sort_by("person_key")
    return pa.table(
        {
            "person_key": table.column("person_key"),
            "sex": table.column("sex_max"),
            "age_band_at_first_event": first_band.column("age_band_first"),
            "home_area": table.column("home_area_max"),
            "first_seen_week": table.column("event_week_min"),
            "last_seen_week": table.column("event_week_max"),
            "sources": table.column("source_distinct"),
            "events": pc.cast(table.column("source_count"), pa.int32()),
        }
    )


def publish_release(
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    agreements: dict[str, Agreement],
    *,
    now: datetime | None = None,
    full_relink: bool = False,
) -> PublishedRelease:
    """Link every staged extract in force and publish the result as a new release
    (``full_relink``: score every pair again with a newly trained model)."""
    now = now or datetime.now(UTC)
    extracts = _inputs(AgreementRegistry.open(settings, engine), agreements, now)
    if not extracts:
        raise NotFoundError("nothing to publish: no staged extract under an agreement in force")
    inputs = [
        LinkInput(e.agreement_id, e.id, f"{e.agreement_id}/{e.id}/{TOKENS_FILE}") for e in extracts
    ]
    # Tokens link only under one key version: a rotation in progress must finish first.
    token_version = require_current_tokens(
        zone_store(settings, "linkage"), [i.tokens_path for i in inputs], keyring
    )
    definitions, definitions_digest = load_definitions(settings.contracts_dir)
    linkage_config, linkage_digest = load_linkage_config(settings.contracts_dir)
    linkage = run_linkage(
        settings,
        inputs,
        linkage_config,
        encoding_version=keyring.current(ENCODING).version,
        full_relink=full_relink,
        now=now,
    )
    reference = settings.reference_dir / "postcode_lsoa.csv"  # measures' local authorities
    release_id = _release_id(
        now,
        keyring,
        {
            "extracts": [e.id for e in extracts],
            "definitions": definitions_digest,
            "linkage": linkage_digest,
            "links": _links_digest(linkage),
            "areas": file_sha256(reference) if reference.is_file() else None,
        },
    )
    published = zone_store(settings, "published")
    if published.exists(f"{release_id}/{MANIFEST}"):
        _point_current(published, release_id)
        return load_release(settings, release_id)

    result = LinkResult(linkage.records, linkage.deterministic.pass_matches)
    representatives = _representatives(result, extracts)
    person_keys = release_person_keys(representatives, keyring, release_id)
    key = release_key(keyring, release_id)
    events = []
    offset = 0
    staging = zone_store(settings, "staging")
    for extract in extracts:
        count = extract.rows or 0
        staged = staging.read_parquet(f"{extract.agreement_id}/{extract.id}/data.parquet")
        events.append(
            staged_events(
                agreements[extract.agreement_id], staged, person_keys.slice(offset, count)
            )
        )
        offset += count
    areas = local_authorities(reference)
    event_table = with_local_authorities(
        flag_events(
            pa.concat_tables(events).sort_by(
                [("event_week", "ascending"), ("source", "ascending"), ("person_key", "ascending")]
            ),
            definitions,
        ),
        areas,
    )
    person_table = _person_table(event_table)
    disclosure = strictest(agreements[e.agreement_id].disclosure for e in extracts)
    place_table = place_counts(event_table, disclosure)
    measures_table = compute_measures(event_table, disclosure, areas)
    counts_table = measure_counts(event_table, areas)
    multi = int(
        pc.sum(pc.greater_equal(pc.list_value_length(person_table.column("sources")), 2)).as_py()
        or 0
    )

    # Written whole in a local work folder, then put into the zone file by file, the manifest
    # last and then the CURRENT pointer: a release exists only once its manifest does.
    settings.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix=f"{release_id}-", dir=settings.work_dir) as work:
        tmp = Path(work)
        for name, table in (
            ("event", event_table),
            ("person", person_table),
            ("place", place_table),
            ("measures", measures_table),
            ("measure_counts", counts_table),
        ):
            row_groups = (
                {"row_group_size": MEASURE_COUNTS_ROW_GROUP} if name == "measure_counts" else {}
            )
            pq.write_table(table, tmp / f"{name}.parquet", compression="zstd", **row_groups)
        projects = _write_project_keys(
            tmp, keyring, person_keys, representatives, result, extracts, agreements, now
        )
        manifest: dict[str, object] = {
            "release_id": release_id,
            "created_at": now.isoformat(timespec="seconds"),
            "code_version": code_version(),
            "key_versions": {
                "pseudonymisation": token_version,
                "release": key.version,
            },
            "inputs": [
                {
                    "extract_id": e.id,
                    "agreement_id": e.agreement_id,
                    "agreement_version": e.agreement_version,
                    "agreement_digest": terms_digest(agreements[e.agreement_id]),
                    "sha256": e.sha256,
                    "rows": e.rows,
                    "token_key_version": token_version,
                    "received_at": e.received_at.isoformat(timespec="seconds"),
                    "quality": _quality_carried(e.report),
                }
                for e in extracts
            ],
            "tables": {
                "event": {
                    "rows": event_table.num_rows,
                    "sha256": file_sha256(tmp / "event.parquet"),
                },
                "person": {
                    "rows": person_table.num_rows,
                    "sha256": file_sha256(tmp / "person.parquet"),
                },
                "place": {
                    "rows": place_table.num_rows,
                    "sha256": file_sha256(tmp / "place.parquet"),
                    "disclosure_control": disclosure.as_dict(),
                },
                "measures": {
                    "rows": measures_table.num_rows,
                    "sha256": file_sha256(tmp / "measures.parquet"),
                    "disclosure_control": disclosure.as_dict(),
                    "area": "local authority" if areas is not None else "LSOA",
                    "measures": MEASURE_DESCRIPTIONS,
                },
                "measure_counts": {
                    "rows": counts_table.num_rows,
                    "sha256": file_sha256(tmp / MEASURE_COUNTS),
                    "analyst_facing": False,
                    "note": "raw counts by measure, source, area and month, read only through the "
                    "hub's measures pages, which add up a project's sources and control them",
                },
            },
            "projects": projects,
            "serious_violence_definitions": manifest_entry(definitions, definitions_digest),
            "linkage": {
                **linkage.report,
                "people": person_table.num_rows,
                "people_in_two_or_more_sources": multi,
            },
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        manifest_sha256 = file_sha256(tmp / MANIFEST)
        published.put_tree(release_id, tmp, last=MANIFEST)
    _point_current(published, release_id)
    with session_scope(engine) as session:
        session.add(
            Release(
                id=release_id,
                created_at=now,
                path=f"published/{release_id}",
                manifest_sha256=manifest_sha256,
                people=person_table.num_rows,
                events=event_table.num_rows,
            )
        )
        session.flush()
        session.add_all(ReleaseInput(release_id=release_id, extract_id=e.id) for e in extracts)
    log.info(
        "published release %s: %d people, %d events",
        release_id,
        person_table.num_rows,
        event_table.num_rows,
    )
    return _summary(settings, release_id, manifest)


def _quality_carried(report: dict[str, object] | None) -> dict[str, object]:
    """What the extract's validation found, for the manifest: each finding's column, rule,
    severity and count (no record numbers), and each column's completeness."""
    report = report or {}
    findings = report.get("findings")
    return {
        "findings": [
            {k: f[k] for k in ("column", "rule", "severity", "count") if k in f}
            for f in (findings if isinstance(findings, list) else [])
            if isinstance(f, dict)
        ],
        "completeness": report.get("completeness", {}),
    }


def _release_id(now: datetime, keyring: Keyring, inputs: dict[str, object]) -> str:
    """The release id: its date and a digest of everything its content depends on, so
    publishing the same inputs again finds the release already there."""
    fingerprint = {
        **inputs,
        "code": code_version(),
        "keys": [keyring.current(p).label for p in ("pseudonymisation", "release")],
    }
    return f"rel-{now:%Y%m%d}-{hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()[:12]}"


def _links_digest(linkage: Linkage) -> str:
    """What the probabilistic links in force are (a full relink can change them on the same
    inputs): the digest of their record pairs and model versions."""
    digest = hashlib.sha256()
    links = linkage.links
    for name in ("extract_l", "record_l", "extract_r", "record_r", "model_version"):
        digest.update(json.dumps(links.column(name).to_pylist()).encode())
    return digest.hexdigest()


def _representatives(result: LinkResult, extracts: list[Extract]) -> pa.Array:
    """Each record's cluster representative as a string key: the cluster's earliest-received
    record (by when its extract arrived, then extract id, then row). Later extracts do not change
    it, so a longitudinal project's keys stay the same from one release to the next while the
    person's first record is kept (retention, or two people merging, can still change it)."""
    records = result.records
    by_arrival = pa.array(
        [e.id for e in sorted(extracts, key=lambda e: (_utc(e.received_at), e.id))], pa.string()
    )
    arrival = pc.index_in(records.column("extract_id"), value_set=by_arrival).to_numpy()
    order_key = (arrival.astype(np.int64) << 32) | records.column("record").to_numpy().astype(
        np.int64
    )
    _, cluster = np.unique(records.column("cluster").to_numpy(), return_inverse=True)
    first = np.full(cluster.max() + 1 if len(cluster) else 0, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, cluster, order_key)
    holder = np.empty(len(first), np.int64)
    rows = np.flatnonzero(order_key == first[cluster])
    holder[cluster[rows]] = rows
    keys = pc.binary_join_element_wise(
        records.column("agreement_id"),
        records.column("extract_id"),
        pc.cast(records.column("record"), pa.string()),
        ":",
    )
    return pc.take(keys, pa.array(holder[cluster]))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _write_project_keys(
    folder: Path,
    keyring: Keyring,
    person_keys: pa.Array,
    representatives: pa.Array,
    result: LinkResult,
    extracts: list[Extract],
    agreements: dict[str, Agreement],
    now: datetime,
) -> dict[str, object]:
    """``projects/<name>/person_keys.parquet`` for each longitudinal project in force."""
    in_force = {e.agreement_id: agreements[e.agreement_id] for e in extracts}
    written: dict[str, object] = {}
    for name, allowing in sorted(projects_allowed(in_force, now.date()).items()):
        table = project_key_table(
            person_keys,
            representatives,
            result.records.column("agreement_id"),
            keyring,
            name,
            allowing,
        )
        path = project_keys_path(folder, name)
        path.parent.mkdir(parents=True)
        pq.write_table(table, path, compression="zstd")
        written[name] = {
            "rows": table.num_rows,
            "sha256": file_sha256(path),
            "agreements": sorted(allowing),
        }
    return written


def _point_current(published: ZoneStore, release_id: str) -> None:
    published.write_text(CURRENT, release_id + "\n")


def _summary(settings: Settings, release_id: str, manifest: dict[str, object]) -> PublishedRelease:
    linkage = manifest["linkage"]
    tables = manifest["tables"]
    assert isinstance(linkage, dict) and isinstance(tables, dict)
    return PublishedRelease(
        release_id=release_id,
        store=zone_store(settings, "published"),
        cache=settings.cache_dir,
        people=int(linkage["people"]),
        events=int(tables["event"]["rows"]),
        people_in_two_or_more_sources=int(linkage["people_in_two_or_more_sources"]),
        manifest=manifest,
    )


def load_release(settings: Settings, release_id: str) -> PublishedRelease:
    """A published release, read from its manifest."""
    published = zone_store(settings, "published")
    if not published.exists(f"{release_id}/{MANIFEST}"):
        raise NotFoundError(f"no published release {release_id}")
    manifest = json.loads(published.read_text(f"{release_id}/{MANIFEST}"))
    return _summary(settings, release_id, manifest)


def current_release(settings: Settings) -> str | None:
    published = zone_store(settings, "published")
    return published.read_text(CURRENT).strip() if published.exists(CURRENT) else None
