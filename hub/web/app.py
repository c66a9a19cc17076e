"""The hub's web pages as one FastAPI application: sign-in and the agreement review pages.

``create_app(settings)`` opens the metadata store (migrating it), the agreement registry and the
templates, and maps the hub's exception tree to pages once: ``NotFoundError`` 404, any other
``UserError`` 409 (422 for a malformed address or form), ``InfrastructureError`` 503. Under
``/api/`` (the partner API, ``hub.ingestion.api``) the same errors are RFC 9457 problem documents
instead of pages (``hub.ingestion.problems``). Every
response carries a strict Content-Security-Policy (the pages use no JavaScript), refuses framing
and sends no referrer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.agreements.registry import AgreementRegistry
from hub.errors import HubError, InfrastructureError, NotFoundError, UserError
from hub.ingestion import problems as api_problems
from hub.ingestion.api import build_router
from hub.pipeline.landing import partials_dir
from hub.pipeline.trigger import InProcessTrigger, trigger_for
from hub.privacy.sealed import sweep_partials
from hub.settings import Settings
from hub.store import make_engine, upgrade
from hub.web import analysis_api, analysts, health, review, signin
from hub.web.signin import Hub, Refused, SignInRequired, Viewer, current_viewer, render

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

log = logging.getLogger(__name__)

# an unfinished upload not written to for this long is a crash's leftover, not one in progress
STALE_UPLOAD_SECONDS: Final = 3600
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}

HTTP_TITLES: Final[dict[int, str]] = {
    400: "The request could not be read",
    401: "Sign in to continue",
    403: "You cannot do this",
    404: "Page not found",
    405: "That is not how this page is used",
    409: "That cannot be done",
    422: "The address or form is not complete",
    503: "The hub is not available",
}


class SecurityHeaders:
    """Adds the security headers to every HTTP response; pages (not the stylesheet) are also
    marked ``no-store`` so a shared computer's cache keeps no agreement or audit page."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if production:
            self.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                if not static:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _viewer_or_none(request: Request) -> Viewer | None:
    """The signed-in user for an error page's header; an error page never fails for it."""
    try:
        return current_viewer(request)
    except HubError:
        return None


def _error_page(
    request: Request,
    status: int,
    message: str,
    hint: str | None,
    *,
    viewer: Viewer | None = None,
    problems: list[str] | None = None,
) -> HTMLResponse:
    context = {
        "status": status,
        "title": HTTP_TITLES.get(status, "Something went wrong"),
        "message": message,
        "hint": hint,
        "problems": problems or [],
    }
    return render(request, "error.html", context, viewer=viewer, status_code=status)


def _sentence(text: str) -> str:
    """Domain messages are written lower-case first (for the CLI); pages start a sentence."""
    return text[:1].upper() + text[1:] if text else text


async def _on_hub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubError)
    if api_problems.is_api(request):
        return api_problems.response_for(api_problems.from_hub_error(exc))
    if isinstance(exc, InfrastructureError):
        return _error_page(request, 503, _sentence(exc.message), exc.hint)
    status = 404 if isinstance(exc, NotFoundError) else 409 if isinstance(exc, UserError) else 500
    hint = _sentence(exc.hint) if exc.hint else None
    return _error_page(
        request, status, _sentence(exc.message), hint, viewer=_viewer_or_none(request)
    )


async def _on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return _error_page(request, exc.status, exc.message, exc.hint, viewer=_viewer_or_none(request))


async def _on_signin_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(signin.signin_url(exc.next_path), status_code=303)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if api_problems.is_api(request):
        problem = api_problems.from_http_status(exc.status_code, str(exc.detail), exc.headers)
        return api_problems.response_for(problem)
    message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
    response = _error_page(request, exc.status_code, message, None, viewer=None)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _on_invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if api_problems.is_api(request):
        return api_problems.response_for(api_problems.from_validation(list(exc.errors())))
    problems = [
        f"{' '.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'not valid')}"
        for error in exc.errors()
    ]
    return _error_page(
        request,
        422,
        "Part of the address or the form is not valid.",
        "Go back to the agreement's page and try again.",
        viewer=_viewer_or_none(request),
        problems=problems,
    )


async def _on_problem(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, api_problems.ProblemError)
    return api_problems.response_for(exc)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: the API answers with a problem document (no detail of the error), the pages as
    before with a plain 500."""
    if api_problems.is_api(request):
        return api_problems.response_for(api_problems.internal())
    return PlainTextResponse("Internal Server Error", status_code=500)


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.filters["sentence"] = _sentence
    return templates


def create_app(settings: Settings) -> FastAPI:
    """The web application for one hub installation."""
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    swept = sweep_partials(partials_dir(settings), older_than=STALE_UPLOAD_SECONDS)
    if swept:
        log.warning("removed %d unfinished upload(s) left by an earlier crash", swept)
    hub = Hub(
        settings=settings,
        engine=engine,
        registry=AgreementRegistry.open(settings, engine),
        templates=_templates(),
        trigger=trigger_for(settings, engine),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if isinstance(hub.trigger, InProcessTrigger):
            await asyncio.to_thread(hub.trigger.resume_waiting)
        yield
        await asyncio.to_thread(hub.trigger.close)  # lets a staging under way finish first
        engine.dispose()

    app = FastAPI(
        title="Serious Violence Duty data hub",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(health.router)
    app.include_router(signin.router)
    app.include_router(review.router)
    app.include_router(analysts.router)
    app.include_router(analysis_api.router)
    app.include_router(build_router(settings.max_upload_bytes))
    app.add_exception_handler(api_problems.ProblemError, _on_problem)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_exception_handler(SignInRequired, _on_signin_required)
    app.add_exception_handler(Refused, _on_refused)
    app.add_exception_handler(HubError, _on_hub_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.add_middleware(SecurityHeaders, production=settings.env == "production")
    return app
