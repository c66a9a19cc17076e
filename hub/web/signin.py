"""Signing in and out, and the session every other page relies on.

The session cookie (``hub_session``) holds a random token; the store keeps only its hash. Each
session has a CSRF token that every form carries in a hidden field. The sign-in form, which has
no session yet, is protected the same way by a short-lived ``hub_signin`` cookie whose value the
form repeats (a cross-site page can neither read nor send it: SameSite=Strict).

Pages use ``SignedIn`` (a FastAPI dependency) to get the signed-in ``Viewer``; anyone else is
redirected to ``/signin?next=...``. Refusals are raised as ``Refused`` after being written to the
audit log; ``hub.web.app`` turns them into pages.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from hub import audit
from hub.accounts.sessions import SESSION_HOURS, end_session, session_user, start_session
from hub.accounts.users import Role, authenticate, normalise_email, role_of
from hub.agreements.registry import AgreementRegistry
from hub.pipeline.trigger import PipelineTrigger
from hub.settings import Settings
from hub.store import User

SESSION_COOKIE = "hub_session"
SIGNIN_COOKIE = "hub_signin"
CSRF_FIELD = "csrf"
SIGNIN_FAILED = "Email or password not recognised."
DEFAULT_PAGE = "/agreements"

ROLE_WORDS: dict[Role, str] = {
    Role.DATA_PROTECTION_LEAD: "data protection lead",
    Role.ANALYST: "analyst",
    Role.ADMIN: "administrator",
}


@dataclass(frozen=True)
class Hub:
    """What the pages share: settings, the metadata store, the agreement registry, templates,
    and the trigger that starts an agreement's pipeline for an accepted extract."""

    settings: Settings
    engine: Engine
    registry: AgreementRegistry
    templates: Jinja2Templates
    trigger: PipelineTrigger

    @property
    def secure_cookies(self) -> bool:
        return self.settings.env == "production"


def hub_of(request: Request) -> Hub:
    return cast(Hub, request.app.state.hub)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request, with their session's CSRF token."""

    user: User
    csrf: str

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def org(self) -> str:
        return self.user.org

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> Role | None:
        return role_of(self.user)

    @property
    def role_words(self) -> str:
        role = self.role
        return ROLE_WORDS[role] if role is not None else "user without a known role"

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return f"user:{self.email}"


class SignInRequired(Exception):  # noqa: N818 (a control-flow signal, not an error)
    """The page needs a signed-in user; ``hub.web.app`` redirects to the sign-in form."""

    def __init__(self, next_path: str | None) -> None:
        super().__init__("sign in required")
        self.next_path = next_path


class Refused(Exception):  # noqa: N818 (named for what the reader sees)
    """The signed-in user may not do this; rendered as a page with ``status`` (403 by default)."""

    def __init__(self, message: str, *, hint: str | None = None, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status


def current_viewer(request: Request) -> Viewer | None:
    """The signed-in user, or None (no cookie, an ended or expired session, a disabled user)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    found = session_user(hub_of(request).engine, token) if token else None
    if found is None:
        return None
    user, csrf = found
    return Viewer(user, csrf)


def _next_of(request: Request) -> str | None:
    if request.method != "GET":
        return None  # after signing in, go to the list rather than repeat a form
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


def require_viewer(request: Request) -> Viewer:
    viewer = current_viewer(request)
    if viewer is None:
        raise SignInRequired(_next_of(request))
    return viewer


SignedIn = Annotated[Viewer, Depends(require_viewer)]


def landing_page(user: User) -> str:
    """Where a user starts: analysts at the catalogue, everyone else at the agreements."""
    return "/catalogue" if role_of(user) is Role.ANALYST else DEFAULT_PAGE


def safe_next(candidate: str | None) -> str:
    """``candidate`` when it is a path on this site, else the default page: an open redirect
    to another site (``//evil.example``, ``https://...``, ``/\\evil``) is never followed."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return DEFAULT_PAGE
    if "\\" in candidate or any(ord(ch) < 32 or ord(ch) == 127 for ch in candidate):
        return DEFAULT_PAGE
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return DEFAULT_PAGE
    return candidate


def signin_url(next_path: str | None) -> str:
    if not next_path or safe_next(next_path) != next_path:
        return "/signin"
    return "/signin?next=" + quote(next_path, safe="/")


def check_csrf(hub: Hub, viewer: Viewer, submitted: str, request: Request) -> None:
    """Refuse (403) a form whose CSRF token is missing or not this session's; audited."""
    if submitted and secrets.compare_digest(submitted.encode(), viewer.csrf.encode()):
        return
    audit.record(
        hub.engine,
        actor=viewer.actor,
        action="csrf.refused",
        subject=f"user:{viewer.email}",
        detail={"path": request.url.path},
    )
    raise Refused(
        "This form did not come from a page of the hub, or it has expired.",
        hint="Go back, reload the page and submit the form again.",
    )


def refuse(
    hub: Hub,
    viewer: Viewer,
    message: str,
    *,
    subject: str,
    detail: dict[str, object],
    hint: str | None = None,
) -> Refused:
    """Write the refusal to the audit log (``access.refused``) and return it to raise."""
    audit.record(
        hub.engine, actor=viewer.actor, action="access.refused", subject=subject, detail=detail
    )
    return Refused(message, hint=hint)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    viewer: Viewer | None,
    status_code: int = 200,
) -> HTMLResponse:
    hub = hub_of(request)
    return hub.templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, **context},
        status_code=status_code,
    )


# -- pages -----------------------------------------------------------------------------------

router = APIRouter()


def _signin_form(
    request: Request, *, next_path: str, error: str | None, email: str = "", status_code: int = 200
) -> Response:
    existing = request.cookies.get(SIGNIN_COOKIE, "")
    form_token = existing if 32 <= len(existing) <= 64 else secrets.token_urlsafe(32)
    response = render(
        request,
        "signin.html",
        {"next": next_path, "error": error, "email": email, "form_token": form_token},
        viewer=None,
        status_code=status_code,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        form_token,
        max_age=3600,
        path="/signin",
        httponly=True,
        samesite="strict",
        secure=hub_of(request).secure_cookies,
    )
    return response


@router.get("/signin")
def signin_page(request: Request, next: str = DEFAULT_PAGE) -> Response:
    return _signin_form(request, next_path=safe_next(next), error=None)


@router.post("/signin")
def signin(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = DEFAULT_PAGE,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    hub = hub_of(request)
    target = safe_next(next)
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not (csrf and expected and secrets.compare_digest(csrf.encode(), expected.encode())):
        return _signin_form(
            request,
            next_path=target,
            error="The sign-in form had expired. Please sign in again.",
            status_code=403,
        )
    address = normalise_email(email)[:255]
    user = authenticate(hub.engine, address, password) if address and password else None
    if user is None:
        audit.record(
            hub.engine, actor="web", action="signin.failed", subject=f"user:{address}", detail={}
        )
        return _signin_form(
            request, next_path=target, error=SIGNIN_FAILED, email=address, status_code=401
        )
    previous = request.cookies.get(SESSION_COOKIE, "")
    if previous:
        end_session(hub.engine, previous)  # one browser, one session: the old one ends
    token, _ = start_session(hub.engine, user)
    audit.record(
        hub.engine, actor=f"user:{user.email}", action="signin", subject=f"user:{user.email}"
    )
    if target == DEFAULT_PAGE:
        target = landing_page(user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=hub.secure_cookies,
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
def signout(viewer: SignedIn, request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    hub = hub_of(request)
    check_csrf(hub, viewer, csrf, request)
    end_session(hub.engine, request.cookies.get(SESSION_COOKIE, ""))
    audit.record(hub.engine, actor=viewer.actor, action="signout", subject=f"user:{viewer.email}")
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=hub.secure_cookies
    )
    return response
