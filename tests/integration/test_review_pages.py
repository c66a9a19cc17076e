"""The review pages over real HTTP (uvicorn in a thread, httpx): sign-in, what a data protection
lead reads, and who may approve, suspend, lift a suspension or revoke, with every refusal in the
audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from hub import audit
from hub.agreements import Agreement, Status
from hub.agreements.canonical import canonical_terms
from hub.agreements.diff import diff_agreements
from hub.agreements.plain import describe
from hub.agreements.risks import risk_flags
from tests.live_server import (
    ADMIN,
    AGREEMENT,
    ANALYST,
    HOSPITALS_DPL,
    POLICE_DPL,
    VRP_DPL,
    Person,
    ReviewHub,
    client_for,
    csrf_of,
    running_hub,
    sign_in,
    text_of,
)

PAGE = f"/agreements/{AGREEMENT}"
ACTION = f"/agreements/{AGREEMENT}/versions/1"
IN_WINDOW = date(2026, 1, 15)  # police-sv is valid from 2025-04-01 to 2027-03-31


@pytest.fixture
def hub_url(tmp_path: Path) -> Iterator[tuple[ReviewHub, str]]:
    with running_hub(tmp_path) as found:
        yield found


def _page(client: httpx.Client, path: str = PAGE) -> httpx.Response:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response


def _post(
    client: httpx.Client, action: str, data: dict[str, str], *, csrf: bool = True
) -> httpx.Response:
    form = dict(data)
    if csrf:
        form["csrf"] = csrf_of(_page(client).text)
    return client.post(f"{ACTION}/{action}", data=form)


def _approve(hub: ReviewHub, base_url: str, person: Person) -> httpx.Response:
    with client_for(base_url, person) as client:
        return _post(client, "approve", {"token": hub.token(person)})


def _refusals(hub: ReviewHub, subject: str = f"agreement:{AGREEMENT}") -> list[dict[str, object]]:
    return [
        {"actor": e.actor, **e.detail}
        for e in audit.entries(hub.engine, subject=subject)
        if e.action == "access.refused"
    ]


# -- signing in --------------------------------------------------------------------------------


def test_pages_redirect_to_signin_until_signed_in(hub_url: tuple[ReviewHub, str]) -> None:
    _, base_url = hub_url
    with client_for(base_url) as client:
        response = client.get("/agreements")
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?next=/agreements"
        response = client.get(f"{PAGE}?version=1")
        assert response.headers["location"] == "/signin?next=/agreements/police-sv%3Fversion%3D1"
        assert client.get(f"{PAGE}/audit").status_code == 303
        response = client.post(f"{ACTION}/approve", data={"token": "x", "csrf": "y"})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/signin")

        form = client.get("/signin?next=/agreements/police-sv")
        assert form.status_code == 200
        assert 'name="next" value="/agreements/police-sv"' in form.text
        response = sign_in(client, POLICE_DPL.email, next_path=PAGE)
        assert response.status_code == 303
        assert response.headers["location"] == PAGE
        assert client.get(PAGE).status_code == 200


def test_health_answers_without_signing_in(hub_url: tuple[ReviewHub, str]) -> None:
    _, base_url = hub_url
    with client_for(base_url) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_session_cookie_and_security_headers(hub_url: tuple[ReviewHub, str]) -> None:
    _, base_url = hub_url
    with client_for(base_url) as client:
        response = sign_in(client, POLICE_DPL.email)
        cookie = next(
            v for k, v in response.headers.multi_items() if v.startswith("hub_session=")
        ).lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "secure" not in cookie  # only in production
        page = _page(client)
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        assert "<script" not in page.text.lower()
        assert client.get("/static/hub.css").status_code == 200


def test_bad_password_is_refused_and_audited(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    with client_for(base_url) as client:
        response = sign_in(client, POLICE_DPL.email, password="not the password at all")
        assert response.status_code == 401
        assert "Email or password not recognised." in response.text
        unknown = sign_in(client, "nobody@nowhere.example", password="not the password at all")
        assert unknown.status_code == 401
        assert "Email or password not recognised." in unknown.text
        assert client.get("/agreements").status_code == 303  # still signed out
    failed = audit.entries(hub.engine, subject=f"user:{POLICE_DPL.email}")
    assert [(e.actor, e.action, e.detail) for e in failed] == [("web", "signin.failed", {})]
    assert audit.entries(hub.engine, subject="user:nobody@nowhere.example")[0].action == (
        "signin.failed"
    )


def test_signin_form_needs_its_own_token(hub_url: tuple[ReviewHub, str]) -> None:
    _, base_url = hub_url
    with client_for(base_url) as client:
        response = client.post("/signin", data={"email": POLICE_DPL.email, "password": "x" * 20})
        assert response.status_code == 403
        assert "hub_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("asked", "landing"),
    [
        ("https://evil.example/", "/agreements"),
        ("//evil.example/agreements", "/agreements"),
        ("/\\evil.example", "/agreements"),
        ("/agreements/police-sv/audit", "/agreements/police-sv/audit"),
    ],
)
def test_signin_follows_only_relative_next_paths(
    hub_url: tuple[ReviewHub, str], asked: str, landing: str
) -> None:
    _, base_url = hub_url
    with client_for(base_url) as client:
        response = sign_in(client, POLICE_DPL.email, next_path=asked)
        assert response.status_code == 303
        assert response.headers["location"] == landing


def test_signing_out_ends_the_session(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    with client_for(base_url, POLICE_DPL) as client:
        token = client.cookies["hub_session"]
        assert client.post("/signout", data={}).status_code == 403  # no CSRF token
        response = client.post("/signout", data={"csrf": csrf_of(_page(client).text)})
        assert response.status_code == 303
        assert client.get("/agreements").status_code == 303
        client.cookies.set("hub_session", token)  # a copied cookie is dead too
        assert client.get("/agreements").status_code == 303
    assert [e.action for e in audit.entries(hub.engine, subject=f"user:{POLICE_DPL.email}")] == [
        "signout",
        "csrf.refused",
        "signin",
    ]


# -- reading -----------------------------------------------------------------------------------


def test_list_shows_every_agreement_and_what_the_lead_must_do(
    hub_url: tuple[ReviewHub, str],
) -> None:
    _, base_url = hub_url
    with client_for(base_url, POLICE_DPL) as client:
        page = text_of(_page(client, "/agreements"))
    for agreement_id in ("police-sv", "ed-assaults", "ambulance-assaults", "schools"):
        assert f'href="/agreements/{agreement_id}"' in page
    assert "awaiting approval" in page
    assert "A party: your approval is awaited" in page
    assert "draft: not submitted for approval" in page  # the files never submitted


def test_agreement_page_shows_plain_words_risk_flags_and_how_to_sign(
    hub_url: tuple[ReviewHub, str],
) -> None:
    hub, base_url = hub_url
    agreement = hub.agreement()
    plain = describe(agreement)
    record = hub.registry.record(AGREEMENT, 1)
    assert record is not None
    with client_for(base_url, POLICE_DPL) as client:
        page = text_of(_page(client))
    assert plain.summary in page
    assert plain.purpose in page
    for party in plain.parties:
        assert party.lead_name in page
        assert party.lead_email in page
    for label, text in plain.lawful_basis:
        assert label in page
        assert text in page
    for field in plain.fields:
        assert f"<code>{field.name}</code>" in page
        assert field.classification in page
        assert field.what_happens in page
    for zone, kept in plain.retention:
        assert zone in page
        assert kept in page
    assert plain.disclosure in page
    assert plain.validity in page
    assert plain.review in page
    flags = risk_flags(agreement, today=date.today())
    assert flags
    for flag in flags:
        assert flag.title in page
        assert flag.detail in page
    assert "awaiting approval" in page
    assert "This is the first version" in page
    assert record.digest in page
    assert (
        f"hub agreement sign police-sv --version 1 --digest {record.digest} "
        "--key <path-to-your-key>"
    ) in page
    assert f'action="{ACTION}/approve"' in page


def test_a_draft_offers_no_approval(tmp_path: Path) -> None:
    with (
        running_hub(tmp_path, submit=False) as (_, base_url),
        client_for(base_url, POLICE_DPL) as client,
    ):
        page = text_of(_page(client))
    assert "draft: not submitted for approval" in page
    assert "/approve" not in page
    assert "Digest of the terms" not in page


def test_an_analyst_is_refused_the_review_pages(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    with client_for(base_url, ANALYST) as client:
        for path in ("/agreements", PAGE, f"{PAGE}/audit"):
            response = client.get(path)
            assert response.status_code == 403
            assert "for data protection leads" in text_of(response)
    refused = [e for e in audit.entries(hub.engine) if e.action == "access.refused"]
    assert len(refused) == 3
    assert {e.actor for e in refused} == {f"user:{ANALYST.email}"}


def test_unknown_agreement_or_version_is_not_found(hub_url: tuple[ReviewHub, str]) -> None:
    _, base_url = hub_url
    with client_for(base_url, POLICE_DPL) as client:
        assert client.get("/agreements/no-such-thing").status_code == 404
        missing = client.get(f"{PAGE}?version=7")
        assert missing.status_code == 404
        assert "has no version 7" in missing.text
        assert client.get(f"{PAGE}?version=seven").status_code == 422
        assert client.get("/nowhere").status_code == 404


# -- acting ------------------------------------------------------------------------------------


def test_a_form_without_the_session_csrf_token_is_refused(
    hub_url: tuple[ReviewHub, str],
) -> None:
    hub, base_url = hub_url
    with client_for(base_url, POLICE_DPL) as client:
        token = hub.token(POLICE_DPL)
        missing = _post(client, "approve", {"token": token}, csrf=False)
        assert missing.status_code == 403
        wrong = _post(client, "approve", {"token": token, "csrf": "forged"}, csrf=False)
        assert wrong.status_code == 403
        suspend = _post(client, "suspend", {"reason": "because"}, csrf=False)
        assert suspend.status_code == 403
    record = hub.registry.record(AGREEMENT, 1)
    assert record is not None
    assert record.signatures == ()
    csrf = [e for e in audit.entries(hub.engine) if e.action == "csrf.refused"]
    assert len(csrf) == 3


def test_a_lead_of_a_non_party_cannot_approve(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    with client_for(base_url, HOSPITALS_DPL) as client:
        page = text_of(_page(client))
        assert "/approve" not in page
        assert "which is not a party to agreement police-sv" in page
        response = _post(client, "approve", {"token": hub.token(HOSPITALS_DPL)})
        assert response.status_code == 403
        assert (
            "You are the data protection lead of merseyvale-hospitals, which is not a party to "
            "agreement police-sv."
        ) in text_of(response)
        for action, data in (
            ("suspend", {"reason": "no"}),
            ("resume", {"reason": "no"}),
            ("revoke", {"reason": "no", "confirm": "yes"}),
        ):
            assert _post(client, action, data).status_code == 403
        audit_page = client.get(f"{PAGE}/audit")
        assert audit_page.status_code == 403
    assert _refusals(hub) == [
        {"actor": f"user:{HOSPITALS_DPL.email}", "org": HOSPITALS_DPL.org, "action": action, **v}
        for action, v in (
            ("read_audit", {}),
            ("revoke", {"version": 1}),
            ("resume", {"version": 1}),
            ("suspend", {"version": 1}),
            ("approve", {"version": 1}),
        )
    ]
    assert hub.registry.status(hub.agreement()).status is Status.AWAITING_APPROVAL


def test_nobody_can_paste_another_leads_approval(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    police_token = hub.token(POLICE_DPL)
    with client_for(base_url, VRP_DPL) as client:
        response = _post(client, "approve", {"token": police_token})
        assert response.status_code == 403
        assert "You can only paste an approval you signed yourself" in text_of(response)
        damaged = _post(client, "approve", {"token": police_token[:-12]})
        assert damaged.status_code == 409
        assert "damaged" in text_of(damaged)
        empty = _post(client, "approve", {"token": "  "})
        assert empty.status_code == 409
    record = hub.registry.record(AGREEMENT, 1)
    assert record is not None
    assert record.signatures == ()
    [refusal] = _refusals(hub)
    assert refusal["actor"] == f"user:{VRP_DPL.email}"
    assert refusal["action"] == "approve"


def test_admin_reads_but_cannot_act(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    with client_for(base_url, ADMIN) as client:
        page = text_of(_page(client))
        assert "cannot act on them" in page
        assert "/approve" not in page
        assert client.get(f"{PAGE}/audit").status_code == 200
        assert _post(client, "approve", {"token": hub.token(POLICE_DPL)}).status_code == 403
    [refusal] = _refusals(hub)
    assert refusal["role"] == "admin"


def test_both_leads_approve_and_the_agreement_is_in_force(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    with client_for(base_url, POLICE_DPL) as client:
        response = _post(client, "approve", {"token": hub.token(POLICE_DPL)})
        assert response.status_code == 303
        assert response.headers["location"] == f"{PAGE}?version=1&done=signed"
        page = text_of(client.get(response.headers["location"]))
        assert "Your approval is recorded." in page
        assert "Status now: awaiting approval" in page
        assert "/approve" not in page  # signed already
        again = _post(client, "approve", {"token": hub.token(POLICE_DPL)})
        assert again.status_code == 409
        assert "already signed" in text_of(again)

    response = _approve(hub, base_url, VRP_DPL)
    assert response.status_code == 303
    report = hub.registry.status(hub.agreement(), on=IN_WINDOW)
    assert report.status is Status.APPROVED
    assert report.in_force
    assert report.signed_by == ("merseyvale-police", "merseyvale-vrp")
    with client_for(base_url, VRP_DPL) as client:
        page = text_of(_page(client, response.headers["location"]))
    assert "Status now: approved" in page
    assert "dpo@merseyvale-police.example" in page  # the signatures table
    assert "verified" in page


def test_suspend_then_lift_the_suspension(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    with client_for(base_url, POLICE_DPL) as client:
        assert 'action="/agreements/police-sv/versions/1/suspend"' not in _page(client).text
    for lead in (POLICE_DPL, VRP_DPL):
        assert _approve(hub, base_url, lead).status_code == 303

    with client_for(base_url, POLICE_DPL) as client:
        empty = _post(client, "suspend", {"reason": "   "})
        assert empty.status_code == 409
        assert "say why" in text_of(empty).lower()
        response = _post(client, "suspend", {"reason": "Data breach under investigation"})
        assert response.status_code == 303
        page = text_of(client.get(response.headers["location"]))
        assert "The agreement is suspended" in page
        assert "Lift the suspension" in page
    report = hub.registry.status(hub.agreement(), on=IN_WINDOW)
    assert report.status is Status.SUSPENDED
    assert not report.in_force

    with client_for(base_url, VRP_DPL) as client:
        assert "Lift the suspension" not in text_of(_page(client))
        other = _post(client, "resume", {"reason": "fine by us"})
        assert other.status_code == 409
        assert "only its data protection lead can lift the suspension" in text_of(other)

    with client_for(base_url, POLICE_DPL) as client:
        response = _post(client, "resume", {"reason": "Investigation closed"})
        assert response.status_code == 303
    report = hub.registry.status(hub.agreement(), on=IN_WINDOW)
    assert report.status is Status.APPROVED
    assert report.in_force


def test_revoke_is_final_and_needs_confirming(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    with client_for(base_url, VRP_DPL) as client:
        unconfirmed = _post(client, "revoke", {"reason": "Purpose ended"})
        assert unconfirmed.status_code == 409
        assert "tick the box" in text_of(unconfirmed)
        assert hub.registry.status(hub.agreement()).status is Status.AWAITING_APPROVAL
        response = _post(client, "revoke", {"reason": "Purpose ended", "confirm": "yes"})
        assert response.status_code == 303
        page = text_of(client.get(response.headers["location"]))
        assert "The agreement is revoked." in page
        for action in ("approve", "suspend", "resume", "revoke"):
            assert f'versions/1/{action}"' not in page
    assert hub.registry.status(hub.agreement()).status is Status.REVOKED
    with client_for(base_url, POLICE_DPL) as client:
        late = _post(client, "approve", {"token": hub.token(POLICE_DPL)})
        assert late.status_code == 409
        assert "was revoked" in text_of(late)


def test_audit_page_lists_the_entries(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    for lead in (POLICE_DPL, VRP_DPL):
        _approve(hub, base_url, lead)
    with client_for(base_url, HOSPITALS_DPL) as client:
        _post(client, "approve", {"token": hub.token(HOSPITALS_DPL)})
    with client_for(base_url, POLICE_DPL) as client:
        _post(client, "suspend", {"reason": "Checking a complaint"})
        page = text_of(_page(client, f"{PAGE}/audit"))
    for words in (
        "submitted for approval",
        "signed by a data protection lead",
        "approved: every required signature is in",
        "access refused",
        "suspended",
        "reason: Checking a complaint",
        "organisation: merseyvale-hospitals",
        "tried to: approve",
        f"user:{HOSPITALS_DPL.email}",
        f"user:{POLICE_DPL.email}",
        f"user:{VRP_DPL.email}",
    ):
        assert words in page, words
    assert page.index("suspended") < page.index("submitted for approval")  # newest first


def test_a_version_only_in_the_store_shows_what_changed(hub_url: tuple[ReviewHub, str]) -> None:
    hub, base_url = hub_url
    first = hub.agreement()
    terms = canonical_terms(first)
    second = Agreement.model_validate(
        {
            **terms,
            "version": 2,
            "retention": {**first.retention.model_dump(), "published_days": 3653},
            "change_note": "Keep releases for ten years.",
        }
    )
    hub.registry.submit(second, "test")
    changes = diff_agreements(first, second)
    assert changes
    with client_for(base_url, POLICE_DPL) as client:
        listing = text_of(_page(client, "/agreements"))
        newest = text_of(_page(client))  # the newest version: 2, only in the store
        older = text_of(_page(client, f"{PAGE}?version=1"))
    assert "Police-recorded serious violence - victims and suspects" in listing
    assert "v2 is awaiting approval" in listing
    assert "Changes since version 1" in newest
    for change in changes:
        assert change.text in newest
    assert "Keep releases for ten years." in newest
    assert f'action="/agreements/{AGREEMENT}/versions/2/approve"' in newest
    assert "This is the first version" in older
    assert 'href="/agreements/police-sv?version=2"' in older


def test_the_deliveries_page_lists_every_feed_for_leads_only(
    hub_url: tuple[ReviewHub, str],
) -> None:
    _, base_url = hub_url
    with client_for(base_url, HOSPITALS_DPL) as client:
        page = text_of(_page(client, "/deliveries"))
    for agreement_id in ("police-sv", "ed-assaults", "ambulance-assaults", "schools"):
        assert f'href="/agreements/{agreement_id}"' in page
    assert "not in force" in page  # nothing is approved in this hub yet, so nothing is expected
    with client_for(base_url, ANALYST) as client:
        assert client.get("/deliveries").status_code == 403


def test_the_quality_history_is_for_the_parties_leads(hub_url: tuple[ReviewHub, str]) -> None:
    _, base_url = hub_url
    with client_for(base_url, POLICE_DPL) as client:
        page = text_of(_page(client, f"{PAGE}/quality"))
        assert 'id="quality-chart"' in page and 'id="quality-periods"' in page
        assert "missing" in page  # nothing has been delivered under this hub yet
        data = client.get(f"{PAGE}/quality.json")
        assert data.status_code == 200
        assert data.json()["agreement_id"] == AGREEMENT
        assert len(data.json()["periods"]) == 12
    with client_for(base_url, HOSPITALS_DPL) as client:
        assert client.get(f"{PAGE}/quality").status_code == 403
        assert client.get(f"{PAGE}/quality.json").status_code == 403
