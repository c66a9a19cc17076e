"""Helpers for tests that need agreements submitted and signed by their leads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from hub.agreements.canonical import terms_digest
from hub.agreements.model import Agreement
from hub.agreements.registry import AgreementRegistry
from hub.agreements.signing import SignedApproval, SignerDirectory, new_signer, sign_approval
from hub.settings import Settings
from hub.store import make_engine, upgrade


@dataclass
class Leads:
    """Key pairs of the named leads, public halves registered in the test's keys/public."""

    settings: Settings
    engine: Engine
    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)

    @property
    def registry(self) -> AgreementRegistry:
        return AgreementRegistry.open(self.settings, self.engine)

    def key_for(self, agreement: Agreement, org: str) -> Ed25519PrivateKey:
        lead = agreement.party(org).data_protection_lead
        if lead.email not in self.keys:
            private, public = new_signer(org, lead.name, lead.email)
            SignerDirectory.load(self.settings.key_dir / "public").register(public)
            self.keys[lead.email] = private
        return self.keys[lead.email]

    def sign(self, agreement: Agreement, org: str, *, at: datetime | None = None) -> SignedApproval:
        return sign_approval(
            self.key_for(agreement, org),
            agreement_id=agreement.id,
            version=agreement.version,
            digest=terms_digest(agreement),
            org=org,
            signer_email=agreement.party(org).data_protection_lead.email,
            at=at,
        )

    def approve(self, agreement: Agreement, *orgs: str) -> None:
        """Submit (if needed) and sign as the given orgs (default: every required signer)."""
        registry = self.registry
        registry.submit(agreement, "test")
        for org in orgs or agreement.signing_orgs:
            registry.approve(self.sign(agreement, org), f"test:{org}")


def leads_for(settings: Settings) -> Leads:
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    return Leads(settings, engine)
