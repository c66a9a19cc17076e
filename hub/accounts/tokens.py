"""Users' API tokens: how an analyst's client (``hub query``, a Python or R script) signs in.

A token reads ``svdhub_at_<id>_<secret>`` and acts as the user it was issued to, with exactly the
user's access: the same projects, the same audit trail. It lasts ``TOKEN_DAYS`` (90) days unless
revoked first, and stops working at once when the user is disabled. The store keeps only its
SHA-256 (a 256-bit random secret needs no slow hash; ``hub.ingestion.credentials`` says why).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from hub import audit
from hub.accounts.users import get_user_by_email
from hub.errors import NotFoundError, UserError
from hub.store import ApiToken, User, session_scope
from hub.times import as_utc

TOKEN_PREFIX = "svdhub_at_"  # noqa: S105 (the tokens' visible prefix, not a secret)
TOKEN_DAYS = 90
_ID = re.compile(r"^[0-9a-f]{16}$")
_DECOY_HASH = hashlib.sha256(b"no such token").hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    engine: Engine, email: str, name: str, *, actor: str = "hub", days: int = TOKEN_DAYS
) -> tuple[str, str, datetime]:
    """A new token for the user ``email``: its id, the token (shown once) and its expiry."""
    user = get_user_by_email(engine, email)
    if user is None or user.disabled_at is not None:
        raise NotFoundError(f"no enabled user with email {email}", hint="hub users list")
    label = name.strip()
    if not label or len(label) > 255:
        raise UserError(
            "a token needs the name of the client it is for (1-255 characters)",
            hint="e.g. --name 'laptop: hub query'",
        )
    if not 1 <= days <= 365:
        raise UserError("a token lasts 1 to 365 days")
    token_id = secrets.token_hex(8)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    expires = now + timedelta(days=days)
    with session_scope(engine) as session:
        session.add(
            ApiToken(
                id=token_id,
                user_id=user.id,
                name=label,
                token_hash=_hash(token),
                created_at=now,
                expires_at=expires,
            )
        )
    audit.record(
        engine,
        actor=actor,
        action="api_token.issued",
        subject=f"user:{user.email}",
        detail={"token": token_id, "name": label, "expires": expires.isoformat()},
    )
    return token_id, token, expires


def revoke_token(engine: Engine, token_id: str, *, actor: str = "hub") -> None:
    """Stop a token working at once (revoking twice changes nothing)."""
    with session_scope(engine) as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFoundError(f"no API token {token_id!r}")
        if row.revoked_at is not None:
            return
        row.revoked_at = datetime.now(UTC)
    audit.record(engine, actor=actor, action="api_token.revoked", subject=f"api_token:{token_id}")


def authenticate_token(engine: Engine, token: str, *, now: datetime | None = None) -> User | None:
    """The enabled user ``token`` acts as, or None (unknown, malformed, expired or revoked)."""
    at = as_utc(now or datetime.now(UTC))
    token_id = None
    if token.startswith(TOKEN_PREFIX) and len(token) <= 200:
        candidate, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
        token_id = candidate if sep and secret and _ID.match(candidate) else None
    with session_scope(engine) as session:
        row = session.get(ApiToken, token_id) if token_id else None
        user = session.get(User, row.user_id) if row is not None else None
        stored = row.token_hash if row is not None else _DECOY_HASH
        matches = hmac.compare_digest(_hash(token), stored)
        if row is None or user is None or not matches:
            return None
        if row.revoked_at is not None or as_utc(row.expires_at) <= at or user.disabled_at:
            return None
        session.expunge(user)
        return user
