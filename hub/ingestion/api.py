"""The partner API (``/api/v1``): upload an extract under an agreement, then follow it.

``POST /api/v1/agreements/{agreement_id}/extracts`` takes the raw file as the request body and
streams it, encrypted as it arrives, into a hidden partial file in ``landing/`` (never whole in
memory, never in plain text on disk) while checking its size, UTF-8 and header; once complete and
checked it is recorded as received (``hub.pipeline.landing.land``) and the receipt returned. A
refusal or a broken connection deletes the partial file, and a crash leaves only ciphertext that
nothing counts (swept when the hub starts). Receiving the same file again gives the same receipt
(200 instead of 201) and stores it once.
``GET /api/v1/extracts/{extract_id}`` and ``.../report`` answer only the partner that sent it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hub import audit
from hub.agreements import get_agreement
from hub.agreements.loader import load_agreements_leniently
from hub.agreements.model import Agreement
from hub.errors import AgreementError, HubError, InfrastructureError, IntegrityError
from hub.ingestion.credentials import Credential, authenticate_partner
from hub.ingestion.deliveries import DeliveryState, deliveries
from hub.ingestion.history import quality_history
from hub.ingestion.problems import ProblemDocument, ProblemError, from_hub_error
from hub.ingestion.spool import Spool
from hub.pipeline.landing import land, open_landing
from hub.privacy.keys import open_keyring
from hub.privacy.sealed import SealWriter
from hub.quality.served import data_docs_file
from hub.store import Extract, Release, ReleaseInput, session_scope
from hub.times import as_utc
from hub.web.signin import Hub, hub_of

log = logging.getLogger(__name__)

CONTENT_TYPES: Final[dict[str, str | None]] = {
    "text/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/vnd.apache.parquet": "parquet",
    "application/octet-stream": None,  # whatever the agreement says
}
AGREEMENT_ID: Final = r"^[a-z0-9][a-z0-9-]*$"
EXTRACT_ID: Final = r"^ext-[0-9a-f]{24}$"
REALM: Final = 'Bearer realm="svdhub"'

bearer = HTTPBearer(
    auto_error=False,
    description="A partner credential issued with `hub partners issue` (svdhub_pk_...).",
)


class Receipt(BaseModel):
    """What the hub took: the extract id to follow it by, and the file's checksum."""

    extract_id: str
    agreement_id: str
    agreement_version: int
    sha256: str
    size_bytes: int
    rows_estimate: int | None
    status: str
    received_at: datetime
    next: str


class ExtractStatus(BaseModel):
    """Where an extract is: received, processing, rejected (its report says why), staged, or
    published (in the newest release that includes it, named by ``release_id``)."""

    extract_id: str
    agreement_id: str
    agreement_version: int
    status: str
    sha256: str
    size_bytes: int
    rows: int | None
    received_at: datetime
    updated_at: datetime
    release_id: str | None = None


class ExtractReport(BaseModel):
    """The quality report: counts and row numbers per column and rule, never values (null
    until the pipeline has checked the extract)."""

    extract_id: str
    agreement_id: str
    status: str
    report: dict[str, Any] | None


class Feed(BaseModel):
    """One agreement's feed: received for the current period, due, late or not in force."""

    agreement_id: str
    provider: str
    state: DeliveryState
    due_at: datetime | None
    late_at: datetime | None
    last_received_at: datetime | None
    reason: str


class Deliveries(BaseModel):
    """The feeds a partner provides under agreements, late ones first."""

    partner: str
    checked_at: datetime
    late: int
    feeds: list[Feed]


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Refusals, documented as problem documents; a 401 also names its ``WWW-Authenticate``
    challenge. Every route also answers 503 when the hub's database or storage fails."""
    documented: dict[int | str, dict[str, Any]] = {
        status: {"model": ProblemDocument, "description": "Refused (RFC 9457 problem document)"}
        for status in (*statuses, 503)
    }
    if 401 in documented:
        documented[401]["headers"] = {
            "WWW-Authenticate": {
                "description": f'The challenge: {REALM}, with error="invalid_token" when a '
                "token was sent but is not valid",
                "required": True,
                "schema": {"type": "string"},
            }
        }
    return documented


LOCATION: Final[dict[str, Any]] = {
    "Location": {
        "description": "The extract's status address, GET /api/v1/extracts/{extract_id}",
        "required": True,
        "schema": {"type": "string"},
    }
}


def _unauthorised(detail: str, *, error: str | None) -> ProblemError:
    challenge = REALM if error is None else f'{REALM}, error="{error}"'
    return ProblemError(
        401,
        "unauthorised",
        detail,
        hint="send the token from `hub partners issue` as 'Authorization: Bearer <token>'",
        headers={"WWW-Authenticate": challenge},
    )


def partner(
    request: Request,
    auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Credential:
    """The partner credential of the request, or a 401 problem."""
    if auth is None:
        raise _unauthorised("no partner credential was sent", error=None)
    credential = authenticate_partner(hub_of(request).engine, auth.credentials)
    if credential is None:
        log.warning("refused an API request with an unknown or revoked credential")
        raise _unauthorised(
            "the credential is not valid: unknown, mistyped or revoked", error="invalid_token"
        )
    return credential


Partner = Annotated[Credential, Depends(partner)]


def _format_of(request: Request, agreement: Agreement) -> str:
    raw = request.headers.get("content-type", "")
    media, _, params = raw.partition(";")
    media = media.strip().lower()
    charset = next(
        (
            value.strip().strip('"').lower()
            for key, _, value in (p.partition("=") for p in params.split(";"))
            if key.strip().lower() == "charset"
        ),
        "utf-8",
    )
    expected = agreement.delivery.format
    accepted = ", ".join(t for t, f in CONTENT_TYPES.items() if f in (expected, None))
    if media not in CONTENT_TYPES or CONTENT_TYPES[media] not in (expected, None):
        shown = media or "none"
        raise ProblemError(
            415,
            "format_mismatch",
            f"agreement {agreement.id} v{agreement.version} takes {expected} files; the request "
            f"says {shown}",
            agreement=agreement.id,
            rule="delivery.format",
            hint=f"send the file as {expected} with Content-Type {accepted}",
        )
    if charset not in ("utf-8", "utf8"):
        raise ProblemError(
            415,
            "encoding_invalid",
            f"the hub takes UTF-8 files; the request says charset {charset}",
            agreement=agreement.id,
            rule="utf8",
            hint="export the file as UTF-8",
        )
    return expected


def _check_length(request: Request, agreement: Agreement, max_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ProblemError(
            413,
            "too_large",
            f"the file is larger than this hub accepts ({max_bytes:,} bytes); nothing was stored",
            agreement=agreement.id,
            rule="max_bytes",
            hint="split the extract into smaller files, or ask the hub's operators",
        )


def _may_send(hub: Hub, agreement: Agreement, credential: Credential) -> None:
    decision = hub.registry.may_send(agreement, credential.org, actor=credential.actor)
    if not decision:
        theirs = credential.org == agreement.provider
        raise ProblemError(
            403,
            "agreement_not_in_force" if theirs else "not_your_agreement",
            decision.reason,
            agreement=agreement.id,
            rule="agreement.in_force" if theirs else "agreement.provider",
            hint="ask your data protection lead"
            if theirs
            else "upload under an agreement your organisation provides data for",
        )


def _land(
    hub: Hub,
    agreement: Agreement,
    credential: Credential,
    writer: SealWriter,
    spool: Spool,
    source_name: str,
) -> tuple[Receipt, bool]:
    """Record the sealed upload as received (blocking: run in a worker thread)."""
    try:
        landed = land(
            hub.settings,
            hub.engine,
            agreement,
            writer,
            sender_org=credential.org,
            source_name=source_name,
            file_format=spool.fmt,
        )
    except AgreementError:
        # suspended, revoked or expired while the file was arriving: refuse in the same words
        # as before the upload
        _may_send(hub, agreement, credential)
        raise
    record = landed.record
    if record.sha256 != writer.sha256 or record.size_bytes != spool.size:
        raise IntegrityError(f"extract {record.id}: the recorded file differs from the upload")
    audit.record(
        hub.engine,
        actor=credential.actor,
        action="extract.received",
        subject=f"extract:{record.id}",
        detail={
            "agreement": agreement.id,
            "version": agreement.version,
            "sha256": record.sha256,
            "size_bytes": record.size_bytes,
            "repeat": landed.repeat,
        },
    )
    receipt = Receipt(
        extract_id=record.id,
        agreement_id=record.agreement_id,
        agreement_version=record.agreement_version,
        sha256=record.sha256,
        size_bytes=record.size_bytes,
        rows_estimate=spool.rows_estimate,
        status=record.status,
        received_at=as_utc(record.received_at),
        next=(
            f"the pipeline of agreement {agreement.id} stages it; poll "
            f"GET /api/v1/extracts/{record.id} for its status and "
            f"GET /api/v1/extracts/{record.id}/report for its quality report"
        ),
    )
    return receipt, landed.repeat


def _start_pipeline(hub: Hub, agreement: Agreement, receipt: Receipt) -> Receipt:
    """Start the agreement's pipeline for a received extract. The extract is already sealed and
    recorded, so a trigger that fails (Airflow unreachable) does not undo the upload: the
    receipt says the extract waits, and the operators are told in the log."""
    try:
        hub.trigger.extract_received(agreement, receipt.extract_id)
    except InfrastructureError as exc:
        log.error(
            "extract %s of agreement %s is received but its pipeline did not start: %s",
            receipt.extract_id,
            agreement.id,
            exc.message,
        )
        waiting = (
            f"the extract is received and safe, but the pipeline of agreement {agreement.id} "
            "could not be started just now; the hub's operators start it (sending the same "
            f"file again also retries). Poll GET /api/v1/extracts/{receipt.extract_id}"
        )
        return receipt.model_copy(update={"next": waiting})
    return receipt


def _newest_release_with(hub: Hub, extract_id: str) -> str | None:
    """The newest release the extract went into, if any."""
    with session_scope(hub.engine) as session:
        return session.scalar(
            select(Release.id)
            .join(ReleaseInput, ReleaseInput.release_id == Release.id)
            .where(ReleaseInput.extract_id == extract_id)
            .order_by(Release.created_at.desc(), Release.id.desc())
            .limit(1)
        )


def _own_extract(request: Request, extract_id: str, credential: Credential) -> Extract:
    """The extract when ``credential``'s organisation sent it; otherwise 404 (never 403, so ids
    of other partners' extracts do not show), with the refusal audited."""
    engine = hub_of(request).engine
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
    if record is not None and record.sender_org != credential.org:
        audit.record(
            engine,
            actor=credential.actor,
            action="access.refused",
            subject=f"extract:{extract_id}",
            detail={"reason": "another organisation's extract"},
        )
        record = None
    if record is None:
        raise ProblemError(
            404,
            "extract_not_found",
            f"{credential.org} has sent no extract {extract_id}",
            hint="use the extract_id of one of your own receipts",
        )
    return record


def build_router(max_bytes: int) -> APIRouter:
    """The API's routes; ``max_bytes`` caps an upload's size (``HUB_MAX_UPLOAD_BYTES``)."""
    router = APIRouter(prefix="/api/v1", tags=["extracts"])

    @router.post(
        "/agreements/{agreement_id}/extracts",
        status_code=201,
        response_model=Receipt,
        summary="Upload an extract under an agreement",
        responses={
            200: {
                "model": Receipt,
                "description": "The same file was received before",
                "headers": LOCATION,
            },
            201: {"description": "Received", "headers": LOCATION},
            **_problems(401, 403, 404, 413, 415, 422),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The extract file itself, in the agreement's format.",
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in CONTENT_TYPES
                },
            }
        },
    )
    async def upload(
        request: Request,
        response: Response,
        credential: Partner,
        agreement_id: Annotated[str, PathParam(pattern=AGREEMENT_ID, max_length=100)],
        filename: Annotated[
            str | None, Query(max_length=255, description="The file's name at the partner")
        ] = None,
    ) -> Receipt:
        hub = hub_of(request)
        try:
            agreement = await run_in_threadpool(
                get_agreement, hub.settings.contracts_dir, agreement_id
            )
            await run_in_threadpool(_may_send, hub, agreement, credential)
            fmt = _format_of(request, agreement)
            _check_length(request, agreement, max_bytes)
            keyring = await run_in_threadpool(open_keyring, hub.settings)
            with open_landing(hub.settings, keyring, agreement) as writer:
                spool = Spool(agreement, fmt, writer, max_bytes)
                async for chunk in request.stream():
                    spool.feed(chunk)
                spool.finish()
                receipt, repeat = await run_in_threadpool(
                    _land, hub, agreement, credential, writer, spool, filename or f"upload.{fmt}"
                )
        except HubError as exc:
            raise from_hub_error(exc, agreement=agreement_id) from None
        if receipt.status == "received":  # new, or sent again while it still waits
            receipt = await run_in_threadpool(_start_pipeline, hub, agreement, receipt)
        response.status_code = 200 if repeat else 201
        response.headers["Location"] = f"/api/v1/extracts/{receipt.extract_id}"
        return receipt

    @router.get(
        "/extracts/{extract_id}",
        response_model=ExtractStatus,
        summary="An extract's status",
        responses=_problems(401, 404, 422),
    )
    def extract_status(
        request: Request,
        credential: Partner,
        extract_id: Annotated[str, PathParam(pattern=EXTRACT_ID)],
    ) -> ExtractStatus:
        record = _own_extract(request, extract_id, credential)
        release_id = _newest_release_with(hub_of(request), record.id)
        return ExtractStatus(
            extract_id=record.id,
            agreement_id=record.agreement_id,
            agreement_version=record.agreement_version,
            status="published" if release_id is not None else record.status,
            release_id=release_id,
            sha256=record.sha256,
            size_bytes=record.size_bytes,
            rows=record.rows,
            received_at=as_utc(record.received_at),
            updated_at=as_utc(record.updated_at),
        )

    @router.get(
        "/extracts/{extract_id}/report",
        response_model=ExtractReport,
        summary="An extract's quality report",
        responses=_problems(401, 404, 422),
    )
    def extract_report(
        request: Request,
        credential: Partner,
        extract_id: Annotated[str, PathParam(pattern=EXTRACT_ID)],
    ) -> ExtractReport:
        record = _own_extract(request, extract_id, credential)
        return ExtractReport(
            extract_id=record.id,
            agreement_id=record.agreement_id,
            status=record.status,
            report=record.report,
        )

    @router.get(
        "/extracts/{extract_id}/docs/{path:path}",
        summary="An extract's Great Expectations Data Docs (HTML)",
        response_class=Response,
        responses={200: {"content": {"text/html": {}}}, **_problems(401, 404, 422)},
    )
    def extract_docs(
        request: Request,
        credential: Partner,
        extract_id: Annotated[str, PathParam(pattern=EXTRACT_ID)],
        path: str,
    ) -> Response:
        record = _own_extract(request, extract_id, credential)
        try:
            found = data_docs_file(hub_of(request).settings, record.agreement_id, record.id, path)
        except HubError as exc:
            raise from_hub_error(exc, agreement=record.agreement_id) from None
        return Response(found.content, media_type=found.media_type)

    @router.get(
        "/agreements/{agreement_id}/quality",
        tags=["deliveries"],
        summary="Quality history of your feed under an agreement",
        responses=_problems(401, 403, 404, 422),
    )
    def my_quality(
        request: Request,
        credential: Partner,
        agreement_id: Annotated[str, PathParam(pattern=AGREEMENT_ID, max_length=100)],
    ) -> dict[str, Any]:
        """Per delivery period: rows, timeliness, rule pass rates and completeness (counts and
        rates only). For the agreement's provider."""
        hub = hub_of(request)
        try:
            agreement = get_agreement(hub.settings.contracts_dir, agreement_id)
        except HubError as exc:
            raise from_hub_error(exc, agreement=agreement_id) from None
        if agreement.provider != credential.org:
            raise ProblemError(
                403,
                "not_your_agreement",
                f"{credential.org} is not the provider of agreement {agreement.id}",
                agreement=agreement.id,
                rule="agreement.provider",
                hint="ask for the quality history of a feed your organisation provides",
            )
        return quality_history(hub.engine, agreement).to_json()

    @router.get(
        "/deliveries",
        response_model=Deliveries,
        tags=["deliveries"],
        summary="Your feeds: received, due or late",
        responses=_problems(401, 422),
    )
    def my_deliveries(
        request: Request,
        credential: Partner,
        state: Annotated[
            DeliveryState | None, Query(description="Only feeds in this state, e.g. late")
        ] = None,
    ) -> Deliveries:
        hub = hub_of(request)
        now = datetime.now(UTC)
        agreements, _ = load_agreements_leniently(hub.settings.contracts_dir)
        found = deliveries(agreements.values(), hub.registry, now, provider=credential.org)
        feeds = [Feed(**vars(d)) for d in found if state is None or d.state is state]
        return Deliveries(
            partner=credential.org,
            checked_at=now,
            late=sum(1 for d in found if d.state is DeliveryState.LATE),
            feeds=feeds,
        )

    return router
