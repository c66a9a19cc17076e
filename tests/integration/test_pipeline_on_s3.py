"""The whole per-extract path and publication with every zone on a real S3-compatible server
(moto's, in its own process; ``HUB_STORAGE=s3``): a synthetic partnership is received, sealed
into the landing bucket, staged into the staging and linkage buckets, linked and published into
the published bucket, and gives the same release as the same partnership on local folders.
Nothing of a zone is left on the local disk, and no raw identifier reaches any bucket."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hub.agreements import get_agreement, load_agreements
from hub.agreements.development import approve_for_development
from hub.pipeline.landing import receive_extract
from hub.pipeline.quarantine import quarantine_extract, release_from_quarantine
from hub.privacy.keys import init_keyring, open_keyring
from hub.publication.release import (
    PublishedRelease,
    current_release,
    load_release,
    publish_release,
)
from hub.settings import ZONES, Settings
from hub.storage import zone_store
from hub.store import Extract, make_engine, session_scope, upgrade
from tests.conftest import FIXTURES
from tests.partnership import stage_partnership
from tests.privacy_canary import load_identifiers, scan

ROWS = 1_500


def _zone_files(settings: Settings, zone: str) -> list[str]:
    return zone_store(settings, zone).list()


def _download_all(settings: Settings, target: Path) -> list[Path]:
    """Every object of every zone's bucket, as local files (for the privacy canary)."""
    files = []
    for zone in ZONES:
        store = zone_store(settings, zone)
        for name in store.list():
            local = target / zone / name
            store.get_file(name, local)
            files.append(local)
    return files


def _events_without_keys(release: PublishedRelease) -> list[str]:
    table = release.file("event.parquet").read_parquet().drop_columns(["person_key"])
    return sorted(repr(tuple(row.values())) for row in table.to_pylist())


@pytest.fixture
def local_and_s3(
    tmp_path: Path, s3_settings: Settings
) -> tuple[PublishedRelease, PublishedRelease, Settings]:
    local, local_engine, local_ring, _ = stage_partnership(tmp_path / "local", ROWS)
    settings, engine, ring, _ = stage_partnership(tmp_path, ROWS, settings=s3_settings)
    agreements = load_agreements(settings.contracts_dir)
    on_disk = publish_release(local, local_engine, local_ring, agreements)
    on_s3 = publish_release(settings, engine, ring, agreements)
    local_engine.dispose()
    engine.dispose()
    return on_disk, on_s3, settings


def test_a_partnership_published_on_object_storage_equals_the_local_one(
    local_and_s3: tuple[PublishedRelease, PublishedRelease, Settings], tmp_path: Path
) -> None:
    on_disk, on_s3, settings = local_and_s3
    assert (on_s3.people, on_s3.events, on_s3.people_in_two_or_more_sources) == (
        on_disk.people,
        on_disk.events,
        on_disk.people_in_two_or_more_sources,
    )
    assert _events_without_keys(on_s3) == _events_without_keys(on_disk)
    measures = [r.file("measures.parquet").read_parquet() for r in (on_disk, on_s3)]
    assert measures[0].equals(measures[1])

    # every zone is a bucket: sealed files, staged outputs, tokens, the release and its pointer
    agreements = sorted(load_agreements(settings.contracts_dir))
    landed = _zone_files(settings, "landing")
    assert [name.split("/")[0] for name in landed] == agreements
    assert all(name.endswith(".sealed") for name in landed)
    staged = _zone_files(settings, "staging")
    assert len(staged) == len(agreements) and all(n.endswith("/data.parquet") for n in staged)
    linkage = _zone_files(settings, "linkage")
    for agreement_id in agreements:
        assert any(
            n.startswith(f"{agreement_id}/") and n.endswith("/tokens.parquet") for n in linkage
        )
    published = _zone_files(settings, "published")
    assert current_release(settings) == on_s3.release_id
    assert f"{on_s3.release_id}/manifest.json" in published and "CURRENT" in published
    manifest = json.loads(
        zone_store(settings, "published").read_text(f"{on_s3.release_id}/manifest.json")
    )
    assert manifest["tables"]["event"]["rows"] == on_s3.events
    assert load_release(settings, on_s3.release_id).manifest == manifest

    # nothing of a zone on the local disk: no zone folders, the work folder left empty
    assert not any((settings.data_dir / zone).exists() for zone in ZONES)
    assert [p for p in settings.work_dir.rglob("*") if p.is_file()] == []

    # no raw identifier in any object of any bucket
    people = tmp_path / "partners" / "ground_truth" / "people.parquet"
    assert scan(_download_all(settings, tmp_path / "objects"), load_identifiers(people)) == []


def test_publishing_again_on_object_storage_finds_the_release_there(
    local_and_s3: tuple[PublishedRelease, PublishedRelease, Settings],
) -> None:
    _, on_s3, settings = local_and_s3
    before = _zone_files(settings, "published")
    engine = make_engine(settings.metadata_url)
    again = publish_release(
        settings, engine, open_keyring(settings), load_agreements(settings.contracts_dir)
    )
    engine.dispose()
    assert again.release_id == on_s3.release_id
    assert _zone_files(settings, "published") == before
    # a local copy for tools that need files (the analysts' sandbox) matches the manifest
    folder = again.path
    assert pq.read_table(folder / "event.parquet").num_rows == again.events


def test_quarantine_moves_the_sealed_object_and_back(tmp_path: Path, s3_settings: Settings) -> None:
    settings = s3_settings
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    ring = init_keyring(settings)
    police = get_agreement(settings.contracts_dir, "police-sv")
    approve_for_development(settings, engine, [police])
    body = (FIXTURES / "extracts" / "police-sv-small.csv").read_bytes()
    record = receive_extract(
        settings, engine, ring, police,
        sender_org=police.provider, source=io.BytesIO(body), source_name="x.csv",
    )  # fmt: skip
    (landed,) = _zone_files(settings, "landing")
    ciphertext = zone_store(settings, "landing").read_bytes(landed)
    held = quarantine_extract(settings, engine, record.id, {"critical": []}, rows=3)
    assert held is not None and held.recorded == f"quarantine/{landed}"
    assert _zone_files(settings, "landing") == [] and held.read_bytes() == ciphertext
    release_from_quarantine(settings, engine, record.id)
    assert _zone_files(settings, "quarantine") == []
    assert zone_store(settings, "landing").read_bytes(landed) == ciphertext
    with session_scope(engine) as session:
        stored = session.get(Extract, record.id)
        assert stored is not None and stored.landing_path == f"landing/{landed}"
    engine.dispose()
