"""Data protection leads approve an agreement in real Chromium (Debian's, driven by Playwright),
and the lead of an organisation that is not a party is refused.

Chromium is required: when it is missing this test fails rather than skips (``make test``
installs it first). Set ``HUB_CHROMIUM`` to use another binary.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hub import audit
from hub.agreements import Status
from tests.live_server import (
    AGREEMENT,
    HOSPITALS_DPL,
    PASSWORD,
    POLICE_DPL,
    VRP_DPL,
    Person,
    ReviewHub,
    running_hub,
)

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 15_000


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def _sign_in(browser: Browser, base_url: str, person: Person) -> Page:
    """A fresh browser context (its own cookies) signed in as ``person`` on the agreement."""
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"/agreements/{AGREEMENT}")
    expect(page).to_have_url(f"{base_url}/signin?next=/agreements/{AGREEMENT}")
    page.get_by_label("Email address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/agreements/{AGREEMENT}")
    expect(page.locator("header")).to_contain_text(person.name)
    return page


def _approve_as(hub: ReviewHub, browser: Browser, base_url: str, person: Person) -> Page:
    page = _sign_in(browser, base_url, person)
    record = hub.registry.record(AGREEMENT, 1)
    assert record is not None
    expect(page.get_by_role("heading", level=1)).to_have_text(hub.agreement().title)
    expect(page.get_by_role("heading", name="Risk flags")).to_be_visible()
    expect(page.get_by_role("heading", name="The agreement in plain words")).to_be_visible()
    expect(page.locator("#digest")).to_have_text(record.digest)
    expect(page.locator("#sign-command")).to_contain_text(
        f"hub agreement sign {AGREEMENT} --version 1 --digest {record.digest}"
    )
    page.get_by_label("Approval token").fill(hub.token(person))
    page.get_by_role("button", name="Record my approval").click()
    expect(page.locator("#flash")).to_contain_text("Your approval is recorded.")
    expect(page.get_by_role("button", name="Record my approval")).to_have_count(0)
    return page


def test_leads_approve_in_the_browser_and_a_non_party_lead_is_refused(
    tmp_path: Path, browser: Browser
) -> None:
    with running_hub(tmp_path) as (hub, base_url):
        page = _approve_as(hub, browser, base_url, POLICE_DPL)
        expect(page.locator("#status")).to_contain_text("awaiting approval")
        page.context.close()

        page = _approve_as(hub, browser, base_url, VRP_DPL)
        status = page.locator("#status")
        expect(status.get_by_role("heading")).to_have_text("Status: approved")
        expect(page.locator("#flash")).to_contain_text("Status now: approved")
        page.context.close()
        assert hub.registry.status(hub.agreement()).status is Status.APPROVED

        page = _sign_in(browser, base_url, HOSPITALS_DPL)
        expect(page.locator("#decision")).to_contain_text(
            "You are the data protection lead of merseyvale-hospitals, which is not a party"
        )
        expect(page.locator("form[action$='/approve']")).to_have_count(0)
        expect(page.get_by_label("Approval token")).to_have_count(0)
        # Post the approve form directly, with this lead's own session, CSRF token and token.
        csrf = page.locator("input[name=csrf]").first.input_value()
        response = page.request.post(
            f"{base_url}/agreements/{AGREEMENT}/versions/1/approve",
            form={"token": hub.token(HOSPITALS_DPL), "csrf": csrf},
        )
        assert response.status == 403
        assert (
            "You are the data protection lead of merseyvale-hospitals, which is not a party to "
            "agreement police-sv."
        ) in response.text()
        page.context.close()

        refusals = [
            e
            for e in audit.entries(hub.engine, subject=f"agreement:{AGREEMENT}")
            if e.action == "access.refused"
        ]
        assert [(e.actor, e.detail) for e in refusals] == [
            (
                f"user:{HOSPITALS_DPL.email}",
                {"version": 1, "org": HOSPITALS_DPL.org, "action": "approve"},
            )
        ]

        page = _sign_in(browser, base_url, POLICE_DPL)
        page.get_by_role("link", name="Read the audit trail of this agreement").click()
        trail = page.locator("table")
        expect(trail).to_contain_text("access refused")
        expect(trail).to_contain_text(f"user:{HOSPITALS_DPL.email}")
        expect(trail).to_contain_text("approved: every required signature is in")
        page.context.close()
