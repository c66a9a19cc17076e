"""Development approvals: sign agreements with throw-away keys so the demo runs end to end.

In a real partnership each data protection lead holds their own private key and signs on the
review page. For the demo and the tests, this module generates a key pair per named lead in
memory, registers only the public key in the development signer folder under the data directory
(outside the repository, and never read in production), signs, and forgets the private key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Engine

from hub.agreements.canonical import terms_digest
from hub.agreements.model import Agreement, Status
from hub.agreements.registry import AgreementRegistry
from hub.agreements.signing import SignerDirectory, new_signer, sign_approval
from hub.errors import AgreementError
from hub.settings import Settings


def approve_for_development(
    settings: Settings,
    engine: Engine,
    agreements: Iterable[Agreement],
    *,
    actor: str = "demo",
    on: date | None = None,
) -> dict[str, str]:
    """Submit and sign every agreement not yet approved; returns agreement id -> status reason.

    Refused in production. An agreement that was changed without a new version, revoked or
    suspended is left as it is: development approval never overrides a lead's decision.
    """
    if settings.env == "production":
        raise AgreementError(
            "development approvals are refused in production",
            hint="each data protection lead signs on the review page with their own key",
        )
    dev_keys = SignerDirectory.load(settings.dev_signer_dir)
    registry = AgreementRegistry.open(settings, engine)
    outcome: dict[str, str] = {}
    for agreement in agreements:
        report = registry.status(agreement, on)
        if report.status is Status.DRAFT:
            registry.submit(agreement, actor)
            report = registry.status(agreement, on)
        for org in report.awaiting if report.status is Status.AWAITING_APPROVAL else ():
            lead = agreement.party(org).data_protection_lead
            private, public = new_signer(org, lead.name, lead.email)
            dev_keys.register(public)
            approval = sign_approval(
                private,
                agreement_id=agreement.id,
                version=agreement.version,
                digest=terms_digest(agreement),
                org=org,
                signer_email=lead.email,
            )
            del private  # never written anywhere
            registry.approve(approval, f"{actor}:{lead.email}")
        outcome[agreement.id] = registry.status(agreement, on).reason
    return outcome
