"""RFC 9457 problem documents: every refusal of the API, in words a partner's IT team can act on.

A problem carries a stable ``code`` (and a ``type`` URI made from it), the HTTP status, a title,
a ``detail`` sentence, and, where they apply, the agreement, the field, the row and the rule. Like
every hub message it names fields, rows and rules, never the values in them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hub.errors import (
    AgreementError,
    ExtractRejectedError,
    HubError,
    InfrastructureError,
    KeyringError,
    NotFoundError,
)

API_PREFIX: Final = "/api/"
MEDIA_TYPE: Final = "application/problem+json"
TYPE_BASE: Final = "https://svdhub.example/problems/"
CODE_PATTERN: Final = r"^[a-z][a-z0-9_]*$"

TITLES: Final[dict[int, str]] = {
    400: "The request could not be read",
    401: "A valid partner credential is needed",
    403: "This is not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "That cannot be done",
    411: "The request has no length",
    413: "The file is too large",
    415: "The file is not in the agreed format",
    422: "The file or request does not match the agreement",
    500: "The hub failed",
    503: "The hub is not available",
}


class ProblemDocument(BaseModel):
    """The body of every refusal (``application/problem+json``, RFC 9457)."""

    type: str = Field(
        json_schema_extra={"format": "uri"},
        description="A URI naming the kind of problem: the base URI followed by `code`",
    )
    title: str = Field(min_length=1, description="A short summary of the kind of problem")
    status: int = Field(ge=400, le=599, description="The HTTP status code of the response")
    detail: str = Field(min_length=1, description="What was wrong with this request")
    code: str = Field(
        pattern=CODE_PATTERN, description="A stable code for the kind of problem, for programs"
    )
    agreement: str | None = None
    field: str | None = None
    row: int | None = None
    rule: str | None = None
    hint: str | None = None


class ProblemError(Exception):
    """A refusal at the API edge, answered as a problem document (domain code raises the hub's
    own errors; only the API raises this)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        agreement: str | None = None,
        field: str | None = None,
        row: int | None = None,
        rule: str | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.document = ProblemDocument(
            type=TYPE_BASE + code,
            title=TITLES.get(status, "The request was refused"),
            status=status,
            detail=detail,
            code=code,
            agreement=agreement,
            field=field,
            row=row,
            rule=rule,
            hint=hint,
        )
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return self.document.status


def is_api(request: Request) -> bool:
    path = request.url.path
    return path == API_PREFIX.rstrip("/") or path.startswith(API_PREFIX)


def response_for(problem: ProblemError) -> JSONResponse:
    body = problem.document.model_dump(exclude_none=True)
    return JSONResponse(
        body, status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers
    )


def from_hub_error(exc: HubError, *, agreement: str | None = None) -> ProblemError:
    """The hub's exception tree, mapped once: not found 404, an agreement refusal 403, a
    rejected extract 422, a missing keyring or any infrastructure failure 503, other user
    errors 409. An unknown ``agreement`` is named without the hub's folders or its other
    agreements."""
    if isinstance(exc, InfrastructureError | KeyringError):
        return ProblemError(
            503,
            exc.code,
            "the hub cannot take this request now; nothing was stored",
            agreement=agreement,
            hint="try again later; if it persists, tell the hub's operators",
        )
    if isinstance(exc, NotFoundError) and agreement is not None:
        # the domain message is for operators (it names the hub's contracts folder and every
        # agreement); a partner is told only that this id is not one of the hub's agreements
        return ProblemError(
            404,
            exc.code,
            f"there is no agreement {agreement} at this hub",
            agreement=agreement,
            hint="check the agreement id in the address; GET /api/v1/deliveries lists the "
            "agreements your organisation provides data under",
        )
    status = (
        404
        if isinstance(exc, NotFoundError)
        else 403
        if isinstance(exc, AgreementError)
        else 422
        if isinstance(exc, ExtractRejectedError)
        else 409
    )
    return ProblemError(status, exc.code, exc.message, agreement=agreement, hint=exc.hint)


def from_http_status(
    status: int, detail: str, headers: Mapping[str, str] | None = None
) -> ProblemError:
    """Routing refusals (no such route, wrong method) as problem documents."""
    if status == 404:
        return ProblemError(
            404, "no_such_route", "there is no API route at this address", hint=None
        )
    if status == 405:
        allowed = (headers or {}).get("Allow")
        if allowed:
            detail = f"this API route takes {allowed} requests only"
        return ProblemError(405, "method_not_allowed", detail, headers=headers)
    return ProblemError(status, "http_error", detail, headers=headers)


def from_validation(errors: list[dict[str, object]]) -> ProblemError:
    """A malformed path, query or header, naming the first part that is wrong."""
    first = errors[0] if errors else {}
    loc = first.get("loc", ())
    where = " ".join(str(part) for part in loc) if isinstance(loc, list | tuple) else str(loc)
    return ProblemError(
        422,
        "request_invalid",
        f"{where}: {first.get('msg', 'not valid')}" if where else "the request is not valid",
        field=str(loc[-1]) if isinstance(loc, list | tuple) and loc else None,
        rule=str(first.get("type", "")) or None,
    )


def internal() -> ProblemError:
    return ProblemError(
        500,
        "internal_error",
        "the hub failed while handling this request",
        hint="send it again (the same file twice is stored once); if it persists, tell the "
        "hub's operators (the hub log has details)",
    )
