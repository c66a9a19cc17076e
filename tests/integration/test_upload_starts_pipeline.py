"""An accepted upload starts its agreement's pipeline (``HUB_PIPELINE_TRIGGER``): in process, the
partner can follow it over the API from received to staged and read its quality report; a
trigger that cannot start (Airflow unreachable) loses nothing; extracts still waiting when the
hub starts are staged then."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.agreements import get_agreement
from hub.agreements.loader import load_agreements_leniently
from hub.pipeline.landing import receive_extract
from hub.publication.release import publish_release
from hub.settings import Settings
from hub.store import Extract, session_scope
from hub.web.app import create_app
from tests.api_hub import ApiHub, make_api_hub, write_postcode_lookup
from tests.live_server import live_server

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"
CSV = {"Content-Type": "text/csv"}
UPLOAD = "/api/v1/agreements/police-sv/extracts"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    hub = make_api_hub(tmp_path)
    write_postcode_lookup(hub.settings)
    yield hub
    hub.engine.dispose()


def _with(settings: Settings, **changes: object) -> Settings:
    """``settings`` with ``changes``, validated as the environment's would be."""
    return Settings(**{**settings.model_dump(), **changes})


def _status_until(client: httpx.Client, extract_id: str, wanted: set[str]) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        status = client.get(f"/api/v1/extracts/{extract_id}").json()
        if status["status"] in wanted or time.monotonic() > deadline:
            return dict(status)
        time.sleep(0.1)


def test_an_upload_is_staged_in_process_and_the_partner_follows_it(hub: ApiHub) -> None:
    app = create_app(_with(hub.settings, pipeline_trigger="inprocess"))
    headers = {"Authorization": f"Bearer {hub.police}"}
    with live_server(app) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        receipt = client.post(UPLOAD, content=FIXTURE.read_bytes(), headers=CSV)
        assert receipt.status_code == 201, receipt.text
        extract_id = receipt.json()["extract_id"]
        status = _status_until(client, extract_id, {"staged", "rejected"})
        assert (status["status"], status["rows"]) == ("staged", 3)
        report = client.get(f"/api/v1/extracts/{extract_id}/report").json()["report"]
        assert report["rows"] == 3
        again = client.post(UPLOAD, content=FIXTURE.read_bytes(), headers=CSV)
        assert (again.status_code, again.json()["status"]) == (200, "staged")  # not staged twice
        agreements, _ = load_agreements_leniently(hub.settings.contracts_dir)
        release = publish_release(hub.settings, hub.engine, hub.keyring, agreements)
        published = client.get(f"/api/v1/extracts/{extract_id}").json()
        assert (published["status"], published["release_id"]) == ("published", release.release_id)
    assert (hub.settings.zone("staging") / "police-sv" / extract_id).is_dir()


def test_a_pipeline_that_cannot_start_loses_nothing(hub: ApiHub) -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = _with(
        hub.settings,
        pipeline_trigger="airflow",
        airflow_api_url=nowhere,
        airflow_api_token="a-token",
        airflow_api_timeout=1.0,
    )
    headers = {"Authorization": f"Bearer {hub.police}"}
    with (
        live_server(create_app(settings)) as url,
        httpx.Client(base_url=url, headers=headers, timeout=60) as client,
    ):
        response = client.post(UPLOAD, content=FIXTURE.read_bytes(), headers=CSV)
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert receipt["status"] == "received"
        assert "could not be started" in receipt["next"]
        status = client.get(f"/api/v1/extracts/{receipt['extract_id']}").json()
        assert status["status"] == "received"
    assert hub.extracts() == 1
    assert len(hub.landing_files()) == 1


def test_extracts_still_waiting_are_staged_when_the_hub_starts(hub: ApiHub) -> None:
    agreement = get_agreement(hub.settings.contracts_dir, "police-sv")
    with FIXTURE.open("rb") as source:
        record = receive_extract(
            hub.settings,
            hub.engine,
            hub.keyring,
            agreement,
            sender_org="merseyvale-police",
            source=source,
            source_name=FIXTURE.name,
        )
    app = create_app(_with(hub.settings, pipeline_trigger="inprocess"))
    headers = {"Authorization": f"Bearer {hub.police}"}
    with live_server(app) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        status = _status_until(client, record.id, {"staged", "rejected"})
    assert status["status"] == "staged"
    with session_scope(hub.engine) as session:
        stored = session.get(Extract, record.id)
        assert stored is not None and stored.rows == 3
