"""The partner API over real HTTP (uvicorn on loopback): uploads sealed into landing/, receipts,
idempotency, every refusal as a problem document that stores nothing, status and report only for
the partner that sent the extract, and parallel uploads each stored exactly once."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from hub import audit
from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.agreements.registry import AgreementRegistry
from hub.ingestion.api import build_router
from hub.ingestion.credentials import issue_credential, revoke_credential
from hub.pipeline.reading import read_batches
from hub.privacy.sealed import open_unsealed
from hub.store import Extract, session_scope
from hub.web.app import create_app
from tests.api_hub import ApiHub, make_api_hub
from tests.live_server import live_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "extracts"
SMALL_CSV = (FIXTURES / "police-sv-small.csv").read_bytes()
CANARY = b"Fixturewright"  # a surname in the fixture: must never rest on disk in plain text
PROBLEM = "application/problem+json"
CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ApiHub]:
    api_hub = make_api_hub(tmp_path)
    yield api_hub
    api_hub.engine.dispose()


def _app(hub: ApiHub, max_bytes: int | None = None) -> FastAPI:
    if max_bytes is None:
        return create_app(hub.settings)
    return create_app(hub.settings.model_copy(update={"max_upload_bytes": max_bytes}))


@pytest.fixture
def api(hub: ApiHub) -> Iterator[str]:
    with live_server(_app(hub)) as base_url:
        yield base_url


def _client(base_url: str, token: str | None) -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=base_url, headers=headers, timeout=60)


def _upload(
    base_url: str,
    token: str | None,
    body: bytes,
    agreement: str = "police-sv",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    with _client(base_url, token) as client:
        return client.post(
            f"/api/v1/agreements/{agreement}/extracts", content=body, headers=headers or CSV
        )


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    document = json.loads(response.text)
    assert document["status"] == status
    assert document["code"] == code
    assert str(document["type"]).endswith(code)
    assert document["title"] and document["detail"]
    assert CANARY.decode() not in response.text
    return dict(document)


# -- the happy path ----------------------------------------------------------------------------


def test_an_upload_is_sealed_into_landing_and_receipted(hub: ApiHub, api: str) -> None:
    response = _upload(api, hub.police, SMALL_CSV, headers={"Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["agreement_id"] == "police-sv"
    assert receipt["agreement_version"] == 1
    assert receipt["size_bytes"] == len(SMALL_CSV)
    assert receipt["rows_estimate"] == 3
    assert receipt["status"] == "received"
    assert receipt["extract_id"].startswith("ext-")
    assert f"/api/v1/extracts/{receipt['extract_id']}" in receipt["next"]
    assert response.headers["location"] == f"/api/v1/extracts/{receipt['extract_id']}"
    assert receipt["sha256"] == hashlib.sha256(SMALL_CSV).hexdigest()

    (landed,) = hub.landing_files()
    assert landed.read_bytes().startswith(b"SVDSEAL1")
    for path in hub.settings.data_dir.rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_bytes(), f"plain text on disk: {path}"
    assert hub.spooled() == []
    agreement = get_agreement(hub.settings.contracts_dir, "police-sv")
    rows = sum(b.num_rows for b in read_batches(landed, hub.keyring, agreement))
    assert rows == 3  # the sealed file is the upload, readable by the pipeline

    again = _upload(api, hub.police, SMALL_CSV)
    assert again.status_code == 200, again.text
    assert again.json() == receipt
    assert len(hub.landing_files()) == 1
    assert hub.extracts() == 1
    actions = [e.action for e in audit.entries(hub.engine)]
    assert actions.count("extract.received") == 2


def test_a_parquet_extract_is_checked_from_its_footer_and_sealed(hub: ApiHub, api: str) -> None:
    agreement = get_agreement(hub.settings.contracts_dir, "youth-justice")
    approve_for_development(hub.settings, hub.engine, [agreement])
    _, token = issue_credential(hub.engine, "merseyvale-yjs", "ChildView export")
    table = pa.table({name: [f"v{i}" for i in range(250)] for name in agreement.received_fields})
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=100)
    body = out.getvalue()
    parquet = {"Content-Type": "application/vnd.apache.parquet"}
    response = _upload(api, token, body, "youth-justice", headers=parquet)
    assert response.status_code == 201, response.text
    assert response.json()["rows_estimate"] == 250
    (landed,) = hub.landing_files()
    assert open_unsealed(landed, hub.keyring).read() == body
    short = pa.table({name: ["x"] for name in agreement.received_fields[1:]})
    out = io.BytesIO()
    pq.write_table(short, out)
    document = _problem(
        _upload(api, token, out.getvalue(), "youth-justice", headers=parquet),
        422,
        "header_mismatch",
    )
    assert document["field"] == agreement.received_fields[0]
    _problem(
        _upload(api, token, body[:-10], "youth-justice", headers=parquet), 422, "parquet_invalid"
    )
    assert len(hub.landing_files()) == 1


def test_a_bom_and_octet_stream_are_accepted(hub: ApiHub, api: str) -> None:
    response = _upload(
        api,
        hub.police,
        b"\xef\xbb\xbf" + SMALL_CSV,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["rows_estimate"] == 3


# -- refusals ----------------------------------------------------------------------------------


def test_no_bad_or_revoked_credential_is_401(hub: ApiHub, api: str) -> None:
    for token in (None, "svdhub_pk_0123456789abcdef_nope", hub.police + "x"):
        response = _upload(api, token, SMALL_CSV)
        _problem(response, 401, "unauthorised")
        assert response.headers["www-authenticate"].startswith("Bearer")
    revoke_credential(hub.engine, hub.police_id)
    _problem(_upload(api, hub.police, SMALL_CSV), 401, "unauthorised")
    hub.assert_nothing_stored()


def test_another_partners_agreement_is_403_and_audited(hub: ApiHub, api: str) -> None:
    document = _problem(_upload(api, hub.hospitals, SMALL_CSV), 403, "not_your_agreement")
    assert document["agreement"] == "police-sv"
    assert "merseyvale-police" in str(document["detail"])
    hub.assert_nothing_stored()
    refused = [e for e in audit.entries(hub.engine) if e.action == "upload.refused"]
    assert refused and refused[0].detail["sender"] == "merseyvale-hospitals"


def test_an_agreement_not_in_force_is_403(hub: ApiHub, api: str) -> None:
    registry = AgreementRegistry.open(hub.settings, hub.engine)
    registry.suspend("police-sv", 1, "merseyvale-police", "test", "a data breach is investigated")
    document = _problem(_upload(api, hub.police, SMALL_CSV), 403, "agreement_not_in_force")
    assert "suspended" in str(document["detail"])
    _, education = issue_credential(hub.engine, "merseyvale-education", "MIS")
    _problem(_upload(api, education, SMALL_CSV, "schools"), 403, "agreement_not_in_force")
    hub.assert_nothing_stored()


def test_an_agreement_suspended_during_an_upload_refuses_it_at_the_end(
    hub: ApiHub, api: str
) -> None:
    header, rest = SMALL_CSV.split(b"\n", 1)

    def body() -> Iterator[bytes]:
        yield header + b"\n"
        deadline = time.monotonic() + 10
        while not hub.spooled():  # the hub has checked the agreement and is streaming
            assert time.monotonic() < deadline
            time.sleep(0.01)
        AgreementRegistry.open(hub.settings, hub.engine).suspend(
            "police-sv", 1, "merseyvale-police", "test", "the partner's feed is investigated"
        )
        yield rest

    with _client(api, hub.police) as client:
        response = client.post("/api/v1/agreements/police-sv/extracts", content=body(), headers=CSV)
    document = _problem(response, 403, "agreement_not_in_force")
    assert "suspended" in str(document["detail"])
    hub.assert_nothing_stored()


def test_an_unknown_agreement_is_404(hub: ApiHub, api: str) -> None:
    document = _problem(_upload(api, hub.police, SMALL_CSV, "no-such-agreement"), 404, "not_found")
    assert document["agreement"] == "no-such-agreement"
    hub.assert_nothing_stored()


def test_a_format_other_than_the_agreements_is_415(hub: ApiHub, api: str) -> None:
    for content_type in ("application/x-ndjson", "application/json", "text/csv; charset=latin-1"):
        response = _upload(api, hub.police, SMALL_CSV, headers={"Content-Type": content_type})
        assert response.status_code == 415, response.text
        assert response.json()["agreement"] == "police-sv"
    _problem(
        _upload(api, hub.police, SMALL_CSV, headers={"Content-Type": "application/x-ndjson"}),
        415,
        "format_mismatch",
    )
    hub.assert_nothing_stored()


def test_missing_and_unexpected_columns_are_422_and_named(hub: ApiHub, api: str) -> None:
    header, _, rest = SMALL_CSV.partition(b"\n")
    extra = header + b",shoe_size\n" + rest.replace(b"\n", b",42\n")
    document = _problem(_upload(api, hub.police, extra), 422, "header_mismatch")
    assert (document["field"], document["rule"]) == ("shoe_size", "unexpected_column")
    assert "shoe_size" in str(document["detail"])

    columns = header.decode().split(",")
    missing = ",".join(c for c in columns if c != "person_urn").encode() + b"\n"
    document = _problem(_upload(api, hub.police, missing), 422, "header_mismatch")
    assert (document["field"], document["rule"]) == ("person_urn", "missing_column")
    hub.assert_nothing_stored()


def test_bad_utf8_is_422_with_its_row(hub: ApiHub, api: str) -> None:
    lines = SMALL_CSV.split(b"\n")
    lines[2] = lines[2].replace(b"Bram", b"Br\xe9m")  # Latin-1, not UTF-8
    document = _problem(_upload(api, hub.police, b"\n".join(lines)), 422, "encoding_invalid")
    assert (document["row"], document["rule"]) == (2, "utf8")
    assert "line 3" in str(document["detail"])
    hub.assert_nothing_stored()


def test_an_empty_file_is_422(hub: ApiHub, api: str) -> None:
    _problem(_upload(api, hub.police, b""), 422, "empty_file")
    hub.assert_nothing_stored()


def test_a_file_over_the_size_limit_is_413(hub: ApiHub) -> None:
    with live_server(_app(hub, max_bytes=len(SMALL_CSV) - 1)) as base_url:
        document = _problem(_upload(base_url, hub.police, SMALL_CSV), 413, "too_large")
        assert document["rule"] == "max_bytes"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
            yield SMALL_CSV[:100]
            yield SMALL_CSV[100:]

        with _client(base_url, hub.police) as client:
            response = client.post(
                "/api/v1/agreements/police-sv/extracts", content=chunks(), headers=CSV
            )
        _problem(response, 413, "too_large")
        assert _upload(base_url, hub.police, SMALL_CSV[:200]).status_code == 422  # cut header
    hub.assert_nothing_stored()


def test_api_routing_errors_are_problem_documents_and_pages_stay_html(
    hub: ApiHub, api: str
) -> None:
    with _client(api, hub.police) as client:
        _problem(client.get("/api/v1/nowhere"), 404, "no_such_route")
        _problem(client.get("/api/v1/agreements/police-sv/extracts"), 405, "method_not_allowed")
        _problem(client.get("/api/v1/extracts/not-an-id"), 422, "request_invalid")
        page = client.get("/no-such-page")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")


# -- status and report -------------------------------------------------------------------------


def test_status_and_report_only_for_the_partner_that_sent_it(hub: ApiHub, api: str) -> None:
    extract_id = _upload(api, hub.police, SMALL_CSV).json()["extract_id"]
    with _client(api, hub.police) as client:
        status = client.get(f"/api/v1/extracts/{extract_id}")
        assert status.status_code == 200, status.text
        assert status.json()["status"] == "received"
        assert status.json()["sha256"]
        with session_scope(hub.engine) as session:
            record = session.get(Extract, extract_id)
            assert record is not None
            record.report = {"rows": 3, "findings": [{"column": "sex", "rule": "x", "rows": [2]}]}
        report = client.get(f"/api/v1/extracts/{extract_id}/report")
        assert report.status_code == 200, report.text
        assert report.json()["report"]["findings"][0]["rows"] == [2]
        _problem(
            client.get("/api/v1/extracts/ext-000000000000000000000000"), 404, "extract_not_found"
        )
    with _client(api, hub.hospitals) as other:
        for path in (f"/api/v1/extracts/{extract_id}", f"/api/v1/extracts/{extract_id}/report"):
            _problem(other.get(path), 404, "extract_not_found")
    refused = [e for e in audit.entries(hub.engine) if e.action == "access.refused"]
    assert len(refused) == 2
    assert refused[0].subject == f"extract:{extract_id}"
    with _client(api, None) as anonymous:
        _problem(anonymous.get(f"/api/v1/extracts/{extract_id}"), 401, "unauthorised")


# -- concurrency -------------------------------------------------------------------------------


def test_fifty_parallel_uploads_are_each_stored_exactly_once(hub: ApiHub, api: str) -> None:
    """40 different files and 10 sent twice at the same moment: 40 extracts, each landing file
    unseals to exactly the bytes sent, and each twin pair shares one receipt."""

    def variant(n: int) -> bytes:
        return SMALL_CSV.replace(b"MV/24/000102", f"MV/24/{n:06d}".encode()) + (
            b"MV/24/999999,URN9,,Victim,Ada,Fixturewright,04/05/1998,F,ZZ99 3AA,2026-01-04,"
            b"22:15,2026-01-05,Violence with injury,005/01,Y,N,N,Y,Y,Y,E01099901,\n" * (n % 7)
        )

    distinct = [variant(1000 + n) for n in range(40)]
    bodies = distinct + distinct[:10]
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda body: _upload(api, hub.police, body), bodies))
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    receipts = [r.json() for r in responses]
    assert [r["sha256"] for r in receipts] == [hashlib.sha256(b).hexdigest() for b in bodies]
    assert [r["extract_id"] for r in receipts[40:]] == [r["extract_id"] for r in receipts[:10]]
    assert sorted(r.status_code for r in responses).count(201) == 40
    assert hub.extracts() == 40
    assert len(hub.landing_files()) == 40
    assert hub.spooled() == []
    by_id = {r["extract_id"]: body for r, body in zip(receipts, bodies, strict=True)}
    for landed in hub.landing_files():
        assert open_unsealed(landed, hub.keyring).read() == by_id[landed.stem]


def test_the_api_routes_are_registered_once() -> None:
    paths = [r.path for r in build_router(max_bytes=1).routes if isinstance(r, APIRoute)]
    assert sorted(paths) == sorted(set(paths))


# -- late and missing deliveries ----------------------------------------------------------------


def test_a_partner_sees_its_own_feeds_and_when_they_are_due(hub: ApiHub, api: str) -> None:
    with _client(api, hub.police) as client:
        before = client.get("/api/v1/deliveries")
        assert before.status_code == 200, before.text
        feeds = before.json()["feeds"]
        assert [f["agreement_id"] for f in feeds] == ["police-sv"]
        assert feeds[0]["state"] in ("due", "late")
        assert feeds[0]["due_at"] and feeds[0]["last_received_at"] is None
        assert before.json()["late"] == (feeds[0]["state"] == "late")
        assert _upload(api, hub.police, SMALL_CSV).status_code == 201
        after = client.get("/api/v1/deliveries").json()
        assert [(f["agreement_id"], f["state"]) for f in after["feeds"]] == [
            ("police-sv", "received")
        ]
        assert after["late"] == 0
        assert client.get("/api/v1/deliveries", params={"state": "late"}).json()["feeds"] == []
        _problem(client.get("/api/v1/deliveries", params={"state": "lost"}), 422, "request_invalid")
    with _client(api, hub.hospitals) as other:
        theirs = other.get("/api/v1/deliveries").json()
        assert theirs["partner"] == "merseyvale-hospitals"
        assert [f["agreement_id"] for f in theirs["feeds"]] == ["ed-assaults"]
    with _client(api, None) as anonymous:
        _problem(anonymous.get("/api/v1/deliveries"), 401, "unauthorised")


def test_a_provider_reads_its_feeds_quality_history(hub: ApiHub, api: str) -> None:
    assert _upload(api, hub.police, SMALL_CSV).status_code == 201
    with _client(api, hub.police) as client:
        response = client.get("/api/v1/agreements/police-sv/quality")
        assert response.status_code == 200, response.text
        history = response.json()
        assert history["agreement_id"] == "police-sv"
        extracts = [e for p in history["periods"] for e in p["extracts"]]
        assert [e["status"] for e in extracts] == ["received"]
        _problem(client.get("/api/v1/agreements/ed-assaults/quality"), 403, "not_your_agreement")
        _problem(client.get("/api/v1/agreements/nothing-here/quality"), 404, "not_found")
        assert CANARY.decode() not in response.text
