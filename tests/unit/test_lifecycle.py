"""Privacy invariant: nothing is accepted under an agreement that is not approved, in force and
the sender's own."""

from __future__ import annotations

import io
from datetime import date

import pytest

from hub.agreements import Status, get_agreement
from hub.agreements.lifecycle import may_send
from hub.errors import AgreementError
from hub.pipeline.landing import receive_extract
from hub.privacy.keys import init_keyring
from hub.settings import Settings
from hub.store import make_engine, upgrade
from tests.conftest import CONTRACTS

AGREEMENT = get_agreement(CONTRACTS, "police-sv")
IN_FORCE = date(2025, 6, 1)


def test_the_provider_may_send_under_an_approved_agreement_in_force() -> None:
    assert may_send(AGREEMENT, "merseyvale-police", IN_FORCE)


@pytest.mark.parametrize(
    ("change", "sender", "on", "reason"),
    [
        ({}, "merseyvale-hospitals", IN_FORCE, "not merseyvale-hospitals's"),
        ({"status": Status.DRAFT}, "merseyvale-police", IN_FORCE, "draft, not approved"),
        ({"status": Status.SUSPENDED}, "merseyvale-police", IN_FORCE, "suspended"),
        ({"status": Status.REVOKED}, "merseyvale-police", IN_FORCE, "revoked"),
        ({}, "merseyvale-police", date(2025, 3, 31), "not in force until 2025-04-01"),
        ({}, "merseyvale-police", date(2027, 4, 1), "expired on 2027-03-31"),
    ],
)
def test_refusals_name_the_reason(
    change: dict[str, object], sender: str, on: date, reason: str
) -> None:
    decision = may_send(AGREEMENT.model_copy(update=change), sender, on)
    assert not decision
    assert reason in decision.reason
    assert "police-sv v1" in decision.reason


def test_invariant_refused_upload_stores_nothing(settings: Settings) -> None:
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    ring = init_keyring(settings)
    with pytest.raises(AgreementError, match="refused"):
        receive_extract(
            settings,
            engine,
            ring,
            AGREEMENT,
            sender_org="merseyvale-hospitals",
            source=io.BytesIO(b"crime_reference\n1\n"),
            source_name="x.csv",
            today=IN_FORCE,
        )
    assert not any(p for p in settings.zone("landing").rglob("*") if p.is_file())
