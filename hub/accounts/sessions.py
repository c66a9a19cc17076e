"""Browser sessions: a random token in the cookie, only its SHA-256 in the store.

Each session has its own CSRF token, which every form of the pages carries. Sessions last
eight hours from sign-in; an expired session, or one of a disabled user, is no session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select

from hub.store import User, WebSession, session_scope
from hub.times import as_utc

SESSION_HOURS = 8


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(engine: Engine, user: User, *, now: datetime | None = None) -> tuple[str, str]:
    """A new session for ``user``: the cookie token and the session's CSRF token. Expired
    sessions of every user are removed on the way."""
    at = as_utc(now or datetime.now(UTC))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < at))
        session.add(
            WebSession(
                token_hash=_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=at,
                expires_at=at + timedelta(hours=SESSION_HOURS),
            )
        )
    return token, csrf


def session_user(
    engine: Engine, token: str, *, now: datetime | None = None
) -> tuple[User, str] | None:
    """The signed-in user and the session's CSRF token, or None when the token names no live
    session of an enabled user."""
    if not token:
        return None
    at = as_utc(now or datetime.now(UTC))
    with session_scope(engine) as session:
        row = session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == _hash(token))
        ).first()
        if row is None:
            return None
        web_session, user = row
        if as_utc(web_session.expires_at) <= at or user.disabled_at is not None:
            return None
        return user, web_session.csrf_token


def end_session(engine: Engine, token: str) -> None:
    """Sign out: the session is deleted (a token that names no session is ignored)."""
    with session_scope(engine) as session:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
