"""A row-level project (its agreement's output_access allows pseudonymised rows for its access
group) gets rows, person keys, its Parquet view and, being a longitudinal project, the project
keys; an agreement that allows only aggregates to other people adds nothing to it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from hub import audit
from hub.accounts.tokens import issue_token
from hub.agreements.registry import AgreementRegistry
from hub.analysis.service import Analysis
from hub.web.app import create_app
from tests.analyst_hub import EVALUATOR, PublishedHub, published_hub

PROJECT = "youth-violence-cohort"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> PublishedHub:
    return published_hub(tmp_path_factory.mktemp("rows"), row_level=True)


@pytest.fixture
def analysis(hub: PublishedHub) -> Analysis:
    registry = AgreementRegistry.open(hub.settings, hub.engine)
    return Analysis(hub.settings, hub.engine, registry, EVALUATOR.email)


def test_only_the_agreement_allowing_rows_to_the_group_feeds_the_project(
    analysis: Analysis,
) -> None:
    (standing,) = analysis.projects()
    assert standing.sources == ("youth-justice",)
    police = next(c for c in standing.checks if c.agreement_id == "police-sv")
    assert not police.usable and "not for youth violence programme evaluation team" in police.reason


def test_rows_carry_person_keys_and_only_the_projects_events(
    hub: PublishedHub, analysis: Analysis
) -> None:
    view = analysis.release(PROJECT)
    assert view.tables["event"][0] == "person_key" and view.tables["person"][0] == "person_key"
    out = analysis.query(PROJECT, "SELECT person_key, source FROM event", mode="rows")
    assert out.rows is not None
    assert set(out.rows.table.column("source").to_pylist()) == {"youth-justice"}
    everything = pq.read_table(hub.release.path / "event.parquet", columns=["source"])
    expected = everything.column("source").to_pylist().count("youth-justice")
    assert out.rows.table.num_rows == expected
    assert all(len(k) == 32 for k in out.rows.table.column("person_key").to_pylist())
    entry = next(e for e in audit.entries(hub.engine) if e.action == "analysis.query")
    assert entry.detail["mode"] == "rows" and entry.detail["rows"] == expected


def test_the_longitudinal_projects_keys_are_a_table_of_its_view(analysis: Analysis) -> None:
    view = analysis.release(PROJECT)
    assert view.tables["project_person_keys"] == ["person_key", "project_person_key"]
    joined = analysis.query(
        PROJECT,
        "SELECT e.person_key, k.project_person_key FROM event e "
        "JOIN project_person_keys k USING (person_key)",
        mode="rows",
    )
    assert joined.rows is not None and joined.rows.table.num_rows > 0


@pytest.fixture
def client(hub: PublishedHub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings)) as test_client:
        yield test_client


def test_the_projects_view_downloads_as_parquet(hub: PublishedHub, client: TestClient) -> None:
    _, token, _ = issue_token(hub.engine, EVALUATOR.email, "R")
    auth = {"Authorization": f"Bearer {token}"}
    release = hub.release.release_id
    response = client.get(
        f"/api/v1/analysis/projects/{PROJECT}/releases/{release}/tables/event.parquet",
        headers=auth,
    )
    assert response.status_code == 200, response.text
    table = pq.read_table(io.BytesIO(response.content))
    assert set(table.column("source").to_pylist()) == {"youth-justice"}
    assert "ho_offence_code" in table.column_names and "person_key" in table.column_names
    missing = client.get(
        f"/api/v1/analysis/projects/{PROJECT}/releases/{release}/tables/place.parquet",
        headers=auth,
    )
    assert missing.status_code == 404
