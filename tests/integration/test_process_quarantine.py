"""An extract through stage and Great Expectations validation: a critical failure quarantines
it (nothing staged, the sealed file in quarantine/, a report saying what to fix without any
value, Data Docs without values); a warning passes with a note; the corrected file sent again is
a new extract that is staged; re-running the quarantined one gives the same answer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.agreements import Agreement, get_agreement
from hub.agreements.development import approve_for_development
from hub.agreements.model import FieldQuality, Severity
from hub.pipeline.landing import receive_extract
from hub.pipeline.process import process_extract
from hub.store import Extract, session_scope
from hub.web.app import create_app
from tests.api_hub import ApiHub, make_api_hub, write_postcode_lookup
from tests.live_server import live_server

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"
GOOD = FIXTURE.read_bytes()
# row 2 says the offence happened in 2099: offence_date not_in_future is critical in police-sv
BAD = GOOD.replace(
    b"MV/24/000101,URN900002,,Suspect,Bram,Fixturewright,17/11/2001,M,ZZ99 3AB,2026-01-04",
    b"MV/24/000101,URN900002,,Suspect,Bram,Fixturewright,17/11/2001,M,ZZ99 3AB,2099-01-04",
)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    hub = make_api_hub(tmp_path)
    write_postcode_lookup(hub.settings)
    yield hub
    hub.engine.dispose()


def _police(hub: ApiHub) -> Agreement:
    return get_agreement(hub.settings.contracts_dir, "police-sv")


def _receive(hub: ApiHub, body: bytes) -> str:
    return receive_extract(
        hub.settings,
        hub.engine,
        hub.keyring,
        _police(hub),
        sender_org="merseyvale-police",
        source=io.BytesIO(body),
        source_name="x.csv",
    ).id


def _record(hub: ApiHub, extract_id: str) -> Extract:
    with session_scope(hub.engine) as session:
        record = session.get(Extract, extract_id)
        assert record is not None
        return record


def test_a_critical_failure_quarantines_the_extract(hub: ApiHub) -> None:
    assert BAD != GOOD
    bad = _receive(hub, BAD)
    result = process_extract(hub.settings, hub.engine, hub.keyring, _police(hub), bad)
    assert result.status == "quarantined" and result.staged is None
    record = _record(hub, bad)
    assert record.status == "quarantined"
    assert not (hub.settings.zone("staging") / "police-sv" / bad).exists()
    assert not (hub.settings.zone("linkage") / "police-sv" / bad).exists()
    assert hub.landing_files() == []
    assert record.landing_path and record.landing_path.startswith("quarantine/police-sv/")
    assert (hub.settings.data_dir / record.landing_path).read_bytes().startswith(b"SVDSEAL1")
    report = record.report or {}
    (critical,) = report["critical"]  # type: ignore[misc]
    assert (critical["column"], critical["rule"], critical["count"]) == (
        "offence_date",
        "not_in_future",
        1,
    )
    assert critical["first_rows"] == [2]
    text = str(report)
    for value in ("2099", "Fixturewright", "Bram", "ZZ99"):
        assert value not in text
    docs = hub.settings.data_dir / str(report["data_docs"])
    assert docs.name == "index.html" and docs.exists()
    for page in docs.parent.rglob("*.html"):
        assert "2099" not in page.read_text(encoding="utf-8")

    again = process_extract(hub.settings, hub.engine, hub.keyring, _police(hub), bad)
    assert again.status == "quarantined"  # re-running gives the same answer
    assert _record(hub, bad).report == report | {"data_docs": report["data_docs"]}

    fixed = _receive(hub, GOOD)  # the partner's corrected file: a new extract
    assert fixed != bad
    passed = process_extract(hub.settings, hub.engine, hub.keyring, _police(hub), fixed)
    assert passed.status == "staged"
    record = _record(hub, fixed)
    assert record.status == "staged"
    report = record.report or {}
    assert report["critical"] == [] and report["quarantined"] is False
    assert set(report["completeness"]) >= {"record", "offence_date"}  # type: ignore[arg-type]
    assert (hub.settings.zone("staging") / "police-sv" / fixed / "data.parquet").exists()


def test_data_docs_are_served_to_the_partner_that_sent_it_only(hub: ApiHub) -> None:
    bad = _receive(hub, BAD)
    process_extract(hub.settings, hub.engine, hub.keyring, _police(hub), bad)
    with live_server(create_app(hub.settings)) as url:
        own = {"Authorization": f"Bearer {hub.police}"}
        other = {"Authorization": f"Bearer {hub.hospitals}"}
        page = httpx.get(f"{url}/api/v1/extracts/{bad}/docs/index.html", headers=own)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert "2099" not in page.text
        docs = f"{url}/api/v1/extracts/{bad}/docs"
        assert httpx.get(f"{docs}/index.html", headers=other).status_code == 404
        # four levels up from the docs folder is the data directory, where hub.db is
        assert (hub.settings.data_dir / "hub.db").exists()
        sneaky = httpx.get(f"{docs}/..%2F..%2F..%2F..%2Fhub.db", headers=own)
        assert sneaky.status_code == 404
        history = httpx.get(f"{url}/api/v1/agreements/police-sv/quality", headers=own).json()
        extracts = [e for p in history["periods"] for e in p["extracts"]]
        assert [(e["status"], e["data_docs"]) for e in extracts] == [("quarantined", True)]


def test_unreadable_values_of_a_critical_field_quarantine_the_extract(hub: ApiHub) -> None:
    """A field whose quality severity is critical: a value that is not of its type would pass as
    a null (not required, and range rules skip nulls), so the conform finding itself is critical.
    A field without quality rules keeps its conform findings as warnings."""
    police = _police(hub)
    fields = tuple(
        spec.model_copy(update={"quality": FieldQuality(severity=Severity.CRITICAL)})
        if spec.name == "recorded_date"
        else spec
        for spec in police.fields
    )
    strict = police.model_copy(update={"fields": fields, "version": police.version + 1})
    approve_for_development(hub.settings, hub.engine, [strict])
    body = GOOD.replace(b",2026-01-04,22:15,2026-01-05,", b",2026-01-04,22:15,2026-13-05,", 1)
    body = body.replace(b",22:15,", b",25:99,", 1)  # offence_time: no quality rules
    assert body != GOOD
    extract_id = receive_extract(
        hub.settings, hub.engine, hub.keyring, strict, sender_org="merseyvale-police",
        source=io.BytesIO(body), source_name="x.csv",
    ).id  # fmt: skip
    result = process_extract(hub.settings, hub.engine, hub.keyring, strict, extract_id)
    assert result.status == "quarantined"
    report = _record(hub, extract_id).report or {}
    critical = report["critical"]
    assert [(c["column"], c["rule"], c["count"], c["first_rows"]) for c in critical] == [  # type: ignore[union-attr,index]
        ("recorded_date", "type:date", 1, [1])
    ]
    findings = {(f["column"], f["rule"]): f["severity"] for f in report["findings"]}  # type: ignore[union-attr,index]
    assert findings[("offence_time", "type:time")] == "warning"
