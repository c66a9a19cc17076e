"""The partner API keeps its OpenAPI contract (``docs/openapi.json``) under generated input.

Schemathesis reads the committed document and sends every operation generated requests (valid
and invalid: the examples, coverage and fuzzing phases, positive and negative data) over real
HTTP to the hub under uvicorn on loopback. Each generated request is sent as it was generated
(often with a made-up bearer token), without a token, and with a valid partner token, so the
authorised code paths are reached too. An upload is also sent under the partner's own CSV
agreement, under another partner's, and under a Parquet agreement by its provider, with bodies
that reach the format, encoding, header and Parquet footer checks (CSV with the agreement's
header or a damaged one, Parquet files whole, cut or with flipped bytes, random bytes) as well
as schemathesis's own. Every response must be documented for its operation: no 5xx, a
documented status code, content type, headers and body, and every refusal an
``application/problem+json`` problem document whose ``status`` is the response's and whose
``type`` ends with its ``code``. Explicit cases check the happy paths (receipt, status, report,
deliveries) against the same document, and odd requests outside the document (unknown routes,
wrong methods, malformed tokens, over-long or non-UTF-8 path segments) get problem documents.

The run is bounded and reproducible: a fixed seed, derandomised hypothesis, a few dozen examples
per operation, no example database and hypothesis's other caches in a temporary directory
removed at exit, so nothing is written to the working directory.
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.ingestion.credentials import issue_credential
from hub.web.app import create_app
from tests.api_hub import ApiHub, make_api_hub
from tests.conftest import CONTRACTS
from tests.live_server import live_server

_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis-schemathesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

DOCUMENT: Final = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SMALL_CSV: Final = (
    Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"
).read_bytes()
CANARY: Final = "Fixturewright"  # a surname in the fixture: never in a response
UPLOAD: Final = "/api/v1/agreements/{agreement_id}/extracts"
PROBLEM: Final = "application/problem+json"
MAX_EXAMPLES: Final = 60
SEED: Final = 20260501

POLICE_FIELDS: Final = get_agreement(CONTRACTS, "police-sv").received_fields
YOUTH_FIELDS: Final = get_agreement(CONTRACTS, "youth-justice").received_fields


def _is_problem_document(ctx: Any, response: schemathesis.Response, case: Any) -> bool | None:
    """A refusal is a problem document of its own status, its ``type`` naming its ``code``,
    and quotes no row value of an upload."""
    if response.status_code < 400:
        return None
    media = (response.headers.get("content-type") or [""])[0]
    assert media.startswith(PROBLEM), f"a {response.status_code} served as {media!r}"
    document = json.loads(response.content)
    assert document["status"] == response.status_code, document
    assert str(document["type"]).endswith("/" + str(document["code"])), document
    assert CANARY not in response.text, "a row value in a problem document"
    return True


CHECKS: Final[list[CheckFunction]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    _is_problem_document,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "cache": {"enabled": False},
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)
# the extract formats are raw files: send generated bytes as they are (schemathesis would send
# nothing for text/csv, and skip the other two)
schemathesis.serializer.alias(
    ["text/csv", "application/x-ndjson", "application/vnd.apache.parquet"],
    "application/octet-stream",
)


# -- upload bodies that get past the first checks -----------------------------------------------


def _csv(header: list[str], rows: list[list[str]], bom: bool, crlf: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def _parquet(fields: tuple[str, ...], rows: int) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({name: [f"v{i}" for i in range(rows)] for name in fields}), out)
    return out.getvalue()


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    changed = bytearray(data)
    for back, value in flips:
        changed[-1 - back % len(changed)] = value
    return bytes(changed)


_headers = st.one_of(
    st.just(list(POLICE_FIELDS)),
    st.permutations(list(POLICE_FIELDS)),
    st.integers(0, len(POLICE_FIELDS) - 1).map(
        lambda i: [f for n, f in enumerate(POLICE_FIELDS) if n != i]
    ),
    st.text(max_size=8).map(lambda extra: [*POLICE_FIELDS, extra]),
    st.lists(st.text(max_size=10), max_size=5),
)
_cell = st.text(max_size=8)
_csv_bodies = st.builds(
    _csv,
    _headers,
    st.lists(st.lists(_cell, min_size=len(POLICE_FIELDS), max_size=len(POLICE_FIELDS)), max_size=3),
    st.booleans(),
    st.booleans(),
)
_GOOD_PARQUET: Final = _parquet(YOUTH_FIELDS, 3)
_parquet_bodies = st.one_of(
    st.just(_GOOD_PARQUET),
    st.just(_parquet(YOUTH_FIELDS[1:], 2)),
    st.integers(1, len(_GOOD_PARQUET) - 1).map(lambda n: _GOOD_PARQUET[:n]),
    st.lists(st.tuples(st.integers(0, 600), st.integers(0, 255)), min_size=1, max_size=4).map(
        lambda flips: _flip(_GOOD_PARQUET, flips)
    ),
)
UPLOAD_BODIES: Final = st.one_of(
    _csv_bodies,
    _csv_bodies.map(lambda body: body + b"\xff\xfe\n"),
    _parquet_bodies,
    st.binary(max_size=256),
)


@schema.hook
def before_generate_body(context: schemathesis.HookContext, strategy: Any) -> Any:
    if context.operation is not None and context.operation.path == UPLOAD:
        return st.one_of(strategy, UPLOAD_BODIES)
    return strategy


# -- the hub under test ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveApi:
    hub: ApiHub
    youth: str  # token of merseyvale-yjs (provider of youth-justice, a Parquet feed)
    url: str
    session: requests.Session


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """One hub and one server for the whole module (uploads that land are stored once each)."""
    hub = make_api_hub(tmp_path_factory.mktemp("schemathesis-hub"))
    try:
        youth_justice = get_agreement(hub.settings.contracts_dir, "youth-justice")
        approve_for_development(hub.settings, hub.engine, [youth_justice])
        _, youth = issue_credential(hub.engine, "merseyvale-yjs", "ChildView export")
        with live_server(create_app(hub.settings)) as url, requests.Session() as session:
            yield LiveApi(hub, youth, url, session)
    finally:
        hub.engine.dispose()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _send(case: schemathesis.Case, api: LiveApi, token: str | None = None) -> None:
    headers = None if token is None else _bearer(token)
    case.call_and_validate(base_url=api.url, session=api.session, headers=headers, checks=CHECKS)


@schema.parametrize()
@settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_its_contract(case: schemathesis.Case, live_api: LiveApi) -> None:
    _send(case, live_api)  # as generated: often a made-up or malformed token, or none
    if case.headers:
        case.headers.pop("Authorization", None)
    _send(case, live_api)  # no token at all
    _send(case, live_api, live_api.hub.police)  # a valid partner
    if case.operation.path == UPLOAD and isinstance(case.path_parameters, dict):
        for agreement, token in (
            ("police-sv", live_api.hub.police),  # the partner's own (CSV)
            ("ed-assaults", live_api.hub.police),  # another partner's
            ("youth-justice", live_api.youth),  # a Parquet feed, by its provider
        ):
            case.path_parameters["agreement_id"] = agreement
            _send(case, live_api, token)


# -- explicit cases: the happy paths, checked against the same document -------------------------


def _call(case: schemathesis.Case, api: LiveApi, token: str) -> schemathesis.Response:
    return case.call_and_validate(
        base_url=api.url, session=api.session, headers=_bearer(token), checks=CHECKS
    )


def test_a_receipt_status_and_report_match_the_document(live_api: LiveApi) -> None:
    police = live_api.hub.police
    upload = schema[UPLOAD]["POST"].Case(
        path_parameters={"agreement_id": "police-sv"},
        query={"filename": "police-sv-small.csv"},
        body=SMALL_CSV,
        media_type="text/csv",
    )
    first = _call(upload, live_api, police)
    assert first.status_code in (200, 201), first.text
    again = _call(upload, live_api, police)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    extract_id = first.json()["extract_id"]
    assert again.headers["location"] == [f"/api/v1/extracts/{extract_id}"]
    for path in ("/api/v1/extracts/{extract_id}", "/api/v1/extracts/{extract_id}/report"):
        case = schema[path]["GET"].Case(path_parameters={"extract_id": extract_id})
        assert _call(case, live_api, police).status_code == 200
        assert _call(case, live_api, live_api.hub.hospitals).status_code == 404
    deliveries = schema["/api/v1/deliveries"]["GET"].Case(query={"state": "received"})
    response = _call(deliveries, live_api, police)
    assert [f["agreement_id"] for f in response.json()["feeds"]] == ["police-sv"]

    parquet = schema[UPLOAD]["POST"].Case(
        path_parameters={"agreement_id": "youth-justice"},
        body=_GOOD_PARQUET,
        media_type="application/vnd.apache.parquet",
    )
    received = _call(parquet, live_api, live_api.youth)
    assert received.status_code in (200, 201), received.text
    assert received.json()["rows_estimate"] == 3


# -- odd requests outside the document ----------------------------------------------------------


def _raw(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is (no client normalising it) and read the whole response."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split()[1]), headers, body


def _assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> str:
    assert status == expected, body
    assert headers["content-type"] == PROBLEM, headers
    document = json.loads(body)
    assert document["status"] == status
    assert str(document["type"]).endswith("/" + document["code"])
    assert document["title"] and document["detail"]
    return str(document["code"])


@pytest.mark.parametrize(
    ("method", "target", "authorization", "status", "code"),
    [
        ("GET", "/api/v1/nowhere", "partner", 404, "no_such_route"),
        ("GET", "/api", None, 404, "no_such_route"),
        ("GET", "/api/", None, 404, "no_such_route"),
        ("GET", "/api/v2/extracts/ext-000000000000000000000000", "partner", 404, "no_such_route"),
        ("GET", "/api/v1/%FF%FE", "partner", 404, "no_such_route"),
        ("DELETE", "/api/v1/extracts/ext-000000000000000000000000", "partner", 405, None),
        ("PUT", "/api/v1/agreements/police-sv/extracts", "partner", 405, None),
        ("GET", "/api/v1/agreements/police-sv/extracts", "partner", 405, None),
        ("OPTIONS", "/api/v1/deliveries", None, 405, None),
        ("GET", "/api/v1/deliveries", "Bearer", 401, "unauthorised"),
        ("GET", "/api/v1/deliveries", "Bearer ", 401, "unauthorised"),
        ("GET", "/api/v1/deliveries", "Basic dXNlcjpwYXNz", 401, "unauthorised"),
        ("GET", "/api/v1/deliveries", "Bearer a b c", 401, "unauthorised"),
        ("GET", "/api/v1/deliveries", "Bearer svdhub_pk_\xe9\xff", 401, "unauthorised"),
        ("GET", "/api/v1/deliveries", "Bearer " + "x" * 8000, 401, "unauthorised"),
        ("GET", "/api/v1/deliveries", "partner+junk", 401, "unauthorised"),
        ("POST", "/api/v1/agreements/" + "a" * 101 + "/extracts", "partner", 422, None),
        ("POST", "/api/v1/agreements/%FF/extracts", "partner", 422, "request_invalid"),
        ("POST", "/api/v1/agreements/%C0%AF/extracts", "partner", 422, "request_invalid"),
        ("POST", "/api/v1/agreements/police-sv%00/extracts", "partner", 422, "request_invalid"),
        ("POST", "/api/v1/agreements/%2E%2E/extracts", "partner", 422, "request_invalid"),
        ("POST", "/api/v1/agreements/no-such-agreement/extracts", "partner", 404, "not_found"),
        ("GET", "/api/v1/extracts/%FF", "partner", 422, "request_invalid"),
        ("GET", "/api/v1/extracts/ext-%FF/report", "partner", 422, "request_invalid"),
        ("GET", "/api/v1/deliveries?state=%FF", "partner", 422, "request_invalid"),
        ("GET", "/api/v1/deliveries?state=late&state=%FF", "partner", 422, None),
    ],
)
def test_odd_requests_get_problem_documents(
    live_api: LiveApi,
    method: str,
    target: str,
    authorization: str | None,
    status: int,
    code: str | None,
) -> None:
    if authorization is not None and authorization.startswith("partner"):
        junk = authorization.removeprefix("partner").removeprefix("+")
        authorization = f"Bearer {live_api.hub.police}{junk}"
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    body = b"a,b\n" if method in ("POST", "PUT") else b""
    lines += ["Content-Type: text/csv", f"Content-Length: {len(body)}"]
    request = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body
    found = _assert_problem(*_raw(live_api.url, request), status)
    assert code is None or found == code
    assert "contracts" not in found


def test_an_unknown_agreement_names_no_server_path_or_other_agreement(live_api: LiveApi) -> None:
    with httpx.Client(base_url=live_api.url, headers=_bearer(live_api.hub.police)) as client:
        response = client.post(
            "/api/v1/agreements/no-such-agreement/extracts",
            content=SMALL_CSV,
            headers={"Content-Type": "text/csv"},
        )
    assert response.status_code == 404, response.text
    assert str(live_api.hub.settings.contracts_dir) not in response.text
    assert "ed-assaults" not in response.text
    assert response.json()["agreement"] == "no-such-agreement"


def test_a_csv_without_its_header_row_is_refused_without_quoting_it(live_api: LiveApi) -> None:
    # the first nine cells of the first row (all different, so it is not refused as a header
    # naming a column twice)
    first_row = b",".join(SMALL_CSV.split(b"\n")[1].split(b",")[:9])
    with httpx.Client(base_url=live_api.url, headers=_bearer(live_api.hub.police)) as client:
        response = client.post(
            "/api/v1/agreements/police-sv/extracts",
            content=first_row + b"\n",
            headers={"Content-Type": "text/csv"},
        )
    assert response.status_code == 422, response.text
    assert CANARY not in response.text
    assert "ZZ99" not in response.text  # the row's postcode
    assert response.json()["code"] == "header_missing"
