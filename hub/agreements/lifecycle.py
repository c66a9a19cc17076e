"""An agreement's lifecycle, and the one function that decides whether a partner may send.

Lifecycle of one version: draft (a file not yet submitted) -> awaiting approval (submitted; the
store keeps its exact terms and digest) -> approved (signed by the named data protection leads of
the provider and the hub controller). An approved version is in force only inside its validity
window; a party's lead can suspend it (and lift the suspension) or revoke it (final). Approving a
later version supersedes it. Any change to the terms is a new version that needs fresh approval.

``may_send`` is the single answer to "may partner P send an extract under agreement A now?".
Ingestion, the DAGs and publication ask nothing else. It verifies the signatures every time, so
a byte changed in an approved file, a forged signature or an unregistered key is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from hub.agreements.canonical import digest_of_terms, terms_digest
from hub.agreements.model import Agreement, Status
from hub.agreements.signing import SignedApproval, SignerDirectory, verify_approval


@dataclass(frozen=True)
class LifecycleEvent:
    action: str  # submitted, signed, approved, suspended, resumed, revoked
    org: str | None
    actor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class LifecycleRecord:
    """What the store knows of one submitted version."""

    agreement_id: str
    version: int
    digest: str
    terms: dict[str, object]
    submitted_at: datetime
    submitted_by: str
    signatures: tuple[SignedApproval, ...] = ()
    events: tuple[LifecycleEvent, ...] = ()

    def agreement(self) -> Agreement:
        """The terms as a model (as submitted; compare ``digest`` before trusting them)."""
        return Agreement.model_validate(self.terms)

    @property
    def revoked(self) -> LifecycleEvent | None:
        return next((e for e in self.events if e.action == "revoked"), None)

    @property
    def suspension(self) -> LifecycleEvent | None:
        """The suspension in effect, if the latest suspend/resume step was a suspension."""
        steps = [e for e in self.events if e.action in {"suspended", "resumed"}]
        return steps[-1] if steps and steps[-1].action == "suspended" else None


@dataclass(frozen=True)
class StatusReport:
    """Where one version stands today, and why."""

    agreement_id: str
    version: int
    status: Status
    in_force: bool
    reason: str
    signed_by: tuple[str, ...] = ()
    awaiting: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def valid_signatures(
    record: LifecycleRecord, signers: SignerDirectory
) -> tuple[dict[str, SignedApproval], list[str]]:
    """Signatures that verify, are over this version's digest and were made by the lead the
    terms name for that organisation; and a reason for each one that is not."""
    problems: list[str] = []
    good: dict[str, SignedApproval] = {}
    if digest_of_terms(record.terms) != record.digest:
        problems.append("the stored copy of the terms does not match its digest")
    try:
        terms = record.agreement()
    except ValueError:
        return good, [*problems, "the stored terms are no longer a valid agreement"]
    leads = {p.org: p.data_protection_lead.email for p in terms.parties}
    for approval in record.signatures:
        s = approval.statement
        if (s.agreement_id, s.version, s.digest) != (
            record.agreement_id,
            record.version,
            record.digest,
        ):
            problems.append(f"the signature of {s.org} is for other terms")
            continue
        if leads.get(s.org) != s.signer_email:
            problems.append(
                f"the signature of {s.org} is not by the data protection lead the agreement names"
            )
            continue
        reason = verify_approval(approval, signers)
        if reason is not None:
            problems.append(reason)
            continue
        good[s.org] = approval
    return good, problems


def status_of(
    agreement: Agreement,
    records: Sequence[LifecycleRecord],
    signers: SignerDirectory,
    on: date,
) -> StatusReport:
    """The status of the version in ``agreement`` (normally the file in contracts/), given every
    version of it the store knows and the registered signing keys."""
    name = f"agreement {agreement.id} v{agreement.version}"
    report = _Report(agreement.id, agreement.version)
    record = next((r for r in records if r.version == agreement.version), None)
    if record is None:
        return report(Status.DRAFT, f"{name} is a draft: it has not been submitted for approval")
    if record.digest != terms_digest(agreement):
        return report(
            Status.ALTERED,
            f"{name} differs from the version submitted for approval: any change needs a new "
            "version number and fresh approval",
            problems=("the terms differ from the submitted digest",),
        )
    good, problems = valid_signatures(record, signers)
    signed = tuple(sorted(good))
    awaiting = tuple(org for org in agreement.signing_orgs if org not in good)
    if record.revoked is not None:
        by = record.revoked.org or "a party"
        return report(
            Status.REVOKED,
            f"{name} was revoked by {by} on {record.revoked.at.date().isoformat()}",
            signed,
            problems=problems,
        )
    if awaiting:
        detail = "; ".join(problems) if problems else "awaiting " + ", ".join(awaiting)
        return report(
            Status.AWAITING_APPROVAL,
            f"{name} is awaiting approval ({detail})",
            signed,
            awaiting,
            problems,
        )
    later = [r for r in records if r.version > agreement.version and _approved(r, signers)]
    if later:
        newest = max(r.version for r in later)
        return report(
            Status.SUPERSEDED,
            f"{name} was superseded by version {newest}; install version {newest} in contracts/",
            signed,
            problems=problems,
        )
    if record.suspension is not None:
        s = record.suspension
        return report(
            Status.SUSPENDED,
            f"{name} was suspended by {s.org or 'a party'} on {s.at.date().isoformat()}",
            signed,
            problems=problems,
        )
    if on < agreement.valid_from:
        reason = f"{name} is approved but not in force until {agreement.valid_from.isoformat()}"
        return report(Status.APPROVED, reason, signed, problems=problems)
    if on > agreement.valid_until:
        reason = f"{name} expired on {agreement.valid_until.isoformat()}"
        return report(Status.APPROVED, reason, signed, problems=problems)
    return report(
        Status.APPROVED,
        f"{name} is approved and in force",
        signed,
        problems=problems,
        in_force=True,
    )


def _approved(record: LifecycleRecord, signers: SignerDirectory) -> bool:
    try:
        terms = record.agreement()
    except ValueError:
        return False
    good, _ = valid_signatures(record, signers)
    return record.revoked is None and all(org in good for org in terms.signing_orgs)


@dataclass(frozen=True)
class _Report:
    agreement_id: str
    version: int

    def __call__(
        self,
        status: Status,
        reason: str,
        signed: tuple[str, ...] = (),
        awaiting: tuple[str, ...] = (),
        problems: Sequence[str] = (),
        *,
        in_force: bool = False,
    ) -> StatusReport:
        return StatusReport(
            self.agreement_id,
            self.version,
            status,
            in_force,
            reason,
            signed,
            awaiting,
            tuple(problems),
        )


def may_send(
    agreement: Agreement,
    sender_org: str,
    on: date,
    records: Sequence[LifecycleRecord],
    signers: SignerDirectory,
) -> Decision:
    """May ``sender_org`` send an extract under ``agreement`` on day ``on``?"""
    name = f"agreement {agreement.id} v{agreement.version}"
    if sender_org != agreement.provider:
        return Decision(
            False,
            f"{name} is not {sender_org}'s to send under: its provider is {agreement.provider}",
        )
    report = status_of(agreement, records, signers, on)
    return Decision(report.in_force, report.reason)
