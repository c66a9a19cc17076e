"""Real public data through the partner API: the data.police.uk street-level file for Merseyside
(January 2019, 1,465 rows, Open Government Licence v3.0; ``fixtures/extracts/README.md``) sent
over real HTTP under an agreement written for its format (``fixtures/agreements/
police-uk-street.yaml``), sealed into landing/, then staged by the pipeline's own step.

The file is sent byte for byte as published: each agreement field names the column it reads
(``column: Crime ID``) and is called by its field name (``crime_id``) from the read on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow.compute as pc
import pytest
from sqlalchemy import Engine

from hub.agreements import Agreement, get_agreement
from hub.agreements.development import approve_for_development
from hub.ingestion.credentials import issue_credential
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import Keyring, init_keyring
from hub.settings import Settings
from hub.store import make_engine, upgrade
from hub.web.app import create_app
from tests.conftest import CONTRACTS, FIXTURES, make_settings
from tests.live_server import live_server

REAL = FIXTURES / "extracts" / "police-uk-merseyside-2019-01-street-sample.csv"
REAL_SHA256 = "9461104f884b40b5d7a6a4d8351d89cd703f24d56ec2d8546d2912d9565ee8b8"
REAL_ROWS = 1465
PUBLISHED_COLUMNS = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
]
AGREEMENT_FILE = FIXTURES / "agreements" / "police-uk-street.yaml"
STREET = "police-uk-street"
PROVIDER = "merseyside-police"
PROBLEM = "application/problem+json"


def _real() -> bytes:
    return REAL.read_bytes()


def _crime_ids() -> list[str]:
    return [
        row["Crime ID"] for row in csv.DictReader(io.StringIO(_real().decode())) if row["Crime ID"]
    ]


@dataclass
class RealHub:
    settings: Settings
    engine: Engine
    keyring: Keyring
    merseyside: str  # token of merseyside-police (provider of police-uk-street)
    merseyvale: str  # token of merseyvale-police (provider of police-sv)

    def agreement(self, agreement_id: str = STREET) -> Agreement:
        return get_agreement(self.settings.contracts_dir, agreement_id)

    def landing_files(self) -> list[Path]:
        return sorted(p for p in self.settings.zone("landing").rglob("*") if p.is_file())

    def files(self) -> Iterator[Path]:
        return (p for p in self.settings.data_dir.rglob("*") if p.is_file())


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RealHub]:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    shutil.copy(AGREEMENT_FILE, contracts)
    shutil.copy(CONTRACTS / "police-sv.yaml", contracts)
    settings = make_settings(tmp_path, contracts_dir=contracts)
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    keyring = init_keyring(settings)
    agreements = [get_agreement(contracts, a) for a in (STREET, "police-sv")]
    outcome = approve_for_development(settings, engine, agreements)
    assert all("in force" in reason for reason in outcome.values()), outcome
    _, merseyside = issue_credential(engine, PROVIDER, "data.police.uk street-level export")
    _, merseyvale = issue_credential(engine, "merseyvale-police", "Niche RMS")
    yield RealHub(settings, engine, keyring, merseyside, merseyvale)
    engine.dispose()


@pytest.fixture
def api(hub: RealHub) -> Iterator[str]:
    with live_server(create_app(hub.settings)) as base_url:
        yield base_url


def _upload_file(base_url: str, token: str, agreement: str, path: Path) -> httpx.Response:
    """Stream ``path`` from disk as a partner system would."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    with httpx.Client(base_url=base_url, timeout=60) as client, path.open("rb") as body:
        return client.post(
            f"/api/v1/agreements/{agreement}/extracts",
            content=body,
            headers=headers,
            params={"filename": path.name},
        )


def test_the_fixture_is_the_published_file() -> None:
    published = _real()
    assert hashlib.sha256(published).hexdigest() == REAL_SHA256
    rows = list(csv.reader(io.StringIO(published.decode("utf-8"))))
    assert rows[0] == PUBLISHED_COLUMNS
    assert len(rows) - 1 == REAL_ROWS


def test_the_agreement_names_every_published_column_in_order(hub: RealHub) -> None:
    agreement = hub.agreement()
    assert agreement.provider == PROVIDER
    assert list(agreement.received_columns) == PUBLISHED_COLUMNS
    assert list(agreement.received_fields) == [
        c.lower().replace(" ", "_") for c in PUBLISHED_COLUMNS
    ]


def test_the_real_file_exactly_as_published_is_received_sealed_and_staged(
    hub: RealHub, api: str
) -> None:
    body = _real()
    extract = REAL

    response = _upload_file(api, hub.merseyside, STREET, extract)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["agreement_id"] == STREET
    assert receipt["rows_estimate"] == REAL_ROWS
    assert receipt["size_bytes"] == len(body)
    assert receipt["sha256"] == hashlib.sha256(body).hexdigest()
    assert response.headers["location"] == f"/api/v1/extracts/{receipt['extract_id']}"

    # sealed: none of the file rests on disk in plain text, not even its first row
    (landed,) = hub.landing_files()
    assert landed.read_bytes().startswith(b"SVDSEAL1")
    first_row = body.split(b"\n")[1]
    crime_ids = [c.encode() for c in _crime_ids()]
    for path in hub.files():
        data = path.read_bytes()
        assert first_row not in data, f"plain text on disk: {path}"
        assert b"On or near Cronton Road" not in data, f"plain text on disk: {path}"
        assert not any(c in data for c in crime_ids[:50]), f"a Crime ID on disk: {path}"

    again = _upload_file(api, hub.merseyside, STREET, extract)
    assert again.status_code == 200, again.text
    assert again.json() == receipt

    # the pipeline's stage step takes every row; Crime IDs only as keyed tokens in linkage/
    result = stage_extract(
        hub.settings, hub.engine, hub.keyring, hub.agreement(), receipt["extract_id"]
    )
    assert result.rows == REAL_ROWS
    assert result.report["findings"] == []
    staged = result.staged_path.read_parquet()
    assert staged.num_rows == REAL_ROWS
    assert "crime_id" not in staged.column_names and "context" not in staged.column_names
    assert {str(m) for m in pc.unique(staged["month"]).to_pylist()} == {"2019-01-01"}
    assert staged["lsoa_code"].null_count == 0
    tokens = result.tokens_path.read_parquet()
    assert tokens.num_rows == REAL_ROWS
    token_values = tokens["tok_record_id"]
    assert token_values.null_count == REAL_ROWS - len(crime_ids)  # anti-social behaviour
    assert len(pc.unique(token_values.drop_null())) == len(set(crime_ids))
    for path in hub.files():
        data = path.read_bytes()
        assert not any(c in data for c in crime_ids), f"a Crime ID in plain text: {path}"

    headers = {"Authorization": f"Bearer {hub.merseyside}"}
    with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
        status = client.get(f"/api/v1/extracts/{receipt['extract_id']}").json()
        report = client.get(f"/api/v1/extracts/{receipt['extract_id']}/report").json()
    assert (status["status"], status["rows"]) == ("staged", REAL_ROWS)
    assert report["report"]["rows"] == REAL_ROWS


def test_the_real_file_under_another_agreement_is_refused(hub: RealHub, api: str) -> None:
    # none of the file's column names is one of police-sv's: the hub takes its first line for
    # a missing header or another feed, and quotes none of it back
    response = _upload_file(api, hub.merseyvale, "police-sv", REAL)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert (problem["code"], problem["agreement"]) == ("header_missing", "police-sv")
    for column in hub.agreement("police-sv").received_fields:
        assert column in str(problem["detail"])  # the columns the partner should have sent
    assert not any(c in response.text for c in _crime_ids())  # never a value
    assert hub.landing_files() == []


def test_a_column_renamed_by_the_partner_is_refused_and_named(
    hub: RealHub, api: str, tmp_path: Path
) -> None:
    header, rows = _real().split(b"\n", 1)
    extract = tmp_path / "street.csv"
    extract.write_bytes(header.replace(b"LSOA code", b"lsoa_code") + b"\n" + rows)
    response = _upload_file(api, hub.merseyside, STREET, extract)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "header_mismatch"
    assert (problem["field"], problem["rule"]) == ("lsoa_code", "unexpected_column")
    assert "lsoa_code" in str(problem["detail"])
    assert not any(c in response.text for c in _crime_ids())
    assert hub.landing_files() == []
