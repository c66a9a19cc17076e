"""Retention applied to the zones: each agreement's days per zone, counted from arrival; landed
files only once processed; the CURRENT release kept; every deletion audited; a second run and a
dry run delete nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub import audit
from hub.agreements import Agreement, get_agreement
from hub.pipeline.landing import receive_extract
from hub.pipeline.process import process_extract
from hub.pipeline.stage import stage_extract
from hub.publication.release import publish_release
from hub.retention import apply_retention
from hub.store import Extract, session_scope
from tests.api_hub import ApiHub, make_api_hub, write_postcode_lookup

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    hub = make_api_hub(tmp_path)
    write_postcode_lookup(hub.settings)
    yield hub
    hub.engine.dispose()


def _police(hub: ApiHub) -> Agreement:
    return get_agreement(hub.settings.contracts_dir, "police-sv")


def _receive(hub: ApiHub, body: bytes) -> str:
    record = receive_extract(
        hub.settings,
        hub.engine,
        hub.keyring,
        _police(hub),
        sender_org="merseyvale-police",
        source=io.BytesIO(body),
        source_name="x.csv",
    )
    return record.id


def _record(hub: ApiHub, extract_id: str) -> Extract:
    with session_scope(hub.engine) as session:
        record = session.get(Extract, extract_id)
        assert record is not None
        return record


def test_each_zone_goes_after_its_agreements_days(hub: ApiHub) -> None:
    police = _police(hub)
    staged_id = _receive(hub, FIXTURE.read_bytes())
    processed = process_extract(hub.settings, hub.engine, hub.keyring, police, staged_id)
    assert processed.status == "staged" and processed.report["data_docs"]
    docs = hub.settings.zone("quality") / "police-sv" / staged_id
    assert (docs / "docs" / "index.html").is_file()
    waiting_id = _receive(hub, FIXTURE.read_bytes().replace(b"MV/24/000102", b"MV/24/777777"))
    agreements = {"police-sv": police}
    arrived = _record(hub, staged_id).received_at.replace(tzinfo=UTC)
    days = police.retention

    early = apply_retention(hub.settings, hub.engine, agreements, now=arrived + timedelta(days=1))
    assert early.deleted == []

    after_landing = arrived + timedelta(days=days.landing_days, minutes=1)
    dry = apply_retention(hub.settings, hub.engine, agreements, now=after_landing, dry_run=True)
    assert [(d.zone, d.subject) for d in dry.deleted] == [("landing", f"extract:{staged_id}")]
    assert _record(hub, staged_id).landing_path is not None  # a dry run deletes nothing

    run = apply_retention(hub.settings, hub.engine, agreements, now=after_landing)
    assert [(d.zone, d.subject, d.rule) for d in run.deleted] == [
        ("landing", f"extract:{staged_id}", f"landing_days={days.landing_days}")
    ]
    assert _record(hub, staged_id).landing_path is None
    assert len(hub.landing_files()) == 1  # the extract still waiting keeps its file
    assert any(waiting_id in reason and "still received" in reason for reason in run.kept)
    again = apply_retention(hub.settings, hub.engine, agreements, now=after_landing)
    assert again.deleted == []

    after_staging = arrived + timedelta(days=days.staging_days, minutes=1)
    late = apply_retention(hub.settings, hub.engine, agreements, now=after_staging)
    zones = sorted(d.zone for d in late.deleted if d.subject == f"extract:{staged_id}")
    assert zones == ["linkage", "quality", "staging"]  # the Data Docs go with the staged data
    assert not docs.exists()
    assert _record(hub, staged_id).status == "expired"
    assert not (hub.settings.zone("staging") / "police-sv" / staged_id).exists()
    assert not (hub.settings.zone("linkage") / "police-sv" / staged_id).exists()
    deleted = [e for e in audit.entries(hub.engine) if e.action == "retention.deleted"]
    assert len(deleted) == 4
    assert {e.actor for e in deleted} == {"system:retention"}
    assert audit.verify(hub.engine).ok


def test_the_current_release_is_kept_and_older_ones_go(hub: ApiHub) -> None:
    police = _police(hub)
    agreements = {"police-sv": police}
    first = _receive(hub, FIXTURE.read_bytes())
    stage_extract(hub.settings, hub.engine, hub.keyring, police, first)
    now = datetime.now(UTC)
    old = publish_release(hub.settings, hub.engine, hub.keyring, agreements, now=now)
    past = now + timedelta(days=police.retention.published_days, minutes=1)
    run = apply_retention(hub.settings, hub.engine, agreements, now=past)
    assert not [d for d in run.deleted if d.zone == "published"]
    assert any(old.release_id in reason and "CURRENT" in reason for reason in run.kept)

    second = _receive(hub, FIXTURE.read_bytes().replace(b"MV/24/000102", b"MV/24/888888"))
    stage_extract(hub.settings, hub.engine, hub.keyring, police, second)
    new = publish_release(
        hub.settings, hub.engine, hub.keyring, agreements, now=now + timedelta(minutes=5)
    )
    run = apply_retention(hub.settings, hub.engine, agreements, now=past)
    assert [d.subject for d in run.deleted if d.zone == "published"] == [
        f"release:{old.release_id}"
    ]
    assert not (hub.settings.zone("published") / old.release_id).exists()
    assert (hub.settings.zone("published") / new.release_id).exists()
