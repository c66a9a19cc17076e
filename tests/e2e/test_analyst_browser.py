"""Analysts use the catalogue, the query page and the measures dashboard in real Chromium
(Debian's, driven by Playwright) against a real server holding a published release of a
20,000-row synthetic partnership (``tests.analyst_hub``).

What is tested, each through the pages as an analyst sees them:

- signing in lands an analyst on the catalogue of their own projects (and nothing of any other
  project); an analyst on no project is told so; a data protection lead is refused (403);
- the catalogue's links lead to a project's freshness, quality and linkage, a release's tables and
  columns (an ED and ambulance project has no police offence code) and the data dictionary;
- a query runs as a controlled table of counts: every count shown is rounded to 5 and above the
  threshold, or suppressed as ``[c]``; small cells are suppressed on the query page and on the
  measures dashboard, and the CSV downloads say ``[c]`` where the page does;
- a column outside the project is not found (not "forbidden"), rows are never offered to a
  counts-only project, and every query, run or refused, is in the audit log.

Chromium is required: when it is missing these tests fail rather than skip (``make test``
installs it first). Set ``HUB_CHROMIUM`` to use another binary.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from hub import audit
from hub.store import AuditEntry
from hub.web.app import create_app
from tests.analyst_hub import (
    HOSPITAL_ANALYST,
    OUTSIDER,
    PASSWORD,
    POLICE_DPL,
    VRP_ANALYST,
    Person,
    PublishedHub,
    published_hub,
)
from tests.live_server import live_server

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 15_000
KNIFE = "knife-crime-profile"
HEALTH = "health-violence-needs"
KNIFE_SOURCES = {"police-sv", "ed-assaults", "ambulance-assaults"}
HEALTH_SOURCES = {"ed-assaults", "ambulance-assaults"}
OTHER_SOURCES = ("police-sv", "schools", "youth-justice")
SUPPRESS_AT_OR_BELOW = 7
ROUND_TO = 5
ADMISSIONS_SQL = (
    "SELECT event_month, coalesce(local_authority, home_local_authority) AS area FROM event "
    "WHERE event_type = 'ed_assault_attendance' AND flag_knife"
)
SMALL_CELLS_SQL = "SELECT event_week, area_code FROM event WHERE flag_knife"
OUTSIDE_SQL = "SELECT ho_offence_code FROM event"

SignIn = Callable[[Person], Page]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublishedHub]:
    published = published_hub(tmp_path_factory.mktemp("analyst-browser"))
    try:
        yield published
    finally:
        published.engine.dispose()


@pytest.fixture(scope="module")
def base_url(hub: PublishedHub) -> Iterator[str]:
    with live_server(create_app(hub.settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def sign_in(browser: Browser, base_url: str) -> Iterator[SignIn]:
    """Signs a person in at /signin in a fresh browser context (its own cookies); every context
    is closed after the test."""
    contexts: list[BrowserContext] = []

    def signed_in(person: Person) -> Page:
        context = browser.new_context(base_url=base_url, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto("/signin")
        page.get_by_label("Email address").fill(person.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("header")).to_contain_text(person.name)
        return page

    yield signed_in
    for context in contexts:
        context.close()


# -- reading the pages ----------------------------------------------------------------------


def _texts(locator: Locator) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def _result_rows(page: Page) -> list[list[str]]:
    return [_texts(row.locator("td")) for row in page.locator("#result-table tbody tr").all()]


def _assert_controlled(count: str) -> None:
    """A count an analyst may see: ``[c]``, or rounded to 5 and above the threshold."""
    if count == "[c]":
        return
    value = int(count.replace(",", ""))
    assert value % ROUND_TO == 0, f"count {count} is not rounded to {ROUND_TO}"
    assert value > SUPPRESS_AT_OR_BELOW, f"count {count} is small and was not suppressed"


def _run_query(page: Page, project: str, sql: str) -> None:
    page.goto("/query")
    page.get_by_label("Project").select_option(project)
    page.get_by_label("SQL").fill(sql)
    expect(page.get_by_label("Table of counts")).to_be_checked()
    page.get_by_role("button", name="Run query").click()


def _csv_of(page: Page, click: Callable[[], None]) -> tuple[str, list[list[str]]]:
    """Download by ``click``; the suggested file name and the CSV's lines."""
    with page.expect_download() as info:
        click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    return download.suggested_filename, list(csv.reader(io.StringIO(text)))


def _audited(hub: PublishedHub, person: Person, project: str, action: str) -> list[AuditEntry]:
    return [
        e
        for e in audit.entries(hub.engine, subject=f"project:{project}")
        if e.action == action and e.actor == f"user:{person.email}"
    ]


# -- 1. signing in ----------------------------------------------------------------------------


def test_an_analyst_signs_in_to_the_catalogue_of_their_own_projects(
    sign_in: SignIn, base_url: str
) -> None:
    page = sign_in(VRP_ANALYST)
    expect(page).to_have_url(f"{base_url}/catalogue")
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalogue")
    for project, title in ((KNIFE, "Knife crime problem profile"), (HEALTH, "Violence seen by")):
        section = page.locator(f"#project-{project}")
        expect(section.get_by_role("heading", level=2)).to_contain_text(title)
        expect(section).to_contain_text("Tables of counts only (disclosure-controlled).")
        expect(section.get_by_role("link", name="Measures dashboard")).to_be_visible()
    expect(page.locator("section[id^=project-]")).to_have_count(2)

    page = sign_in(HOSPITAL_ANALYST)
    expect(page).to_have_url(f"{base_url}/catalogue")
    expect(page.locator("section[id^=project-]")).to_have_count(1)
    expect(page.locator(f"#project-{HEALTH}")).to_contain_text("Violence seen by health services")
    expect(page.locator(f"#project-{HEALTH}")).to_contain_text(
        "Draws on: ed-assaults, ambulance-assaults."
    )
    for trace in (KNIFE, "Knife crime problem profile", "police-sv"):
        expect(page.locator("body")).not_to_contain_text(trace)
        assert trace not in page.content()
    # the other project is not found for them, exactly like one that does not exist
    for path in (f"/catalogue/{KNIFE}", f"/measures/{KNIFE}", f"/catalogue/{KNIFE}/dictionary"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.locator("#message")).to_have_text(f"You have no project named '{KNIFE}'")
    page.goto("/query")
    expect(page.locator("#project option")).to_have_count(1)
    expect(page.get_by_label("Project")).to_have_value(HEALTH)

    page = sign_in(OUTSIDER)
    expect(page).to_have_url(f"{base_url}/catalogue")
    expect(page.locator("#main")).to_contain_text("You are not on any project yet.")
    expect(page.locator("section[id^=project-]")).to_have_count(0)
    page.goto("/query")
    expect(page.locator("#main")).to_contain_text("You have no project that can query a release")
    expect(page.get_by_role("button", name="Run query")).to_have_count(0)


def test_a_data_protection_lead_is_refused_the_analysts_pages(
    sign_in: SignIn, base_url: str, hub: PublishedHub
) -> None:
    page = sign_in(POLICE_DPL)
    expect(page).to_have_url(f"{base_url}/agreements")
    expect(page.get_by_role("link", name="Catalogue")).to_have_count(0)
    pages = (("/catalogue", "catalogue"), ("/query", "query"), (f"/measures/{KNIFE}", "measures"))
    for path, name in pages:
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("You cannot do this")
        expect(page.locator("#message")).to_have_text(
            "The catalogue, queries and measures are for analysts. You are signed in as data "
            "protection lead of merseyvale-police."
        )
        expect(page.locator("#main")).not_to_contain_text("Knife crime problem profile")
        refusals = [
            e
            for e in audit.entries(hub.engine, subject=f"page:{name}")
            if e.action == "access.refused" and e.actor == f"user:{POLICE_DPL.email}"
        ]
        assert refusals, f"the refusal of {path} is not in the audit log"


# -- 2. the catalogue -----------------------------------------------------------------------


def test_the_catalogue_leads_to_a_projects_sources_release_and_dictionary(
    sign_in: SignIn, base_url: str, hub: PublishedHub
) -> None:
    release_id = hub.release.release_id
    page = sign_in(VRP_ANALYST)
    for project, title, sources in (
        (KNIFE, "Knife crime problem profile", KNIFE_SOURCES),
        (HEALTH, "Violence seen by health services", HEALTH_SOURCES),
    ):
        page.goto("/catalogue")
        page.get_by_role("link", name=title).click()
        expect(page).to_have_url(f"{base_url}/catalogue/{project}")
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        assert set(_texts(page.locator("#agreements tbody th"))) == sources
        assert set(_texts(page.locator("#agreements tbody td:nth-child(2)"))) == {"Yes"}
        freshness = page.locator("#freshness tbody tr")
        expect(freshness).to_have_count(len(sources))
        assert set(_texts(page.locator("#freshness tbody th .hub-secondary"))) == sources
        assert set(_texts(page.locator("#freshness tbody td:nth-child(6)"))) == {"Yes"}
        quality = _texts(page.locator("#quality tbody td:nth-child(2)"))
        assert set(quality) == sources
        expect(page.locator("#linkage")).to_contain_text("deterministic passes")
        # neither project draws on every source: the release-wide counts are not shown
        expect(page.locator("#linkage")).to_contain_text("not shown here")
        expect(page.locator("#linkage")).not_to_contain_text("known to two or more partners")
        for other in sorted(set(OTHER_SOURCES) - sources):
            expect(page.locator("#agreements")).not_to_contain_text(other)
            expect(page.locator("#freshness")).not_to_contain_text(other)
            expect(page.locator("#quality")).not_to_contain_text(other)

        page.get_by_role("link", name=release_id).click()
        expect(page).to_have_url(f"{base_url}/catalogue/{project}/releases/{release_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Release {release_id}")
        event_columns = _texts(page.locator("#table-event tbody th"))
        for column in ("source", "event_type", "event_month", "area_code", "flag_knife"):
            assert column in event_columns
        assert "person_key" not in event_columns  # counts only: no key that follows a person
        assert ("ho_offence_code" in event_columns) is (project == KNIFE)
        assert ("flag_domestic_abuse" in event_columns) is (project == KNIFE)
        person_columns = _texts(page.locator("#table-person tbody th"))
        assert "events" in person_columns and "person_key" not in person_columns
        assert set(_texts(page.locator("#inputs tbody td:nth-child(2)"))) == {
            f"{s} v1" for s in sources
        }

        page.get_by_role("link", name=project, exact=True).click()
        page.get_by_role("link", name="Data dictionary").click()
        expect(page).to_have_url(f"{base_url}/catalogue/{project}/dictionary")
        expect(page.get_by_role("heading", level=1)).to_have_text("Data dictionary")
        dictionary = _texts(page.locator("#release-columns tbody th"))
        assert dictionary == event_columns + person_columns
        sections = _texts(page.locator("h2 .hub-secondary"))
        assert {s.strip("()").split(" ")[0] for s in sections} == sources


# -- 3. running a query -----------------------------------------------------------------------


def test_a_query_gives_a_controlled_table_of_counts_and_is_audited(
    sign_in: SignIn, hub: PublishedHub
) -> None:
    page = sign_in(VRP_ANALYST)
    _run_query(page, KNIFE, ADMISSIONS_SQL)
    results = page.locator("#results")
    expect(results).to_contain_text(hub.release.release_id)
    expect(page.locator("#query-error")).to_have_count(0)
    expect(page.locator("#result-table thead th")).to_have_text(["event_month", "area", "count"])
    rows = _result_rows(page)
    assert rows, "the query gave no cells"
    for month, _area, count in rows:
        assert re.fullmatch(r"20\d\d-\d\d-01", month), month
        _assert_controlled(count)
    expect(results).to_contain_text(f"{len(rows):,} cells")
    # the page keeps the form as it was sent
    expect(page.get_by_label("Project")).to_have_value(KNIFE)
    expect(page.get_by_label("SQL")).to_have_value(ADMISSIONS_SQL)

    run = _audited(hub, VRP_ANALYST, KNIFE, "analysis.query")
    digest = hashlib.sha256(ADMISSIONS_SQL.encode()).hexdigest()
    mine = [e for e in run if e.detail["sql_sha256"] == digest]
    assert mine, "the query is not in the audit log"
    assert mine[0].detail["release"] == hub.release.release_id
    assert mine[0].detail["cells"] == len(rows)
    # the quoted value typed into the WHERE is blanked in the log
    logged = str(mine[0].detail["sql"])
    assert "ed_assault_attendance" not in logged
    assert "event_month" in logged


# -- 4. suppressed cells ----------------------------------------------------------------------


def test_small_cells_of_a_query_are_suppressed_on_the_page_and_in_its_csv(
    sign_in: SignIn, hub: PublishedHub
) -> None:
    page = sign_in(VRP_ANALYST)
    _run_query(page, KNIFE, SMALL_CELLS_SQL)
    expect(page.locator("#result-table thead th")).to_have_text(
        ["event_week", "area_code", "count"]
    )
    suppressed = page.locator("#result-table td.hub-suppressed")
    expect(suppressed.first).to_have_text("[c]")
    rows = _result_rows(page)
    counts = [row[-1] for row in rows]
    for count in counts:
        _assert_controlled(count)
    shown = counts.count("[c]")
    assert 0 < shown < len(counts), "expected both suppressed and published cells"
    expect(suppressed).to_have_count(shown)
    expect(page.locator("#results")).to_contain_text(f"{len(rows):,} cells; {shown} suppressed")

    name, lines = _csv_of(page, page.get_by_role("button", name="Download CSV").click)
    assert name == f"{KNIFE}-{hub.release.release_id}.csv"
    assert lines[0] == ["event_week", "area_code", "count"]
    assert lines[1:] == rows  # the download says exactly what the page shows
    assert sum(line[-1] == "[c]" for line in lines[1:]) == shown

    run = _audited(hub, VRP_ANALYST, KNIFE, "analysis.query")
    digest = hashlib.sha256(SMALL_CELLS_SQL.encode()).hexdigest()
    # run twice: shown, then downloaded
    assert [e.detail["suppressed"] for e in run if e.detail["sql_sha256"] == digest] == [
        shown,
        shown,
    ]


def test_the_measures_dashboard_suppresses_small_cells_and_its_csv_says_so(
    sign_in: SignIn, hub: PublishedHub, base_url: str
) -> None:
    page = sign_in(VRP_ANALYST)
    page.goto("/catalogue")
    page.locator(f"#project-{KNIFE}").get_by_role("link", name="Measures dashboard").click()
    expect(page).to_have_url(f"{base_url}/measures/{KNIFE}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Measures")
    table = page.locator("#measure-table")
    expect(table.locator("tbody td.hub-suppressed").first).to_have_text("[c]")

    title = "Police-recorded knife-enabled serious violence (victims)"
    page.get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(f"{base_url}/measures/{KNIFE}?measure=police_knife_sv")
    expect(page.locator("#measure h2")).to_have_text(title)
    expect(page.locator("#measure figure svg")).to_have_count(2)
    expect(page.locator("#measure figure svg rect").first).to_be_attached()

    months = _texts(table.locator("thead th"))[1:-1]
    assert months and all(re.fullmatch(r"20\d\d-\d\d", m) for m in months), months
    grid: dict[tuple[str, str], str] = {}
    for row in table.locator("tbody tr").all():
        area = row.locator("th").inner_text().strip()
        values = _texts(row.locator("td"))
        assert len(values) == len(months) + 1
        for month, value in zip(months, values[:-1], strict=True):
            grid[(area, month)] = value
        for value in values:
            _assert_controlled(value)
    cells = list(grid.values())
    assert "[c]" in cells and any(c != "[c]" for c in cells), "expected both kinds of cell"
    marked = table.locator("tbody td").evaluate_all(
        "cells => cells.map(c => [c.textContent.trim(), c.classList.contains('hub-suppressed')])"
    )
    assert marked and all((text == "[c]") is suppressed for text, suppressed in marked)

    name, lines = _csv_of(
        page, page.get_by_role("link", name="Download the area-by-month table as CSV").click
    )
    assert name == f"{KNIFE}-police_knife_sv-{hub.release.release_id}.csv"
    assert lines[0] == ["area_code", "event_month", "events"]
    downloaded = {(area, month[:7]): value for area, month, value in lines[1:]}
    assert downloaded == {key: value.replace(",", "") for key, value in grid.items()}
    assert "[c]" in downloaded.values()

    measured = _audited(hub, VRP_ANALYST, KNIFE, "analysis.measure")
    assert {e.detail["measure"] for e in measured} >= {"ed_knife_assault", "police_knife_sv"}


# -- 5. a column outside the project --------------------------------------------------------


def test_a_column_outside_the_project_is_not_found_and_rows_are_not_offered(
    sign_in: SignIn, hub: PublishedHub
) -> None:
    page = sign_in(HOSPITAL_ANALYST)
    page.goto("/query")
    expect(page.get_by_label("Table of counts")).to_be_checked()
    expect(page.get_by_label("Pseudonymised rows")).to_have_count(0)
    expect(page.locator("input[name=mode]")).to_have_count(1)
    tables = page.locator("details.hub-details")
    expect(tables).not_to_contain_text("ho_offence_code")
    expect(tables).to_contain_text("event_month")

    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/query")
    ) as answered:
        _run_query(page, HEALTH, OUTSIDE_SQL)
    assert answered.value.status == 422
    error = page.locator("#query-error")
    expect(error).to_contain_text("The query was not run")
    expect(error).to_contain_text(re.compile(r'"?ho_offence_code"? not found'))
    expect(error).not_to_contain_text(re.compile("permission|forbidden|not allowed", re.I))
    expect(page.locator("#results")).to_have_count(0)

    # rows, asked for with this analyst's own form token, are refused for a counts-only project
    csrf = page.locator("input[name=csrf]").first.input_value()
    forced = page.request.post(
        "/query",
        form={
            "csrf": csrf,
            "project": HEALTH,
            "sql": "SELECT event_month FROM event",
            "mode": "rows",
        },
    )
    assert forced.status == 422
    assert "may take away tables of counts only, not rows" in forced.text()
    assert 'id="result-table"' not in forced.text()

    refused = _audited(hub, HOSPITAL_ANALYST, HEALTH, "analysis.query_refused")
    outside = [e for e in refused if e.detail["sql"] == OUTSIDE_SQL]
    assert outside and "ho_offence_code" in str(outside[0].detail["refused"])
    assert any(e.detail["mode"] == "rows" for e in refused)

    page = sign_in(VRP_ANALYST)
    page.goto(f"/query?project={KNIFE}")
    expect(page.get_by_label("Project")).to_have_value(KNIFE)
    expect(page.get_by_label("Pseudonymised rows")).to_have_count(0)
