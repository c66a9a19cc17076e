"""Analysts' SQL runs in a sandbox holding only their project's tables and columns: no file, URL,
extension, ATTACH, COPY or SET; one SELECT at a time; time and row limits; one-line errors that
quote no row value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from hub.analysis.sandbox import QueryLimits, QueryRefusedError, Sandbox, column_views

FIXTURE = Path(__file__).parent.parent / "fixtures" / "release" / "event.csv"
ALLOWED = {"event": ["event_month", "area_code", "age_band", "flag_knife", "sv_merseyside"]}


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A small release: event.parquet from the fixture, and a person table no project here sees."""
    folder = tmp_path / "rel-test"
    folder.mkdir()
    events = pacsv.read_csv(FIXTURE)
    pq.write_table(events, folder / "event.parquet")
    people = events.group_by("person_key").aggregate([("source", "count")])
    pq.write_table(people, folder / "person.parquet")
    return folder


@pytest.fixture
def sandbox(release: Path) -> Iterator[Sandbox]:
    with Sandbox(release, column_views(release, ALLOWED), QueryLimits(rows=10, seconds=2)) as box:
        yield box


def test_a_select_runs_over_the_projects_view(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "SELECT event_month, area_code, count(*) AS events FROM event "
        "WHERE flag_knife GROUP BY ALL ORDER BY ALL"
    )
    expected = pacsv.read_csv(FIXTURE)
    knife = expected.filter(expected.column("flag_knife"))
    assert sum(result.table.column("events").to_pylist()) == knife.num_rows
    assert not result.truncated and result.seconds < 2


def test_only_the_projects_tables_and_columns_exist(sandbox: Sandbox) -> None:
    assert sandbox.tables() == {"event": ["event_month", "area_code", "age_band", "flag_knife",
                                          "sv_merseyside"]}  # fmt: skip
    with pytest.raises(QueryRefusedError, match="person_key") as column:
        sandbox.run("SELECT person_key FROM event")
    with pytest.raises(QueryRefusedError, match="person does not exist") as table:
        sandbox.run("SELECT * FROM person")
    for refused in (column.value, table.value):  # invisible, not "forbidden"
        assert "permission" not in refused.message.lower()
        assert "information_schema" in (refused.hint or "")


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("COPY event TO 'out.csv'", "only SELECT"),
        ("ATTACH 'other.db'", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("LOAD httpfs", "only SELECT"),
        ("SET enable_external_access = true", "only SELECT"),
        ("PRAGMA version", "only SELECT"),
        ("CREATE TABLE copy AS SELECT * FROM event", "only SELECT"),
        ("DELETE FROM event", "only SELECT"),
        ("SELECT 1; SELECT 2", "one statement at a time"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("SELECT * FROM read_parquet('{release}/person.parquet')", "disabled by configuration"),
        ("SELECT * FROM glob('/etc/*')", "disabled by configuration"),
        ("SELECT * FROM 'https://example.org/data.csv'", "disabled by configuration"),
        ("SELECT getenv('HOME')", "does not exist"),
        # even the release's own files are read only through the views
        ("SELECT * FROM '{release}/person.parquet'", "disabled by configuration"),
        ("SELECT * FROM parquet_scan('{release}/event.parquet')", "disabled by configuration"),
        ("SELECT * FROM duckdb_settings()", "disabled by configuration"),
        ("SELECT error('x') FROM event WHERE area_code = 'E01006514'", "disabled by configuration"),
        ("SELECT * FROM information_schema.views", "does not exist"),
        ("WITH x AS (SELECT 1) SELECT * FROM x, person", "does not exist"),
    ],
)
def test_anything_but_a_select_over_the_view_is_refused(
    sandbox: Sandbox, release: Path, sql: str, why: str
) -> None:
    with pytest.raises(QueryRefusedError, match=why) as refused:
        sandbox.run(sql.format(release=release))
    assert "\n" not in refused.value.message and refused.value.hint
    assert not list(release.parent.glob("*.csv")) and not list(Path.cwd().glob("out.csv"))
    # and the sandbox is still closed afterwards
    with pytest.raises(QueryRefusedError, match="disabled by configuration"):
        sandbox.run("SELECT * FROM read_csv('/etc/hostname')")


def test_a_long_query_is_stopped_at_the_time_limit(sandbox: Sandbox) -> None:
    with pytest.raises(QueryRefusedError, match="more than 2 s and was stopped"):
        sandbox.run("SELECT count(*) FROM range(100000000000) a")
    assert sandbox.run("SELECT count(*) AS n FROM event").table.column("n")[0].as_py() == 60


def test_results_beyond_the_row_limit_are_cut_and_say_so(sandbox: Sandbox) -> None:
    result = sandbox.run("SELECT * FROM event")
    assert result.table.num_rows == 10 and result.truncated
    assert result.table.schema.names == ALLOWED["event"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT CAST(area_code AS INTEGER) FROM event",
        "SELECT CAST(area_code AS DATE) FROM event",
        "SELECT strptime(area_code, '%Y') FROM event",
        "SELECT CAST(length(area_code) AS TINYINT) * CAST(100 AS TINYINT) FROM event",
    ],
)
def test_a_data_error_names_its_kind_and_no_value(sandbox: Sandbox, sql: str) -> None:
    with pytest.raises(QueryRefusedError) as refused:
        sandbox.run(sql)
    message = refused.value.message
    assert message.endswith("(the value is not shown)"), message
    assert not any(ch.isdigit() for ch in message) and "E0" not in message


def test_an_error_quotes_no_row_value(sandbox: Sandbox) -> None:
    with pytest.raises(QueryRefusedError) as refused:
        sandbox.run("SELECT CAST(area_code AS INTEGER) FROM event")
    areas = set(pacsv.read_csv(FIXTURE).column("area_code").to_pylist())
    assert "Conversion" in refused.value.message
    assert not [a for a in areas if a in refused.value.message]


def test_the_release_files_are_not_held_open_or_changed(release: Path) -> None:
    before = {p.name: p.read_bytes() for p in release.iterdir()}
    with Sandbox(release, column_views(release, ALLOWED)) as box:
        box.run("SELECT count(*) FROM event")
    assert {p.name: p.read_bytes() for p in release.iterdir()} == before
    assert pa.types.is_string(pq.read_schema(release / "event.parquet").field("area_code").type)
