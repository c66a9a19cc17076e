"""A real HTTP server for the web pages, and a hub set up for the review tests.

``live_server(app)`` runs uvicorn in a thread on a free port of 127.0.0.1 and stops it on exit.
``make_review_hub(tmp_path)`` builds an isolated hub under ``tmp_path``: the leads of
merseyvale-police and merseyvale-vrp (the parties of ``police-sv``), the lead of
merseyvale-hospitals (a party of another agreement, not of ``police-sv``), an analyst and an
admin, each lead with a registered signing key, so tests can make the approval tokens a lead would
make on their own machine with ``hub agreement sign``.
"""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import Engine

from hub.accounts.users import Role, add_user
from hub.agreements import Agreement, get_agreement
from hub.agreements.canonical import terms_digest
from hub.agreements.lifecycle import LifecycleRecord
from hub.agreements.registry import AgreementRegistry
from hub.agreements.signing import SignerDirectory, new_signer, sign_approval
from hub.settings import Settings
from hub.store import make_engine, upgrade
from hub.web.app import create_app
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"
AGREEMENT = "police-sv"
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    org: str
    role: Role


POLICE_DPL = Person(
    "dpo@merseyvale-police.example", "Priya Raman", "merseyvale-police", Role.DATA_PROTECTION_LEAD
)
VRP_DPL = Person(
    "ig@merseyvale-vrp.example", "Tom Ashworth", "merseyvale-vrp", Role.DATA_PROTECTION_LEAD
)
HOSPITALS_DPL = Person(
    "caldicott@merseyvale-hospitals.example",
    "Dr Helen Okafor",
    "merseyvale-hospitals",
    Role.DATA_PROTECTION_LEAD,
)
ANALYST = Person("analyst@merseyvale-vrp.example", "Ana Lyst", "merseyvale-vrp", Role.ANALYST)
ADMIN = Person("admin@merseyvale-vrp.example", "Ad Ministrator", "merseyvale-vrp", Role.ADMIN)
PEOPLE = (POLICE_DPL, VRP_DPL, HOSPITALS_DPL, ANALYST, ADMIN)


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` over real HTTP on 127.0.0.1; yields the base URL, stops the server after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the test web server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test web server did not start in {START_TIMEOUT} s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the test web server did not stop")


@dataclass
class ReviewHub:
    """A hub under a test's tmp_path with users and the leads' private keys."""

    settings: Settings
    engine: Engine
    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)

    @property
    def registry(self) -> AgreementRegistry:
        return AgreementRegistry.open(self.settings, self.engine)

    def agreement(self, agreement_id: str = AGREEMENT) -> Agreement:
        return get_agreement(self.settings.contracts_dir, agreement_id)

    def add(self, person: Person) -> None:
        """Add a user; a lead also gets a key pair, the public half registered."""
        add_user(
            self.engine,
            email=person.email,
            name=person.name,
            org=person.org,
            role=person.role,
            password=PASSWORD,
        )
        if person.role is Role.DATA_PROTECTION_LEAD:
            private, public = new_signer(person.org, person.name, person.email)
            SignerDirectory.load(self.settings.key_dir / "public").register(public)
            self.keys[person.email] = private

    def submit(self, agreement_id: str = AGREEMENT) -> LifecycleRecord:
        return self.registry.submit(self.agreement(agreement_id), "test")

    def token(self, person: Person, agreement_id: str = AGREEMENT) -> str:
        """The approval token ``person`` makes with their own key for the agreement's file
        version (for the lead's own org, whether or not it is a party)."""
        agreement = self.agreement(agreement_id)
        return sign_approval(
            self.keys[person.email],
            agreement_id=agreement.id,
            version=agreement.version,
            digest=terms_digest(agreement),
            org=person.org,
            signer_email=person.email,
        ).to_token()

    def app(self) -> FastAPI:
        return create_app(self.settings)


def make_review_hub(tmp_path: Path, *, submit: bool = True) -> ReviewHub:
    """Every person of ``PEOPLE`` added; ``police-sv`` submitted for approval unless told not."""
    settings = make_settings(tmp_path)
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    hub = ReviewHub(settings, engine)
    for person in PEOPLE:
        hub.add(person)
    if submit:
        hub.submit()
    return hub


@contextmanager
def running_hub(tmp_path: Path, *, submit: bool = True) -> Iterator[tuple[ReviewHub, str]]:
    """A review hub and the base URL of its web pages; everything is closed afterwards."""
    hub = make_review_hub(tmp_path, submit=submit)
    try:
        with live_server(hub.app()) as base_url:
            yield hub, base_url
    finally:
        hub.engine.dispose()


# -- talking to the pages over HTTP ------------------------------------------------------------

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    """The CSRF token in the first form of a page."""
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def text_of(response: httpx.Response) -> str:
    """A page's HTML with entities decoded, for comparing with plain strings."""
    return html.unescape(response.text)


def sign_in(
    client: httpx.Client, email: str, password: str = PASSWORD, next_path: str = "/agreements"
) -> httpx.Response:
    """Fill in the sign-in form as a browser would: fetch it, then post it with its token."""
    form = client.get("/signin")
    return client.post(
        "/signin",
        data={"email": email, "password": password, "next": next_path, "csrf": csrf_of(form.text)},
    )


@contextmanager
def client_for(base_url: str, person: Person | None = None) -> Iterator[httpx.Client]:
    """An HTTP client (redirects not followed), signed in as ``person`` when given."""
    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=30) as client:
        if person is not None:
            response = sign_in(client, person.email)
            assert response.status_code == 303, response.text
        yield client
