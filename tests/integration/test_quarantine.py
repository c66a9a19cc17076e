"""Quarantine moves an extract's sealed file (the same ciphertext) into quarantine/, records why,
audits it, and can release it back to landing/."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import audit
from hub.agreements import get_agreement
from hub.pipeline.landing import receive_extract
from hub.pipeline.quarantine import quarantine_extract, release_from_quarantine
from hub.pipeline.reading import read_batches
from hub.store import Extract, session_scope
from tests.api_hub import ApiHub, make_api_hub

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    hub = make_api_hub(tmp_path)
    yield hub
    hub.engine.dispose()


def test_quarantine_and_release_move_the_sealed_file_only(hub: ApiHub) -> None:
    police = get_agreement(hub.settings.contracts_dir, "police-sv")
    record = receive_extract(
        hub.settings,
        hub.engine,
        hub.keyring,
        police,
        sender_org="merseyvale-police",
        source=io.BytesIO(FIXTURE.read_bytes()),
        source_name="x.csv",
    )
    (landed,) = hub.landing_files()
    ciphertext = landed.read_bytes()
    report = {"critical": [{"column": "offence_date", "rule": "not_in_future", "count": 1}]}
    held = quarantine_extract(hub.settings, hub.engine, record.id, report, rows=3)
    assert held is not None and held.recorded == f"quarantine/police-sv/{landed.name}"
    assert held.read_bytes() == ciphertext  # still sealed: the same bytes, moved
    assert hub.landing_files() == []
    assert sum(b.num_rows for b in read_batches(held, hub.keyring, police)) == 3
    with session_scope(hub.engine) as session:
        stored = session.get(Extract, record.id)
        assert stored is not None
        assert (stored.status, stored.report) == ("quarantined", report)
        assert stored.landing_path == held.recorded
    (entry,) = [e for e in audit.entries(hub.engine) if e.action == "extract.quarantined"]
    assert entry.detail == {"agreement": "police-sv", "rows": 3, "critical_rules": 1}

    again = quarantine_extract(hub.settings, hub.engine, record.id, report, rows=3)
    assert again == held  # idempotent

    release_from_quarantine(hub.settings, hub.engine, record.id)
    (back,) = hub.landing_files()
    assert back.read_bytes() == ciphertext and not held.exists()
