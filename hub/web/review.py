"""Agreement pages for data protection leads: the list, one agreement in plain words with its risk
flags, status, signatures and changes, the audit trail, and the forms that approve (sign),
suspend, lift a suspension or revoke.

Who may do what:

- data protection leads and admins read every agreement; analysts are refused;
- only a lead whose organisation is a party acts on an agreement, and only with an approval
  token made by their own key (nobody pastes another lead's approval);
- the audit trail is for the parties' leads and for admins.

Every refusal is written to the audit log (``access.refused``) before the page says no.
The wording of the terms comes from ``hub.agreements.plain``, ``diff`` and ``risks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, RedirectResponse, Response

from hub import audit
from hub.accounts.users import Role
from hub.agreements.diff import Change, diff_agreements
from hub.agreements.lifecycle import LifecycleRecord, StatusReport
from hub.agreements.loader import load_agreements_leniently
from hub.agreements.model import Agreement, Status
from hub.agreements.plain import describe
from hub.agreements.risks import risk_flags
from hub.agreements.signing import SignedApproval
from hub.errors import AgreementError, NotFoundError, UserError
from hub.ingestion.deliveries import DeliveryState, deliveries
from hub.ingestion.history import CHART_HEIGHT, CHART_WIDTH, chart, quality_history
from hub.quality.served import data_docs_file
from hub.web.signin import (
    CSRF_FIELD,
    Hub,
    SignedIn,
    Viewer,
    check_csrf,
    hub_of,
    landing_page,
    refuse,
    render,
)

router = APIRouter()

AgreementId = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]
VersionNo = Annotated[int, PathParam(ge=1, le=1_000_000)]
MAX_REASON = 2000
AUDIT_PAGE_LIMIT = 1000

STATUS_WORDS: Final[dict[Status, str]] = {
    Status.DRAFT: "draft: not submitted for approval",
    Status.AWAITING_APPROVAL: "awaiting approval",
    Status.APPROVED: "approved",
    Status.SUSPENDED: "suspended",
    Status.REVOKED: "revoked",
    Status.SUPERSEDED: "superseded",
    Status.ALTERED: "altered: the file differs from the version submitted",
}

DONE_WORDS: Final[dict[str, str]] = {
    "signed": "Your approval is recorded.",
    "suspended": "The agreement is suspended: partners cannot send data under it.",
    "resumed": "The suspension is lifted.",
    "revoked": "The agreement is revoked.",
}

ACTION_WORDS: Final[dict[str, str]] = {
    "agreement.submitted": "submitted for approval",
    "agreement.signed": "signed by a data protection lead",
    "agreement.approved": "approved: every required signature is in",
    "agreement.suspended": "suspended",
    "agreement.resumed": "suspension lifted",
    "agreement.revoked": "revoked",
    "access.refused": "access refused",
    "upload.refused": "upload refused",
}

DETAIL_WORDS: Final[dict[str, str]] = {
    "version": "version",
    "org": "organisation",
    "action": "tried to",
    "role": "role",
    "page": "page",
    "reason": "reason",
    "key_id": "key",
    "signer": "signer",
    "signed_by": "signed by",
    "digest": "digest",
    "sender": "sender",
}

VERBS: Final[dict[str, str]] = {
    "approve": "approve",
    "suspend": "suspend",
    "resume": "lift the suspension of",
    "revoke": "revoke",
    "read_audit": "read the audit trail of",
}


# -- what the store and the contracts folder know of one agreement ---------------------------


@dataclass(frozen=True)
class Versions:
    """One agreement: its file in the contracts folder (if any) and its submitted versions."""

    agreement_id: str
    file: Agreement | None
    records: tuple[LifecycleRecord, ...]

    @property
    def numbers(self) -> list[int]:
        found = {r.version for r in self.records}
        if self.file is not None:
            found.add(self.file.version)
        return sorted(found)

    @property
    def newest(self) -> int:
        return self.numbers[-1]

    def record(self, version: int) -> LifecycleRecord | None:
        return next((r for r in self.records if r.version == version), None)

    def terms(self, version: int) -> Agreement:
        """The terms of one version: as submitted when it was (what the leads sign), else the
        file's draft."""
        record = self.record(version)
        if record is not None:
            return _stored_terms(record)
        if self.file is not None and self.file.version == version:
            return self.file
        raise NotFoundError(
            f"agreement {self.agreement_id} has no version {version}",
            hint="versions: " + ", ".join(str(n) for n in self.numbers),
        )

    def status_subject(self, version: int) -> Agreement:
        """What the status is computed for: the file when it is at this version (so an edited
        file shows as altered), else the submitted terms."""
        if self.file is not None and self.file.version == version:
            return self.file
        return self.terms(version)

    def previous(self, version: int) -> LifecycleRecord | None:
        """The newest submitted version before ``version``."""
        earlier = [r for r in self.records if r.version < version]
        return earlier[-1] if earlier else None

    def party_orgs(self) -> set[str]:
        """Every organisation a party to any version (for the audit trail)."""
        orgs: set[str] = set()
        if self.file is not None:
            orgs.update(p.org for p in self.file.parties)
        for record in self.records:
            try:
                orgs.update(p.org for p in record.agreement().parties)
            except ValueError:
                continue
        return orgs


def _stored_terms(record: LifecycleRecord) -> Agreement:
    try:
        return record.agreement()
    except ValueError:
        raise AgreementError(
            f"the stored terms of agreement {record.agreement_id} v{record.version} are no "
            "longer a valid agreement",
            hint="the store was edited outside the hub; check the audit log",
        ) from None


def _files(hub: Hub) -> dict[str, Agreement]:
    return load_agreements_leniently(hub.settings.contracts_dir)[0]


def _versions(hub: Hub, agreement_id: str, files: dict[str, Agreement] | None = None) -> Versions:
    file = (files if files is not None else _files(hub)).get(agreement_id)
    records = tuple(hub.registry.records(agreement_id))
    if file is None and not records:
        raise NotFoundError(
            f"there is no agreement {agreement_id}",
            hint="the agreements the hub knows are listed at /agreements",
        )
    return Versions(agreement_id, file, records)


# -- who may do what ---------------------------------------------------------------------------


def _subject(agreement_id: str) -> str:
    return f"agreement:{agreement_id}"


def _require_reviewer(hub: Hub, viewer: Viewer, page: str) -> None:
    """Data protection leads and admins read agreements; anyone else is refused."""
    if viewer.role in {Role.DATA_PROTECTION_LEAD, Role.ADMIN}:
        return
    raise refuse(
        hub,
        viewer,
        "The agreement pages are for data protection leads. You are signed in as "
        f"{viewer.role_words} of {viewer.org}.",
        subject=f"page:{page}",
        detail={"org": viewer.org, "role": viewer.user.role, "page": page},
        hint="Ask your organisation's data protection lead if you need to see an agreement.",
    )


def _require_party_lead(
    hub: Hub, viewer: Viewer, agreement_id: str, version: int, action: str
) -> Agreement:
    """The terms of the version, when the viewer is the lead of one of its parties."""
    terms = _versions(hub, agreement_id).terms(version)
    detail: dict[str, object] = {"version": version, "org": viewer.org, "action": action}
    verb = VERBS[action]
    if viewer.role is not Role.DATA_PROTECTION_LEAD:
        raise refuse(
            hub,
            viewer,
            f"Only the data protection lead of a party can {verb} agreement {agreement_id}. "
            f"You are signed in as {viewer.role_words} of {viewer.org}.",
            subject=_subject(agreement_id),
            detail={**detail, "role": viewer.user.role},
        )
    if viewer.org not in {p.org for p in terms.parties}:
        raise refuse(
            hub,
            viewer,
            f"You are the data protection lead of {viewer.org}, which is not a party to "
            f"agreement {agreement_id}.",
            subject=_subject(agreement_id),
            detail=detail,
            hint="Only the parties' own leads can approve, suspend or revoke an agreement.",
        )
    return terms


@dataclass(frozen=True)
class Actions:
    """The forms the viewer is offered on one version's page."""

    is_party: bool
    approve: bool = False
    suspend: bool = False
    resume: bool = False
    revoke: bool = False

    @property
    def any(self) -> bool:
        return self.approve or self.suspend or self.resume or self.revoke


def _actions(
    viewer: Viewer, terms: Agreement, record: LifecycleRecord | None, report: StatusReport
) -> Actions:
    is_party = viewer.org in {p.org for p in terms.parties}
    lead = is_party and viewer.role is Role.DATA_PROTECTION_LEAD
    if not lead or record is None or record.revoked is not None:
        return Actions(is_party)
    signed = any(a.statement.org == viewer.org for a in record.signatures)
    suspension = record.suspension
    return Actions(
        is_party,
        approve=(
            report.status is Status.AWAITING_APPROVAL
            and viewer.org in terms.signing_orgs
            and not signed
        ),
        suspend=report.status is Status.APPROVED and suspension is None,
        resume=suspension is not None and suspension.org == viewer.org,
        revoke=True,
    )


# -- the list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    version: int
    status: Status
    status_words: str
    reason: str
    provider: str
    is_party: bool
    must_sign: bool


def _org_name(terms: Agreement, org: str) -> str:
    try:
        return terms.party(org).name
    except KeyError:
        return org


def _row(hub: Hub, viewer: Viewer, versions: Versions) -> Row:
    newest = versions.newest
    terms = versions.terms(newest)
    report = hub.registry.status(versions.status_subject(newest))
    is_party = viewer.org in {p.org for p in terms.parties}
    must_sign = (
        is_party
        and viewer.role is Role.DATA_PROTECTION_LEAD
        and report.status is Status.AWAITING_APPROVAL
        and viewer.org in report.awaiting
    )
    return Row(
        id=terms.id,
        title=terms.title,
        version=newest,
        status=report.status,
        status_words=STATUS_WORDS[report.status],
        reason=report.reason,
        provider=_org_name(terms, terms.provider),
        is_party=is_party,
        must_sign=must_sign,
    )


@router.get("/")
def home(viewer: SignedIn) -> Response:
    return RedirectResponse(landing_page(viewer.user), status_code=303)


@router.get("/agreements")
def agreement_list(request: Request, viewer: SignedIn) -> Response:
    hub = hub_of(request)
    _require_reviewer(hub, viewer, "agreements")
    files, broken = load_agreements_leniently(hub.settings.contracts_dir)
    ids = sorted(set(files) | set(hub.registry.agreement_ids()))
    rows = [_row(hub, viewer, _versions(hub, agreement_id, files)) for agreement_id in ids]
    problems = [(e.message, e.hint) for e in broken]
    return render(request, "agreements.html", {"rows": rows, "broken": problems}, viewer=viewer)


@router.get("/deliveries")
def deliveries_page(request: Request, viewer: SignedIn) -> Response:
    """Every feed of the partnership: received, due or late (``hub deliveries`` in a page)."""
    hub = hub_of(request)
    _require_reviewer(hub, viewer, "deliveries")
    now = datetime.now(UTC)
    files, _ = load_agreements_leniently(hub.settings.contracts_dir)
    feeds = deliveries(files.values(), hub.registry, now)
    late = sum(1 for feed in feeds if feed.state is DeliveryState.LATE)
    context = {"feeds": feeds, "late": late, "checked_at": now}
    return render(request, "deliveries.html", context, viewer=viewer)


# -- one agreement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureRow:
    org: str
    org_name: str
    lead: str
    email: str
    key_id: str
    signed_at: str
    verified: bool


def _signatures(
    terms: Agreement, record: LifecycleRecord | None, report: StatusReport
) -> list[SignatureRow]:
    if record is None:
        return []
    rows = []
    for approval in record.signatures:
        s = approval.statement
        try:
            lead = terms.party(s.org).data_protection_lead.name
        except KeyError:
            lead = ""
        rows.append(
            SignatureRow(
                org=s.org,
                org_name=_org_name(terms, s.org),
                lead=lead,
                email=s.signer_email,
                key_id=s.key_id,
                signed_at=s.signed_at.replace("T", " ").replace("Z", " UTC"),
                verified=s.org in report.signed_by,
            )
        )
    return rows


def _changes(versions: Versions, version: int, terms: Agreement) -> tuple[int, list[Change]] | None:
    """The previous submitted version and the changes since it; None for a first version."""
    previous = versions.previous(version)
    if previous is None:
        return None
    return previous.version, list(diff_agreements(_stored_terms(previous), terms))


def sign_command(agreement_id: str, version: int, digest: str) -> str:
    """The command a lead runs on their own machine to sign this exact version."""
    return (
        f"hub agreement sign {agreement_id} --version {version} --digest {digest} "
        "--key <path-to-your-key>"
    )


def _today() -> datetime:
    return datetime.now(UTC)


@router.get("/agreements/{agreement_id}")
def agreement_page(
    request: Request,
    viewer: SignedIn,
    agreement_id: AgreementId,
    version: int | None = None,
    done: str | None = None,
) -> Response:
    hub = hub_of(request)
    _require_reviewer(hub, viewer, "agreement")
    versions = _versions(hub, agreement_id)
    shown = version if version is not None else versions.newest
    terms = versions.terms(shown)
    record = versions.record(shown)
    report = hub.registry.status(versions.status_subject(shown))
    actions = _actions(viewer, terms, record, report)
    context = {
        "agreement": terms,
        "plain": describe(terms),
        "flags": risk_flags(terms, today=_today().date()),
        "report": report,
        "status_words": STATUS_WORDS[report.status],
        "record": record,
        "versions": versions.numbers,
        "shown": shown,
        "changes": _changes(versions, shown, terms),
        "signatures": _signatures(terms, record, report),
        "actions": actions,
        "command": sign_command(agreement_id, shown, record.digest) if record else None,
        "flash": DONE_WORDS.get(done or ""),
        "csrf_field": CSRF_FIELD,
        "is_admin": viewer.role is Role.ADMIN,
        "may_read_audit": viewer.role is Role.ADMIN or actions.is_party,
        "awaiting_names": [_org_name(terms, org) for org in report.awaiting],
        "signed_names": [_org_name(terms, org) for org in report.signed_by],
    }
    return render(request, "agreement.html", context, viewer=viewer)


# -- acting on one version ---------------------------------------------------------------------


def _back(agreement_id: str, version: int, done: str) -> Response:
    return RedirectResponse(
        f"/agreements/{agreement_id}?version={version}&done={done}", status_code=303
    )


def _reason(reason: str) -> str:
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise UserError(f"the reason is longer than {MAX_REASON} characters", hint="shorten it")
    return text


Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


@router.post("/agreements/{agreement_id}/versions/{version}/approve")
def approve(
    request: Request,
    viewer: SignedIn,
    agreement_id: AgreementId,
    version: VersionNo,
    token: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    hub = hub_of(request)
    check_csrf(hub, viewer, csrf, request)
    _require_party_lead(hub, viewer, agreement_id, version, "approve")
    if not token.strip():
        raise UserError(
            "paste the approval token printed by `hub agreement sign`",
            hint="the command to run is shown on the agreement's page",
        )
    approval = SignedApproval.from_token(token)
    s = approval.statement
    if (s.agreement_id, s.version) != (agreement_id, version):
        raise AgreementError(
            f"this approval token is for agreement {s.agreement_id} v{s.version}, not for "
            f"agreement {agreement_id} v{version}",
            hint="sign with the command shown on this page",
        )
    if s.org != viewer.org or s.signer_email.lower() != viewer.email:
        raise refuse(
            hub,
            viewer,
            f"This approval token was made by {s.signer_email} of {s.org}. You can only paste "
            "an approval you signed yourself, with your own key.",
            subject=_subject(agreement_id),
            detail={
                "version": version,
                "org": viewer.org,
                "action": "approve",
                "reason": f"approval token of {s.signer_email} of {s.org}",
            },
        )
    hub.registry.approve(approval, actor=viewer.actor)
    return _back(agreement_id, version, "signed")


@router.post("/agreements/{agreement_id}/versions/{version}/suspend")
def suspend(
    request: Request,
    viewer: SignedIn,
    agreement_id: AgreementId,
    version: VersionNo,
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    hub = hub_of(request)
    check_csrf(hub, viewer, csrf, request)
    _require_party_lead(hub, viewer, agreement_id, version, "suspend")
    hub.registry.suspend(agreement_id, version, viewer.org, viewer.actor, _reason(reason))
    return _back(agreement_id, version, "suspended")


@router.post("/agreements/{agreement_id}/versions/{version}/resume")
def resume(
    request: Request,
    viewer: SignedIn,
    agreement_id: AgreementId,
    version: VersionNo,
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    hub = hub_of(request)
    check_csrf(hub, viewer, csrf, request)
    _require_party_lead(hub, viewer, agreement_id, version, "resume")
    hub.registry.resume(agreement_id, version, viewer.org, viewer.actor, _reason(reason))
    return _back(agreement_id, version, "resumed")


@router.post("/agreements/{agreement_id}/versions/{version}/revoke")
def revoke(
    request: Request,
    viewer: SignedIn,
    agreement_id: AgreementId,
    version: VersionNo,
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    hub = hub_of(request)
    check_csrf(hub, viewer, csrf, request)
    _require_party_lead(hub, viewer, agreement_id, version, "revoke")
    if confirm != "yes":
        raise UserError(
            f"revoking agreement {agreement_id} v{version} is final: tick the box to confirm it",
            hint="to pause sharing for a while, suspend the agreement instead",
        )
    hub.registry.revoke(agreement_id, version, viewer.org, viewer.actor, _reason(reason))
    return _back(agreement_id, version, "revoked")


# -- the audit trail ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str
    actor: str
    action: str
    details: list[str]


def action_words(action: str) -> str:
    return ACTION_WORDS.get(action, action.replace(".", " ").replace("_", " "))


def detail_words(detail: dict[str, object]) -> list[str]:
    """An audit entry's detail as short phrases: ``organisation: merseyvale-police``."""
    phrases = []
    order = list(DETAIL_WORDS)
    keys = sorted(detail, key=lambda k: (order.index(k) if k in order else len(order), k))
    for key in keys:
        raw = detail[key]
        label = DETAIL_WORDS.get(key, key.replace("_", " "))
        value = VERBS.get(raw, raw) if key == "action" and isinstance(raw, str) else raw
        if isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value) or "none"
        elif isinstance(value, dict):
            text = "; ".join(f"{k}: {v}" for k, v in value.items())
        else:
            text = str(value)
        phrases.append(f"{label}: {text}")
    return phrases


def format_time(at: datetime) -> str:
    when = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return when.strftime("%d %b %Y %H:%M:%S UTC")


def _require_party_reader(
    hub: Hub, viewer: Viewer, agreement_id: str, page: str, words: str
) -> Agreement:
    """The newest terms, when the viewer is a lead of one of the agreement's parties or an
    admin; otherwise a refusal (audited as ``read_<page>``)."""
    _require_reviewer(hub, viewer, page)
    versions = _versions(hub, agreement_id)
    if viewer.role is not Role.ADMIN and viewer.org not in versions.party_orgs():
        raise refuse(
            hub,
            viewer,
            f"The {words} of agreement {agreement_id} is for the data protection leads of its "
            f"parties. {viewer.org} is not a party to it.",
            subject=_subject(agreement_id),
            detail={"org": viewer.org, "action": f"read_{page}"},
        )
    return versions.terms(versions.newest)


@router.get("/agreements/{agreement_id}/quality")
def quality_page(request: Request, viewer: SignedIn, agreement_id: AgreementId) -> Response:
    """Rows, timeliness and rule pass rates per delivery period, as a chart and a table."""
    hub = hub_of(request)
    terms = _require_party_reader(hub, viewer, agreement_id, "quality", "quality history")
    history = quality_history(hub.engine, terms)
    context = {
        "agreement": terms,
        "history": history,
        "bars": chart(history),
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
    }
    return render(request, "quality.html", context, viewer=viewer)


@router.get("/agreements/{agreement_id}/quality.json")
def quality_json(request: Request, viewer: SignedIn, agreement_id: AgreementId) -> Response:
    hub = hub_of(request)
    terms = _require_party_reader(hub, viewer, agreement_id, "quality", "quality history")
    return JSONResponse(quality_history(hub.engine, terms).to_json())


@router.get("/agreements/{agreement_id}/extracts/{extract_id}/docs/{path:path}")
def data_docs(
    request: Request,
    viewer: SignedIn,
    agreement_id: AgreementId,
    extract_id: Annotated[str, PathParam(pattern=r"^ext-[0-9a-f]{24}$")],
    path: str,
) -> Response:
    """An extract's Great Expectations Data Docs (counts and row numbers, never values)."""
    hub = hub_of(request)
    _require_party_reader(hub, viewer, agreement_id, "quality", "quality history")
    found = data_docs_file(hub.settings, agreement_id, extract_id, path)
    return Response(found.content, media_type=found.media_type)


@router.get("/agreements/{agreement_id}/audit")
def audit_page(request: Request, viewer: SignedIn, agreement_id: AgreementId) -> Response:
    hub = hub_of(request)
    terms = _require_party_reader(hub, viewer, agreement_id, "audit", "audit trail")
    found = audit.entries(hub.engine, subject=_subject(agreement_id), limit=AUDIT_PAGE_LIMIT)
    rows = [
        AuditRow(e.seq, format_time(e.at), e.actor, action_words(e.action), detail_words(e.detail))
        for e in found
    ]
    context = {
        "agreement": terms,
        "rows": rows,
        "limited": len(found) >= AUDIT_PAGE_LIMIT,
        "limit": AUDIT_PAGE_LIMIT,
    }
    return render(request, "audit.html", context, viewer=viewer)
