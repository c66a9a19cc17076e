"""Privacy invariant: nothing is accepted under an agreement that is not approved (signed by the
named leads of the provider and the hub controller), in force and the sender's own."""

from __future__ import annotations

import io
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

from hub import audit
from hub.agreements import Status, get_agreement, load_agreement
from hub.agreements.canonical import terms_digest
from hub.agreements.signing import SignedApproval, SignerDirectory, new_signer, sign_approval
from hub.errors import AgreementError, NotFoundError
from hub.pipeline.landing import receive_extract
from hub.privacy.keys import init_keyring
from hub.settings import Settings
from hub.store import AgreementSignature, session_scope
from tests.agreement_helpers import Leads, leads_for
from tests.conftest import CONTRACTS

AGREEMENT = get_agreement(CONTRACTS, "police-sv")
POLICE, HUB, HOSPITALS = "merseyvale-police", "merseyvale-vrp", "merseyvale-hospitals"
IN_FORCE = date(2025, 6, 1)


@pytest.fixture
def leads(settings: Settings) -> Leads:
    return leads_for(settings)


def test_the_provider_may_send_once_both_leads_have_signed(leads: Leads) -> None:
    registry = leads.registry
    assert registry.status(AGREEMENT, IN_FORCE).status is Status.DRAFT
    leads.approve(AGREEMENT, POLICE)
    report = registry.status(AGREEMENT, IN_FORCE)
    assert report.status is Status.AWAITING_APPROVAL
    assert report.awaiting == (HUB,)
    assert not registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    registry.approve(leads.sign(AGREEMENT, HUB), "test")
    decision = registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    assert decision, decision.reason
    assert registry.status(AGREEMENT, IN_FORCE).signed_by == (POLICE, HUB)


@pytest.mark.parametrize(
    ("sender", "on", "reason"),
    [
        (HOSPITALS, IN_FORCE, "not merseyvale-hospitals's to send under"),
        (POLICE, date(2025, 3, 31), "not in force until 2025-04-01"),
        (POLICE, date(2027, 4, 1), "expired on 2027-03-31"),
    ],
)
def test_refusals_name_the_reason(leads: Leads, sender: str, on: date, reason: str) -> None:
    leads.approve(AGREEMENT)
    decision = leads.registry.may_send(AGREEMENT, sender, on)
    assert not decision
    assert reason in decision.reason
    assert "police-sv v1" in decision.reason


def test_a_draft_is_refused(leads: Leads) -> None:
    decision = leads.registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    assert not decision
    assert "draft" in decision.reason


def test_suspension_pauses_and_only_the_suspending_party_lifts_it(leads: Leads) -> None:
    leads.approve(AGREEMENT)
    registry = leads.registry
    registry.suspend(AGREEMENT.id, 1, HUB, "test", "data breach under investigation")
    decision = registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    assert not decision
    assert "suspended by merseyvale-vrp" in decision.reason
    with pytest.raises(AgreementError, match="only its data protection lead"):
        registry.resume(AGREEMENT.id, 1, POLICE, "test", "we think it is fine")
    registry.resume(AGREEMENT.id, 1, HUB, "test", "investigation closed")
    assert registry.may_send(AGREEMENT, POLICE, IN_FORCE)


def test_revocation_is_final(leads: Leads) -> None:
    leads.approve(AGREEMENT)
    registry = leads.registry
    registry.revoke(AGREEMENT.id, 1, POLICE, "test", "the force withdraws")
    decision = registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    assert not decision
    assert "revoked by merseyvale-police" in decision.reason
    with pytest.raises(AgreementError, match="revoked"):
        registry.resume(AGREEMENT.id, 1, POLICE, "test", "changed our mind")


def test_a_non_party_cannot_suspend(leads: Leads) -> None:
    leads.approve(AGREEMENT)
    with pytest.raises(AgreementError, match="not a party"):
        leads.registry.suspend(AGREEMENT.id, 1, HOSPITALS, "test", "no reason")


def test_tampered_approved_agreement_is_refused(leads: Leads, tmp_path: Path) -> None:
    """One byte changed in an approved file: the digest no longer matches the signatures."""
    leads.approve(AGREEMENT)
    copy = tmp_path / "police-sv.yaml"
    shutil.copyfile(CONTRACTS / "police-sv.yaml", copy)
    text = copy.read_text(encoding="utf-8")
    copy.write_text(text.replace("landing_days: 14", "landing_days: 15"), encoding="utf-8")
    tampered = load_agreement(copy)
    decision = leads.registry.may_send(tampered, POLICE, IN_FORCE)
    assert not decision
    assert "differs from the version submitted" in decision.reason
    assert leads.registry.status(tampered, IN_FORCE).status is Status.ALTERED


def test_layout_and_comments_do_not_change_what_was_signed(leads: Leads, tmp_path: Path) -> None:
    leads.approve(AGREEMENT)
    copy = tmp_path / "police-sv.yaml"
    text = (CONTRACTS / "police-sv.yaml").read_text(encoding="utf-8")
    copy.write_text("# reviewed again in committee\n" + text + "\n\n", encoding="utf-8")
    assert leads.registry.may_send(load_agreement(copy), POLICE, IN_FORCE)


def test_a_forged_signature_is_refused(leads: Leads) -> None:
    leads.approve(AGREEMENT)
    with session_scope(leads.engine) as session:
        row = session.get(AgreementSignature, (AGREEMENT.id, 1, POLICE))
        assert row is not None
        approval = SignedApproval.from_token(row.signature)
        forged = SignedApproval(approval.statement, bytes(64))
        session.execute(
            update(AgreementSignature)
            .where(AgreementSignature.org == POLICE)
            .values(signature=forged.to_token())
        )
    decision = leads.registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    assert not decision
    assert "signature of merseyvale-police does not verify" in decision.reason


def test_an_unregistered_key_no_longer_approves(leads: Leads) -> None:
    leads.approve(AGREEMENT)
    for path in (leads.settings.key_dir / "public").glob("merseyvale-police--*.json"):
        path.unlink()
    decision = leads.registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    assert not decision
    assert "not registered" in decision.reason


def test_only_the_named_lead_can_sign_for_a_party(leads: Leads) -> None:
    """A colleague with a registered key of their own cannot approve for the named lead."""
    leads.registry.submit(AGREEMENT, "test")
    colleague = "deputy@merseyvale-police.example"
    private, public = new_signer(POLICE, "A Deputy", colleague)
    SignerDirectory.load(leads.settings.key_dir / "public").register(public)
    approval = sign_approval(
        private,
        agreement_id=AGREEMENT.id,
        version=1,
        digest=terms_digest(AGREEMENT),
        org=POLICE,
        signer_email=colleague,
    )
    with pytest.raises(AgreementError, match=r"names Priya Raman .* signature is by someone else"):
        leads.registry.approve(approval, "test")


def test_a_signature_over_other_terms_is_refused(leads: Leads) -> None:
    leads.registry.submit(AGREEMENT, "test")
    other = AGREEMENT.model_copy(update={"purpose": "Something else"})
    with pytest.raises(AgreementError, match="other terms"):
        leads.registry.approve(leads.sign(other, POLICE), "test")


def test_a_new_version_needs_fresh_approval_and_supersedes(leads: Leads) -> None:
    leads.approve(AGREEMENT)
    v2 = AGREEMENT.model_copy(update={"version": 2, "change_note": "longer retention"})
    registry = leads.registry
    registry.submit(v2, "test")
    assert registry.status(v2, IN_FORCE).status is Status.AWAITING_APPROVAL
    assert registry.may_send(AGREEMENT, POLICE, IN_FORCE), "v1 stays in force meanwhile"
    for org in v2.signing_orgs:
        registry.approve(leads.sign(v2, org), "test")
    assert registry.may_send(v2, POLICE, IN_FORCE)
    old = registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    assert not old
    assert "superseded by version 2" in old.reason


def test_the_same_version_with_other_terms_cannot_be_submitted(leads: Leads) -> None:
    leads.registry.submit(AGREEMENT, "test")
    leads.registry.submit(AGREEMENT, "test")  # the same terms again: no change
    with pytest.raises(AgreementError, match="already submitted with different terms"):
        leads.registry.submit(AGREEMENT.model_copy(update={"purpose": "x"}), "test")


def test_signing_an_unsubmitted_version_is_not_found(leads: Leads) -> None:
    with pytest.raises(NotFoundError, match="not been submitted"):
        leads.registry.approve(leads.sign(AGREEMENT, POLICE), "test")


def test_invariant_refused_upload_stores_nothing(settings: Settings, leads: Leads) -> None:
    leads.approve(AGREEMENT)
    ring = init_keyring(settings)
    with pytest.raises(AgreementError, match="refused"):
        receive_extract(
            settings,
            leads.engine,
            ring,
            AGREEMENT,
            sender_org=HOSPITALS,
            source=io.BytesIO(b"crime_reference\n1\n"),
            source_name="x.csv",
            today=IN_FORCE,
        )
    assert not any(p for p in settings.zone("landing").rglob("*") if p.is_file())
    refused = audit.entries(leads.engine, subject="agreement:police-sv", limit=1)[0]
    assert refused.action == "upload.refused"
    assert refused.detail["sender"] == HOSPITALS


def test_lifecycle_steps_are_audited_and_the_chain_verifies(leads: Leads) -> None:
    leads.approve(AGREEMENT)
    leads.registry.suspend(AGREEMENT.id, 1, POLICE, "test", "pause")
    actions = [e.action for e in reversed(audit.entries(leads.engine))]
    assert actions == [
        "agreement.submitted",
        "agreement.signed",
        "agreement.signed",
        "agreement.approved",
        "agreement.suspended",
    ]
    assert audit.verify(leads.engine).ok


def test_a_lead_whose_key_was_withdrawn_can_sign_again_with_a_new_key(leads: Leads) -> None:
    leads.approve(AGREEMENT)
    for path in (leads.settings.key_dir / "public").glob("merseyvale-police--*.json"):
        path.unlink()
    leads.keys.clear()
    registry = leads.registry
    assert registry.status(AGREEMENT, IN_FORCE).awaiting == (POLICE,)
    with pytest.raises(AgreementError, match="already signed"):
        registry.approve(leads.sign(AGREEMENT, HUB), "test")
    registry.approve(leads.sign(AGREEMENT, POLICE), "test")
    assert registry.may_send(AGREEMENT, POLICE, IN_FORCE)
    assert audit.entries(leads.engine, limit=2)[1].action == "agreement.re-signed"
