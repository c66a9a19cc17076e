"""Accounts on the metadata store (SQLite, and PostgreSQL when configured): scrypt passwords,
users with one role, browser sessions that expire and end when a user is disabled."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from hub.accounts import (
    MIN_PASSWORD_LENGTH,
    SESSION_HOURS,
    Role,
    add_user,
    authenticate,
    disable_user,
    end_session,
    get_user_by_email,
    hash_password,
    list_users,
    session_user,
    start_session,
    verify_password,
)
from hub.errors import NotFoundError, UserError
from hub.store import User, WebSession, session_scope, upgrade

PASSWORD = "a long enough passphrase"


@pytest.fixture
def store(engine: Engine) -> Engine:
    upgrade(engine)
    return engine


def _lead(engine: Engine, email: str = "Lead@Example.org") -> User:
    return add_user(
        engine,
        email=email,
        name="Lee Lead",
        org="merseyvale-police",
        role=Role.DATA_PROTECTION_LEAD,
        password=PASSWORD,
    )


# -- passwords ---------------------------------------------------------------------------------


def test_password_hash_format_and_verification() -> None:
    stored = hash_password(PASSWORD)
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**15), "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(digest)) == 32
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert not verify_password("", stored)
    assert hash_password(PASSWORD) != stored  # a fresh salt each time


def test_short_passwords_are_refused() -> None:
    with pytest.raises(UserError, match=str(MIN_PASSWORD_LENGTH)):
        hash_password("x" * (MIN_PASSWORD_LENGTH - 1))
    assert verify_password("y" * MIN_PASSWORD_LENGTH, hash_password("y" * MIN_PASSWORD_LENGTH))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text-password",
        "bcrypt$1$2$3$AAAA$AAAA",
        "scrypt$32768$8$1$not base64!$AAAA",
        "scrypt$3$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,  # n not a power of two
        "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,  # absurd cost
    ],
)
def test_malformed_stored_hashes_never_match(stored: str) -> None:
    assert not verify_password(PASSWORD, stored)


# -- users -------------------------------------------------------------------------------------


def test_add_and_find_users(store: Engine) -> None:
    user = _lead(store)
    assert user.email == "lead@example.org"
    assert user.role == "data_protection_lead"
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith("scrypt$")
    found = get_user_by_email(store, "  LEAD@example.ORG ")
    assert found is not None
    assert found.id == user.id
    assert get_user_by_email(store, "other@example.org") is None
    add_user(
        store,
        email="analyst@example.org",
        name="Ana",
        org="merseyvale-vrp",
        role="analyst",
        password=PASSWORD,
    )
    assert [(u.email, u.role) for u in list_users(store)] == [
        ("lead@example.org", "data_protection_lead"),
        ("analyst@example.org", "analyst"),
    ]


def test_user_rules(store: Engine) -> None:
    _lead(store)
    with pytest.raises(UserError, match="already exists"):
        _lead(store, "LEAD@example.org")
    with pytest.raises(UserError, match="unknown role"):
        add_user(
            store, email="x@example.org", name="X", org="org", role="superuser", password=PASSWORD
        )
    with pytest.raises(UserError, match="email"):
        add_user(store, email="not-an-email", name="X", org="org", role="admin", password=PASSWORD)
    with pytest.raises(UserError, match="organisation"):
        add_user(
            store, email="x@example.org", name="X", org="Org A", role="admin", password=PASSWORD
        )
    with pytest.raises(UserError, match="characters"):
        add_user(store, email="x@example.org", name="X", org="org", role="admin", password="short")
    assert len(list_users(store)) == 1


def test_authenticate(store: Engine) -> None:
    user = _lead(store)
    found = authenticate(store, "LEAD@example.org", PASSWORD)
    assert found is not None
    assert found.id == user.id
    assert authenticate(store, "lead@example.org", "a wrong passphrase") is None
    assert authenticate(store, "nobody@example.org", PASSWORD) is None
    disabled = disable_user(store, "lead@example.org")
    assert disabled.disabled_at is not None
    assert authenticate(store, "lead@example.org", PASSWORD) is None
    with pytest.raises(NotFoundError):
        disable_user(store, "nobody@example.org")


def test_unknown_emails_take_as_long_as_known_ones(store: Engine) -> None:
    """An unknown email still runs scrypt, so timing does not reveal which emails exist."""
    _lead(store)
    authenticate(store, "warm@example.org", PASSWORD)  # build the decoy hash once

    def fastest(email: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            authenticate(store, email, "a wrong passphrase")
            times.append(time.perf_counter() - start)
        return min(times)

    known, unknown = fastest("lead@example.org"), fastest("nobody@example.org")
    assert unknown > 0.5 * known, (known, unknown)


# -- sessions ----------------------------------------------------------------------------------


def test_sessions_store_only_a_hash_of_the_token(store: Engine) -> None:
    user = _lead(store)
    token, csrf = start_session(store, user)
    assert len(token) >= 43
    assert len(csrf) >= 43
    assert token != csrf
    with session_scope(store) as session:
        rows = session.scalars(select(WebSession)).all()
        assert [r.token_hash for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
        assert token not in {r.token_hash for r in rows} | {r.csrf_token for r in rows}
    found = session_user(store, token)
    assert found is not None
    assert found[0].id == user.id
    assert found[1] == csrf
    assert session_user(store, token + "x") is None
    assert session_user(store, "") is None


def test_sessions_expire_after_eight_hours(store: Engine) -> None:
    user = _lead(store)
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    token, _ = start_session(store, user, now=start)
    just_before = start + timedelta(hours=SESSION_HOURS) - timedelta(seconds=1)
    assert session_user(store, token, now=just_before) is not None
    assert session_user(store, token, now=start + timedelta(hours=SESSION_HOURS)) is None
    # a later sign-in clears expired sessions away
    start_session(store, user, now=start + timedelta(hours=SESSION_HOURS, minutes=1))
    with session_scope(store) as session:
        assert len(session.scalars(select(WebSession)).all()) == 1


def test_ending_a_session_and_disabling_a_user(store: Engine) -> None:
    user = _lead(store)
    first, _ = start_session(store, user)
    second, _ = start_session(store, user)
    end_session(store, first)
    end_session(store, "no-such-token")
    assert session_user(store, first) is None
    assert session_user(store, second) is not None
    disable_user(store, user.email)
    assert session_user(store, second) is None
    with session_scope(store) as session:
        assert session.scalars(select(WebSession)).all() == []
    late, _ = start_session(store, user)  # a session row for a disabled user is no session
    assert session_user(store, late) is None
