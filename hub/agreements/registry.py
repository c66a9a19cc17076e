"""The store-backed side of the lifecycle: submitting versions, recording signatures, suspending,
resuming and revoking, and answering ``may_send`` with everything it needs.

Every step is written to the agreement's event history and to the hash-chained audit log.
"""

from __future__ import annotations

import dataclasses
import getpass
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from hub import audit
from hub.agreements.canonical import canonical_terms, terms_digest
from hub.agreements.lifecycle import (
    Decision,
    LifecycleEvent,
    LifecycleRecord,
    StatusReport,
    may_send,
    status_of,
    valid_signatures,
)
from hub.agreements.model import Agreement
from hub.agreements.signing import ApprovalStatement, SignedApproval, SignerDirectory
from hub.errors import AgreementError, NotFoundError
from hub.settings import Settings
from hub.store import AgreementEvent, AgreementSignature, AgreementVersion, session_scope


def cli_actor() -> str:
    """Who runs a command on the hub's server, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class AgreementRegistry:
    """Agreement versions, signatures and lifecycle events in the metadata store."""

    def __init__(self, engine: Engine, signer_dirs: Sequence[Path]) -> None:
        self.engine = engine
        self.signer_dirs = tuple(signer_dirs)

    @classmethod
    def open(cls, settings: Settings, engine: Engine) -> AgreementRegistry:
        return cls(engine, settings.signer_dirs)

    @property
    def signers(self) -> SignerDirectory:
        """The registered public keys, read afresh each time: a key whose file is removed stops
        counting at once, for every running process."""
        return SignerDirectory.load(*self.signer_dirs)

    # -- reading ---------------------------------------------------------------------------

    def records(self, agreement_id: str) -> list[LifecycleRecord]:
        """Every submitted version of one agreement, oldest first."""
        with session_scope(self.engine) as session:
            versions = session.scalars(
                select(AgreementVersion)
                .where(AgreementVersion.agreement_id == agreement_id)
                .order_by(AgreementVersion.version)
            ).all()
            signatures = session.scalars(
                select(AgreementSignature)
                .where(AgreementSignature.agreement_id == agreement_id)
                .order_by(AgreementSignature.recorded_at)
            ).all()
            events = session.scalars(
                select(AgreementEvent)
                .where(AgreementEvent.agreement_id == agreement_id)
                .order_by(AgreementEvent.id)
            ).all()
            return [self._record(v, signatures, events) for v in versions]

    @staticmethod
    def _record(
        version: AgreementVersion,
        signatures: Iterable[AgreementSignature],
        events: Iterable[AgreementEvent],
    ) -> LifecycleRecord:
        return LifecycleRecord(
            agreement_id=version.agreement_id,
            version=version.version,
            digest=version.digest,
            terms=dict(version.terms),
            submitted_at=_utc(version.submitted_at),
            submitted_by=version.submitted_by,
            signatures=tuple(
                SignedApproval.from_token(s.signature)
                for s in signatures
                if s.version == version.version
            ),
            events=tuple(
                LifecycleEvent(e.action, e.org, e.actor, e.reason, _utc(e.at))
                for e in events
                if e.version == version.version
            ),
        )

    def record(self, agreement_id: str, version: int) -> LifecycleRecord | None:
        return next((r for r in self.records(agreement_id) if r.version == version), None)

    def agreement_ids(self) -> list[str]:
        with session_scope(self.engine) as session:
            return sorted(set(session.scalars(select(AgreementVersion.agreement_id)).all()))

    def status(self, agreement: Agreement, on: date | None = None) -> StatusReport:
        return status_of(agreement, self.records(agreement.id), self.signers, on or _today())

    def may_send(
        self,
        agreement: Agreement,
        sender_org: str,
        on: date | None = None,
        *,
        actor: str | None = None,
        step: str = "upload",
    ) -> Decision:
        """``lifecycle.may_send`` with the store's records; a refusal is written to the audit
        log as ``<step>.refused``."""
        decision = may_send(
            agreement, sender_org, on or _today(), self.records(agreement.id), self.signers
        )
        if not decision:
            audit.record(
                self.engine,
                actor=actor or f"partner:{sender_org}",
                action=f"{step}.refused",
                subject=f"agreement:{agreement.id}",
                detail={
                    "version": agreement.version,
                    "sender": sender_org,
                    "reason": decision.reason,
                },
            )
        return decision

    # -- changing --------------------------------------------------------------------------

    def submit(self, agreement: Agreement, actor: str) -> LifecycleRecord:
        """Register a version for approval. Submitting the same terms again changes nothing;
        different terms under a version number already used are refused."""
        digest = terms_digest(agreement)
        existing = self.records(agreement.id)
        same = next((r for r in existing if r.version == agreement.version), None)
        if same is not None:
            if same.digest != digest:
                raise AgreementError(
                    f"agreement {agreement.id} v{agreement.version} was already submitted with "
                    "different terms",
                    hint=f"give the changed agreement version {existing[-1].version + 1}",
                )
            return same
        if existing and agreement.version < existing[-1].version:
            raise AgreementError(
                f"agreement {agreement.id} v{agreement.version} is older than the submitted "
                f"v{existing[-1].version}",
                hint=f"give the changed agreement version {existing[-1].version + 1}",
            )
        now = datetime.now(UTC)
        with session_scope(self.engine) as session:
            session.add(
                AgreementVersion(
                    agreement_id=agreement.id,
                    version=agreement.version,
                    digest=digest,
                    terms=canonical_terms(agreement),
                    submitted_at=now,
                    submitted_by=actor,
                )
            )
            self._event(session, agreement.id, agreement.version, "submitted", None, actor, None)
        self._audit(actor, "agreement.submitted", agreement.id, agreement.version, digest=digest)
        record = self.record(agreement.id, agreement.version)
        assert record is not None
        return record

    def approve(self, approval: SignedApproval, actor: str) -> StatusReport:
        """Record one lead's signature; the version is approved once the provider's and the hub
        controller's leads have both signed."""
        s = approval.statement
        record = self._submitted(s.agreement_id, s.version)
        terms = record.agreement()
        if s.digest != record.digest:
            raise AgreementError(
                f"the signature is for other terms than agreement {s.agreement_id} "
                f"v{s.version} (digest {s.digest[:12]}, submitted {record.digest[:12]})",
                hint="sign the digest shown on the agreement's review page",
            )
        if record.revoked is not None:
            raise AgreementError(f"agreement {s.agreement_id} v{s.version} was revoked")
        orgs = {p.org: p for p in terms.parties}
        if s.org not in orgs:
            raise AgreementError(
                f"{s.org} is not a party to agreement {s.agreement_id} v{s.version}"
            )
        lead = orgs[s.org].data_protection_lead
        if s.signer_email != lead.email:
            raise AgreementError(
                f"agreement {s.agreement_id} v{s.version} names {lead.name} as the data "
                f"protection lead of {s.org}; this signature is by someone else",
                hint="the named lead signs with their own registered key",
            )
        standing, _ = valid_signatures(record, self.signers)
        if s.org in standing:
            raise AgreementError(
                f"{s.org} has already signed agreement {s.agreement_id} v{s.version}"
            )
        # a signature of this org that no longer verifies (its key was withdrawn) is replaced
        replacing = any(a.statement.org == s.org for a in record.signatures)
        checked = dataclasses.replace(record, signatures=(approval,))
        good, problems = valid_signatures(checked, self.signers)
        if s.org not in good:
            raise AgreementError(
                f"the signature of {s.org} was not accepted: {'; '.join(problems)}",
                hint="register the lead's public key under keys/public (hub signers register)",
            )
        now = datetime.now(UTC)
        with session_scope(self.engine) as session:
            if replacing:
                old = session.get(AgreementSignature, (s.agreement_id, s.version, s.org))
                if old is not None:
                    session.delete(old)
                    session.flush()
            session.add(
                AgreementSignature(
                    agreement_id=s.agreement_id,
                    version=s.version,
                    org=s.org,
                    key_id=s.key_id,
                    signer_email=s.signer_email,
                    digest=s.digest,
                    signed_at=datetime.fromisoformat(s.signed_at.replace("Z", "+00:00")),
                    signature=approval.to_token(),
                    recorded_at=now,
                )
            )
            self._event(session, s.agreement_id, s.version, "signed", s.org, actor, None)
        self._audit(
            actor,
            "agreement.re-signed" if replacing else "agreement.signed",
            s.agreement_id,
            s.version,
            org=s.org,
            key_id=s.key_id,
            signer=s.signer_email,
        )
        report = status_of(terms, self.records(terms.id), self.signers, _today())
        if not report.awaiting:
            with session_scope(self.engine) as session:
                self._event(session, s.agreement_id, s.version, "approved", None, actor, None)
            self._audit(
                actor,
                "agreement.approved",
                s.agreement_id,
                s.version,
                signed_by=list(report.signed_by),
            )
        return report

    def suspend(self, agreement_id: str, version: int, org: str, actor: str, reason: str) -> None:
        record, terms = self._party_action(agreement_id, version, org, "suspend", reason)
        if record.suspension is not None:
            raise AgreementError(f"agreement {agreement_id} v{version} is already suspended")
        if not _all_signed(record, terms, self.signers):
            raise AgreementError(
                f"agreement {agreement_id} v{version} is not approved, so it cannot be suspended",
                hint="revoke it instead to stop it being approved",
            )
        self._step(agreement_id, version, "suspended", org, actor, reason)

    def resume(self, agreement_id: str, version: int, org: str, actor: str, reason: str) -> None:
        record, _ = self._party_action(agreement_id, version, org, "lift the suspension of", reason)
        suspension = record.suspension
        if suspension is None:
            raise AgreementError(f"agreement {agreement_id} v{version} is not suspended")
        if suspension.org != org:
            raise AgreementError(
                f"agreement {agreement_id} v{version} was suspended by {suspension.org}; only "
                "its data protection lead can lift the suspension"
            )
        self._step(agreement_id, version, "resumed", org, actor, reason)

    def revoke(self, agreement_id: str, version: int, org: str, actor: str, reason: str) -> None:
        self._party_action(agreement_id, version, org, "revoke", reason)
        self._step(agreement_id, version, "revoked", org, actor, reason)

    # -- helpers ---------------------------------------------------------------------------

    def _submitted(self, agreement_id: str, version: int) -> LifecycleRecord:
        record = self.record(agreement_id, version)
        if record is None:
            raise NotFoundError(
                f"agreement {agreement_id} v{version} has not been submitted for approval",
                hint="submit it first: hub agreement submit FILE",
            )
        return record

    def _party_action(
        self, agreement_id: str, version: int, org: str, verb: str, reason: str
    ) -> tuple[LifecycleRecord, Agreement]:
        record = self._submitted(agreement_id, version)
        terms = record.agreement()
        if org not in {p.org for p in terms.parties}:
            raise AgreementError(
                f"{org} is not a party to agreement {agreement_id} v{version}, so it cannot "
                f"{verb} it"
            )
        if record.revoked is not None:
            raise AgreementError(f"agreement {agreement_id} v{version} was already revoked")
        if not reason.strip():
            raise AgreementError(f"say why you {verb} agreement {agreement_id} v{version}")
        return record, terms

    def _step(
        self, agreement_id: str, version: int, action: str, org: str, actor: str, reason: str
    ) -> None:
        with session_scope(self.engine) as session:
            self._event(session, agreement_id, version, action, org, actor, reason.strip())
        self._audit(
            actor, f"agreement.{action}", agreement_id, version, org=org, reason=reason.strip()
        )

    @staticmethod
    def _event(
        session: Any,
        agreement_id: str,
        version: int,
        action: str,
        org: str | None,
        actor: str,
        reason: str | None,
    ) -> None:
        session.add(
            AgreementEvent(
                agreement_id=agreement_id,
                version=version,
                action=action,
                org=org,
                actor=actor,
                reason=reason,
                at=datetime.now(UTC),
            )
        )

    def _audit(
        self, actor: str, action: str, agreement_id: str, version: int, **detail: object
    ) -> None:
        audit.record(
            self.engine,
            actor=actor,
            action=action,
            subject=f"agreement:{agreement_id}",
            detail={"version": version, **detail},
        )


def _all_signed(record: LifecycleRecord, terms: Agreement, signers: SignerDirectory) -> bool:
    good, _ = valid_signatures(record, signers)
    return all(org in good for org in terms.signing_orgs)


def _today() -> date:
    return datetime.now(UTC).date()


def statement_for(record: LifecycleRecord, org: str) -> ApprovalStatement | None:
    """The signature statement ``org`` made for this version, if any."""
    return next((a.statement for a in record.signatures if a.statement.org == org), None)
