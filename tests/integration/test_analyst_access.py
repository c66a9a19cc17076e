"""Analysts see only what their projects' agreements allow, through the service, the API and
``hub query``: other sources' rows, their columns and other projects are absent (not refused);
every query is audited; outputs are controlled. Runs on a real published release of a synthetic
partnership, a real HTTP server and the real command line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub import audit
from hub.accounts.tokens import authenticate_token, issue_token, revoke_token
from hub.agreements.registry import AgreementRegistry
from hub.analysis import catalogue
from hub.analysis.sandbox import QueryRefusedError
from hub.analysis.service import Analysis
from hub.cli.app import app as cli
from hub.errors import NotFoundError
from hub.publication.release import MEASURE_COUNTS
from hub.store import ApiToken, session_scope
from hub.web.app import create_app
from tests.analyst_hub import HOSPITAL_ANALYST, OUTSIDER, POLICE_DPL, VRP_ANALYST, PublishedHub
from tests.analyst_hub import published_hub as build
from tests.live_server import live_server

BY_MONTH_AND_AGE = (  # about 950 ED attendances in 20k rows: some cells small, some not
    "SELECT event_month, age_band FROM event WHERE source = 'ed-assaults'"
)
KNIFE_ED = (
    "SELECT event_month, coalesce(local_authority, home_local_authority) AS area FROM event "
    "WHERE event_type = 'ed_assault_attendance' AND flag_knife"
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> PublishedHub:
    return build(tmp_path_factory.mktemp("analysts"))


def _analysis(hub: PublishedHub, email: str) -> Analysis:
    registry = AgreementRegistry.open(hub.settings, hub.engine)
    return Analysis(hub.settings, hub.engine, registry, email)


def test_a_project_sees_only_its_agreements_rows_and_columns(hub: PublishedHub) -> None:
    health = _analysis(hub, HOSPITAL_ANALYST.email).release("health-violence-needs")
    assert health.sources == ("ambulance-assaults", "ed-assaults")
    assert "ho_offence_code" not in health.tables["event"]  # no ED or ambulance field feeds it
    assert "person_key" not in health.tables["event"]  # counts-only: no key to follow anyone
    assert "person_key" not in health.tables["person"]
    everything = pq.read_table(hub.release.path / "event.parquet")
    analysis = _analysis(hub, HOSPITAL_ANALYST.email)
    out = analysis.query("health-violence-needs", "SELECT source FROM event")
    assert out.counts is not None
    seen = dict(
        zip(*(out.counts.long().column(c).to_pylist() for c in ("source", "count")), strict=True)
    )
    assert set(seen) == {"ambulance-assaults", "ed-assaults"}
    ed = sum(1 for s in everything.column("source").to_pylist() if s == "ed-assaults")
    assert abs(seen["ed-assaults"] - ed) <= 2  # rounded to the nearest 5
    # the person view is worked out from the project's sources alone
    people = analysis.query("health-violence-needs", "SELECT unnest(sources) AS s FROM person")
    assert out.counts and people.counts
    assert set(people.counts.long().column("s").to_pylist()) <= {
        "ambulance-assaults",
        "ed-assaults",
    }


def test_a_column_or_table_outside_the_project_does_not_exist_for_it(hub: PublishedHub) -> None:
    analysis = _analysis(hub, HOSPITAL_ANALYST.email)
    for sql, name in (
        ("SELECT ho_offence_code FROM event", "ho_offence_code"),
        ("SELECT person_key FROM person", "person_key"),
        ("SELECT * FROM measures", "measures"),
    ):
        with pytest.raises(QueryRefusedError, match=name) as refused:
            analysis.query("health-violence-needs", sql)
        assert "permission" not in refused.value.message.lower()
    rows = [e for e in audit.entries(hub.engine) if e.action == "analysis.query_refused"]
    assert rows and rows[0].actor == f"user:{HOSPITAL_ANALYST.email}"


def test_linkage_counts_over_sources_a_project_does_not_see_are_not_shown(
    hub: PublishedHub,
) -> None:
    health = _analysis(hub, HOSPITAL_ANALYST.email).release("health-violence-needs")
    shown = catalogue.linkage_quality(health)
    assert shown["partial"] is True
    assert set(shown) == {"method", "partial", "probabilistic"}
    assert "people_in_two_or_more_sources" not in json.dumps(shown)
    assert "records_matched_by_pass" in json.dumps(hub.release.manifest["linkage"])


def test_another_projects_name_is_not_found_as_if_it_did_not_exist(hub: PublishedHub) -> None:
    for email in (HOSPITAL_ANALYST.email, OUTSIDER.email):
        with pytest.raises(NotFoundError, match="no project named 'knife-crime-profile'"):
            _analysis(hub, email).query("knife-crime-profile", "SELECT source FROM event")
    with pytest.raises(NotFoundError, match="no project named 'no-such-project'"):
        _analysis(hub, VRP_ANALYST.email).query("no-such-project", "SELECT 1")
    assert [p.project.name for p in _analysis(hub, OUTSIDER.email).projects()] == []


def test_counts_only_projects_cannot_take_rows_away(hub: PublishedHub) -> None:
    with pytest.raises(QueryRefusedError, match="tables of counts only"):
        _analysis(hub, VRP_ANALYST.email).query(
            "knife-crime-profile", "SELECT * FROM event", mode="rows"
        )
    with pytest.raises(QueryRefusedError, match="tables of counts only"):
        _analysis(hub, VRP_ANALYST.email).export("knife-crime-profile", "event")


def test_a_suspended_agreement_leaves_the_project_at_once(hub: PublishedHub) -> None:
    registry = AgreementRegistry.open(hub.settings, hub.engine)
    analysis = _analysis(hub, VRP_ANALYST.email)
    registry.suspend("ed-assaults", 1, "merseyvale-hospitals", "test", "data breach review")
    try:
        view = analysis.release("knife-crime-profile")
        assert "ed-assaults" not in view.sources
        ids = [m.id for m in analysis.measures("knife-crime-profile")]
        assert "ed_knife_assault" not in ids and "police_knife_sv" in ids
        out = analysis.query("knife-crime-profile", "SELECT source FROM event")
        assert out.counts and "ed-assaults" not in out.counts.long().column("source").to_pylist()
    finally:
        registry.resume("ed-assaults", 1, "merseyvale-hospitals", "test", "review closed")
    assert "ed-assaults" in analysis.release("knife-crime-profile").sources


def test_every_query_is_audited_with_its_quoted_text_blanked(hub: PublishedHub) -> None:
    _analysis(hub, VRP_ANALYST.email).query("knife-crime-profile", KNIFE_ED)
    entry = next(e for e in audit.entries(hub.engine) if e.action == "analysis.query")
    assert entry.actor == f"user:{VRP_ANALYST.email}"
    assert entry.subject == "project:knife-crime-profile"
    assert entry.detail["release"] == hub.release.release_id
    assert "ed_assault_attendance" not in json.dumps(entry.detail)
    assert "event_type = '…'" in str(entry.detail["sql"])
    assert entry.detail["cells"] >= 1 and "suppressed" in entry.detail


def test_a_measure_adds_up_only_the_projects_sources(hub: PublishedHub) -> None:
    cube = pq.read_table(hub.release.path / MEASURE_COUNTS).to_pylist()
    health = _analysis(hub, HOSPITAL_ANALYST.email)
    assert {m.id for m in health.measures("health-violence-needs")} == {
        "ed_knife_assault",
        "ed_knife_assault_under_25",
    }
    table = health.measure("health-violence-needs", "ed_knife_assault").table
    raw = sum(r["events"] for r in cube if r["measure"] == "ed_knife_assault")
    assert table.grand_total is None or abs(table.grand_total - raw) <= 2
    published = [c for c in table.cells.column("events").to_pylist() if c is not None]
    assert all(c > 7 and c % 5 == 0 for c in published)


@pytest.fixture(scope="module")
def client(hub: PublishedHub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings)) as test_client:
        yield test_client


def _token(hub: PublishedHub, email: str) -> dict[str, str]:
    _, token, _ = issue_token(hub.engine, email, "tests")
    return {"Authorization": f"Bearer {token}"}


def test_the_api_answers_json_csv_and_arrow(hub: PublishedHub, client: TestClient) -> None:
    auth = _token(hub, VRP_ANALYST.email)
    url = "/api/v1/analysis/projects/knife-crime-profile/query"
    as_json = client.post(url, json={"sql": BY_MONTH_AND_AGE}, headers=auth)
    assert as_json.status_code == 200, as_json.text
    document = as_json.json()
    assert document["columns"] == ["event_month", "age_band", "count"]
    counts = [row[2] for row in document["rows"]]
    assert None in counts and all(c is None or (c > 7 and c % 5 == 0) for c in counts)
    body = {"sql": BY_MONTH_AND_AGE}
    as_csv = client.post(url, params={"format": "csv"}, json=body, headers=auth)
    lines = as_csv.text.splitlines()
    assert lines[0] == "event_month,age_band,count" and any(ln.endswith(",[c]") for ln in lines)
    as_arrow = client.post(url, params={"format": "arrow"}, json=body, headers=auth)
    table = pa.ipc.open_stream(io.BytesIO(as_arrow.content)).read_all()
    assert table.column("count").to_pylist() == counts
    measure = client.get(
        "/api/v1/analysis/projects/knife-crime-profile/measures/ed_knife_assault", headers=auth
    ).json()
    assert measure["columns"] == ["area_code", "event_month", "events"] and measure["by_month"]


def test_the_api_refuses_a_missing_revoked_or_non_analyst_token(
    hub: PublishedHub, client: TestClient
) -> None:
    url = "/api/v1/analysis/projects"
    assert client.get(url).status_code == 401
    token_id, token, _ = issue_token(hub.engine, VRP_ANALYST.email, "soon revoked")
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    revoke_token(hub.engine, token_id)
    refused = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorised"
    lead = client.get(url, headers=_token(hub, POLICE_DPL.email))
    assert lead.status_code == 403
    hidden = client.post(
        "/api/v1/analysis/projects/knife-crime-profile/query",
        json={"sql": "SELECT 1"},
        headers=_token(hub, HOSPITAL_ANALYST.email),
    )
    assert hidden.status_code == 404 and "no project named" in hidden.json()["detail"]


def test_hub_query_gives_the_controlled_table_over_real_http(
    hub: PublishedHub, tmp_path: Path
) -> None:
    _, token, _ = issue_token(hub.engine, VRP_ANALYST.email, "cli")
    runner = CliRunner()
    with live_server(create_app(hub.settings)) as base_url:
        env = {"HUB_URL": base_url, "HUB_TOKEN": token}
        csv_out = tmp_path / "knife.csv"
        result = runner.invoke(
            cli,
            [
                "query",
                "-p",
                "knife-crime-profile",
                BY_MONTH_AND_AGE,
                "--format",
                "csv",
                "-o",
                str(csv_out),
            ],
            env=env,
        )
        assert result.exit_code == 0, result.output
        lines = csv_out.read_text().splitlines()
        assert lines[0] == "event_month,age_band,count" and any(",[c]" in ln for ln in lines)
        shown = runner.invoke(
            cli, ["query", "-p", "knife-crime-profile", BY_MONTH_AND_AGE], env=env
        )
        assert shown.exit_code == 0 and "[c]" in shown.output and "suppressed" in shown.output
        refused = runner.invoke(
            cli, ["query", "-p", "health-violence-needs", "SELECT ho_offence_code FROM event"],
            env=env,
        )  # fmt: skip
        assert refused.exit_code == 2 and "ho_offence_code" in refused.output
        assert "Traceback" not in refused.output
        listed = runner.invoke(cli, ["query", "--list"], env=env)
        assert "knife-crime-profile" in listed.output and "ed_knife_assault" in listed.output
    no_token = runner.invoke(cli, ["query", "-p", "x", "SELECT 1"], env={"HUB_TOKEN": ""})
    assert no_token.exit_code == 2 and "HUB_TOKEN" in no_token.output


def test_the_python_client_example_runs_against_the_hub(hub: PublishedHub) -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "analyst_client.py"
    _, token, _ = issue_token(hub.engine, VRP_ANALYST.email, "example")
    with live_server(create_app(hub.settings)) as base_url:
        done = subprocess.run(
            [sys.executable, str(example), "knife-crime-profile"],
            env={**os.environ, "HUB_URL": base_url, "HUB_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert "cells" in done.stdout and "suppressed" in done.stdout and "by month" in done.stdout


def test_hub_projects_list_shows_each_projects_standing(
    hub: PublishedHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = hub.settings
    for name, value in {
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_KEY_DIR": str(settings.key_dir),
        "HUB_MASTER_KEY_FILE": str(settings.master_key_file),
        "HUB_CONTRACTS_DIR": str(settings.contracts_dir),
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["projects", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "knife-crime-profile" in result.output and "counts only" in result.output
    assert "uses ed-assaults: in force; aggregate outputs allowed" in result.output
    registry = AgreementRegistry.open(hub.settings, hub.engine)
    registry.suspend("ed-assaults", 1, "merseyvale-hospitals", "test", "review")
    try:
        suspended = CliRunner().invoke(cli, ["projects", "list"], env={"COLUMNS": "200"})
        assert "not ed-assaults" in suspended.output and "suspended" in suspended.output
    finally:
        registry.resume("ed-assaults", 1, "merseyvale-hospitals", "test", "closed")


def test_an_api_token_is_stored_only_as_its_hash_and_expires(hub: PublishedHub) -> None:
    token_id, token, expires = issue_token(hub.engine, VRP_ANALYST.email, "hash only")
    secret = token.removeprefix(f"svdhub_at_{token_id}_")
    with session_scope(hub.engine) as session:
        row = session.get(ApiToken, token_id)
        assert row is not None
        stored = [str(v) for v in vars(row).values()]
    assert not any(secret in value for value in stored)
    assert authenticate_token(hub.engine, token) is not None
    assert authenticate_token(hub.engine, token, now=expires + timedelta(seconds=1)) is None
    assert authenticate_token(hub.engine, token[:-1]) is None
