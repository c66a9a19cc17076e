"""Retention, Data Docs and the analysts' access with every zone on a real S3-compatible server
(moto's, in its own process; ``HUB_STORAGE=s3``): retention deletes objects from the buckets
(a release's manifest with it, and this machine's copy of it), once; Data Docs are placed in the
quality bucket and served from there, never a file outside the extract's docs; an analyst's
query and measures over a release in the published bucket give the same controlled answer as
over the same release on local folders, read from a local copy fetched only when needed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from sqlalchemy import Engine

from hub import audit
from hub.agreements import Agreement, get_agreement, load_agreements
from hub.agreements.development import approve_for_development
from hub.agreements.registry import AgreementRegistry
from hub.analysis.sandbox import QueryRefusedError
from hub.analysis.service import Analysis
from hub.errors import NotFoundError
from hub.ingestion.credentials import issue_credential
from hub.pipeline.landing import receive_extract
from hub.pipeline.process import process_extract
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import Keyring, init_keyring
from hub.publication.release import PublishedRelease, publish_release
from hub.quality.served import data_docs_file
from hub.retention import apply_retention
from hub.settings import ZONES, Settings
from hub.storage import zone_store
from hub.store import Extract, make_engine, session_scope, upgrade
from hub.web.app import create_app
from tests.analyst_hub import VRP_ANALYST
from tests.api_hub import write_postcode_lookup
from tests.conftest import FIXTURES
from tests.live_server import live_server
from tests.partnership import stage_partnership
from tests.s3_server import bucket_files

POLICE_CSV = (FIXTURES / "extracts" / "police-sv-small.csv").read_bytes()
# row 2 says the offence happened in 2099: offence_date not_in_future is critical in police-sv
BAD_CSV = POLICE_CSV.replace(
    b"MV/24/000101,URN900002,,Suspect,Bram,Fixturewright,17/11/2001,M,ZZ99 3AB,2026-01-04",
    b"MV/24/000101,URN900002,,Suspect,Bram,Fixturewright,17/11/2001,M,ZZ99 3AB,2099-01-04",
)
PROJECT = "knife-crime-profile"  # police, ED and ambulance; counts only
ROWS = 3_000
QUERIES = (
    "SELECT source, event_month FROM event",
    "SELECT local_authority FROM event WHERE flag_knife",
    "SELECT unnest(sources) AS source FROM person",
)


class S3Hub:
    """A hub on ``s3_settings`` with police-sv approved for development."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.endpoint = str(settings.s3_endpoint_url)
        self.engine: Engine = make_engine(settings.metadata_url)
        upgrade(self.engine)
        self.keyring: Keyring = init_keyring(settings)
        self.police: Agreement = get_agreement(settings.contracts_dir, "police-sv")
        approve_for_development(settings, self.engine, [self.police])
        write_postcode_lookup(settings)

    def bucket(self, zone: str) -> list[str]:
        """The objects of a zone's bucket, as keys."""
        bucket = f"{self.settings.s3_bucket_prefix}-{zone}"
        return [name.removeprefix(f"{bucket}/") for name in bucket_files(self.endpoint, bucket)]

    def receive(self, body: bytes) -> str:
        return receive_extract(
            self.settings, self.engine, self.keyring, self.police,
            sender_org=self.police.provider, source=io.BytesIO(body), source_name="x.csv",
        ).id  # fmt: skip

    def record(self, extract_id: str) -> Extract:
        with session_scope(self.engine) as session:
            found = session.get(Extract, extract_id)
            assert found is not None
            return found

    def analysis(self) -> Analysis:
        registry = AgreementRegistry.open(self.settings, self.engine)
        return Analysis(self.settings, self.engine, registry, VRP_ANALYST.email)


@pytest.fixture
def hub(s3_settings: Settings) -> Iterator[S3Hub]:
    made = S3Hub(s3_settings)
    yield made
    made.engine.dispose()


def _no_local_zone(settings: Settings) -> None:
    assert not any((settings.data_dir / zone).exists() for zone in ZONES)


# -- retention --------------------------------------------------------------------------------


def test_retention_deletes_the_objects_once_and_audits_each(hub: S3Hub) -> None:
    staged = hub.receive(POLICE_CSV)
    stage_extract(hub.settings, hub.engine, hub.keyring, hub.police, staged)
    waiting = hub.receive(POLICE_CSV.replace(b"MV/24/000102", b"MV/24/777777"))
    agreements = {"police-sv": hub.police}
    arrived = hub.record(staged).received_at.replace(tzinfo=UTC)
    days = hub.police.retention
    landed = hub.record(staged).landing_path
    assert landed is not None and landed.removeprefix("landing/") in hub.bucket("landing")
    assert any(name.startswith(f"police-sv/{staged}/") for name in hub.bucket("staging"))
    assert any(name.startswith(f"police-sv/{staged}/") for name in hub.bucket("linkage"))

    after_landing = arrived + timedelta(days=days.landing_days, minutes=1)
    dry = apply_retention(hub.settings, hub.engine, agreements, now=after_landing, dry_run=True)
    assert [(d.zone, d.path) for d in dry.deleted] == [("landing", landed)]
    assert landed.removeprefix("landing/") in hub.bucket("landing")  # a dry run deletes nothing

    run = apply_retention(hub.settings, hub.engine, agreements, now=after_landing)
    assert [(d.zone, d.subject) for d in run.deleted] == [("landing", f"extract:{staged}")]
    (left,) = hub.bucket("landing")  # the extract still waiting to be staged keeps its object
    assert hub.record(waiting).landing_path == f"landing/{left}"
    assert hub.record(staged).landing_path is None
    again = apply_retention(hub.settings, hub.engine, agreements, now=after_landing)
    assert again.deleted == []

    after_staging = arrived + timedelta(days=days.staging_days, minutes=1)
    late = apply_retention(hub.settings, hub.engine, agreements, now=after_staging)
    assert sorted((d.zone, d.path) for d in late.deleted if d.subject == f"extract:{staged}") == [
        ("linkage", f"linkage/police-sv/{staged}"),
        ("staging", f"staging/police-sv/{staged}"),
    ]
    assert not any(staged in name for name in hub.bucket("staging") + hub.bucket("linkage"))
    assert hub.record(staged).status == "expired" and hub.record(staged).staged_path is None
    assert apply_retention(hub.settings, hub.engine, agreements, now=after_staging).deleted == []
    deleted = [e for e in audit.entries(hub.engine) if e.action == "retention.deleted"]
    assert sorted(str(e.detail["zone"]) for e in deleted) == ["landing", "linkage", "staging"]
    assert audit.verify(hub.engine).ok
    _no_local_zone(hub.settings)


def test_an_old_release_goes_from_the_bucket_and_from_every_local_copy(hub: S3Hub) -> None:
    agreements = {"police-sv": hub.police}
    first = hub.receive(POLICE_CSV)
    stage_extract(hub.settings, hub.engine, hub.keyring, hub.police, first)
    now = datetime.now(UTC)
    old = publish_release(hub.settings, hub.engine, hub.keyring, agreements, now=now)
    past = now + timedelta(days=hub.police.retention.published_days, minutes=1)
    run = apply_retention(hub.settings, hub.engine, agreements, now=past)
    assert not [d for d in run.deleted if d.zone == "published"]
    assert any(old.release_id in reason and "CURRENT" in reason for reason in run.kept)
    second = hub.receive(POLICE_CSV.replace(b"MV/24/000102", b"MV/24/888888"))
    stage_extract(hub.settings, hub.engine, hub.keyring, hub.police, second)
    new = publish_release(
        hub.settings, hub.engine, hub.keyring, agreements, now=now + timedelta(minutes=5)
    )
    assert f"{old.release_id}/manifest.json" in hub.bucket("published")
    # an analyst's query on the old release fetched a local copy of it
    analysis = hub.analysis()
    assert [r.release_id for r in analysis.releases(PROJECT)] == [new.release_id, old.release_id]
    analysis.query(PROJECT, "SELECT source FROM event", release_id=old.release_id)
    copy = hub.settings.cache_dir / "published" / old.release_id
    assert (copy / "event.parquet").is_file()

    run = apply_retention(hub.settings, hub.engine, agreements, now=past)
    assert [(d.subject, d.path) for d in run.deleted if d.zone == "published"] == [
        (f"release:{old.release_id}", f"published/{old.release_id}")
    ]
    objects = hub.bucket("published")
    assert not any(name.startswith(f"{old.release_id}/") for name in objects)
    assert f"{new.release_id}/manifest.json" in objects and "CURRENT" in objects
    assert not copy.exists()
    assert apply_retention(hub.settings, hub.engine, agreements, now=past).deleted == []

    # a copy left on another machine goes the next time that machine lists the releases
    copy.mkdir(parents=True)
    (copy / "event.parquet").write_bytes(b"left behind")
    assert [r.release_id for r in analysis.releases(PROJECT)] == [new.release_id]
    assert not copy.exists()
    with pytest.raises(NotFoundError):
        analysis.query(PROJECT, "SELECT source FROM event", release_id=old.release_id)


# -- Data Docs --------------------------------------------------------------------------------


def test_data_docs_are_placed_in_the_quality_bucket_and_served_from_it(hub: S3Hub) -> None:
    bad = hub.receive(BAD_CSV)
    stale = f"police-sv/{bad}/docs/validations/from-an-earlier-build.html"
    zone_store(hub.settings, "quality").write_text(stale, "<html>old</html>")
    result = process_extract(hub.settings, hub.engine, hub.keyring, hub.police, bad)
    assert result.status == "quarantined"
    assert result.report["data_docs"] == f"quality/police-sv/{bad}/docs/index.html"
    docs = hub.bucket("quality")
    assert f"police-sv/{bad}/docs/index.html" in docs
    assert any(n.startswith(f"police-sv/{bad}/docs/validations/") for n in docs)
    assert stale not in docs  # the earlier build's pages are replaced
    assert all(n.startswith(f"police-sv/{bad}/docs/") for n in docs)
    _no_local_zone(hub.settings)
    assert [p for p in hub.settings.work_dir.rglob("*") if p.is_file()] == []

    index = data_docs_file(hub.settings, "police-sv", bad, "")
    assert index.media_type == "text/html" and b"<html" in index.content.lower()
    page = next(n for n in docs if n.endswith(".html") and "/validations/" in n)
    inner = page.removeprefix(f"police-sv/{bad}/docs/")
    assert b"2099" not in data_docs_file(hub.settings, "police-sv", bad, inner).content

    # a second extract's docs beside the first, and a file at the bucket's root
    other = hub.receive(BAD_CSV.replace(b"MV/24/000102", b"MV/24/999999"))
    process_extract(hub.settings, hub.engine, hub.keyring, hub.police, other)
    zone_store(hub.settings, "quality").write_text("secret.txt", "not docs")
    assert data_docs_file(hub.settings, "police-sv", other, "index.html").content
    for sneaky in (
        f"../../{other}/docs/index.html",
        "../../../secret.txt",
        "/secret.txt",
        f"/police-sv/{other}/docs/index.html",
        "..\\..\\..\\secret.txt",
        "validations/../../../../secret.txt",
        "validations",  # a folder, not a page
        "no-such-page.html",
    ):
        with pytest.raises(NotFoundError):
            data_docs_file(hub.settings, "police-sv", bad, sneaky)

    _, police_token = issue_credential(hub.engine, "merseyvale-police", "Niche RMS")
    _, other_org = issue_credential(hub.engine, "merseyvale-hospitals", "ED system")
    with live_server(create_app(hub.settings)) as url:
        base = f"{url}/api/v1/extracts/{bad}/docs"
        mine = {"Authorization": f"Bearer {police_token}"}
        served = httpx.get(f"{base}/index.html", headers=mine)
        assert served.status_code == 200 and served.content == index.content
        assert served.headers["content-type"].startswith("text/html")
        assert httpx.get(f"{base}/", headers=mine).content == index.content
        assert httpx.get(f"{base}/{inner}", headers=mine).status_code == 200
        theirs = {"Authorization": f"Bearer {other_org}"}
        assert httpx.get(f"{base}/index.html", headers=theirs).status_code == 404
        for sneaky in (
            f"..%2F..%2F{other}%2Fdocs%2Findex.html",
            "..%2F..%2F..%2Fsecret.txt",
            "%2Fsecret.txt",
            "..%5C..%5C..%5Csecret.txt",
        ):
            assert httpx.get(f"{base}/{sneaky}", headers=mine).status_code == 404, sneaky


# -- the analysts' access ---------------------------------------------------------------------


def _published(base: Path, settings: Settings | None) -> tuple[Analysis, Engine, PublishedRelease]:
    """The synthetic partnership staged and published on ``settings`` (None: local folders
    under ``base``), and the analyst of ``PROJECT``."""
    settings, engine, ring, _ = stage_partnership(base, ROWS, settings=settings)
    release = publish_release(settings, engine, ring, load_agreements(settings.contracts_dir))
    registry = AgreementRegistry.open(settings, engine)
    return Analysis(settings, engine, registry, VRP_ANALYST.email), engine, release


def _cells(analysis: Analysis, sql: str) -> pa.Table:
    output = analysis.query(PROJECT, sql)
    assert output.counts is not None
    return output.counts.long()


def test_an_analysts_query_on_object_storage_equals_the_local_one(
    tmp_path: Path, s3_settings: Settings
) -> None:
    local, local_engine, _ = _published(tmp_path / "local", None)
    on_s3, engine, release = _published(tmp_path, s3_settings)

    # listing the releases reads their manifests only: nothing is fetched yet
    (view,) = on_s3.releases(PROJECT)
    assert view.release_id == release.release_id
    cache = s3_settings.cache_dir / "published" / release.release_id
    assert not cache.exists()

    for sql in QUERIES:
        expected = _cells(local, sql)
        assert expected.num_rows > 1
        assert _cells(on_s3, sql).equals(expected), sql
    measures = on_s3.measures(PROJECT)
    assert [m.id for m in measures] == [m.id for m in local.measures(PROJECT)]
    for measure in measures:
        controlled = on_s3.measure(PROJECT, measure.id).table
        reference = local.measure(PROJECT, measure.id).table
        assert controlled.cells.equals(reference.cells), measure.id
        assert controlled.grand_total == reference.grand_total
    assert on_s3.release(PROJECT).tables == local.release(PROJECT).tables

    # the sandbox read a local copy of the release, and nothing else
    assert (cache / "event.parquet").is_file() and (cache / "manifest.json").is_file()
    assert on_s3.release(PROJECT).path == cache
    for sneaky in (
        f"SELECT * FROM read_parquet('{cache}/measure_counts.parquet')",
        f"SELECT * FROM '{cache}/event.parquet'",
        f"SELECT * FROM read_parquet('{s3_settings.s3_endpoint_url}/x/event.parquet')",
    ):
        with pytest.raises(QueryRefusedError):
            on_s3.query(PROJECT, sneaky)
    _no_local_zone(s3_settings)
    local_engine.dispose()
    engine.dispose()
