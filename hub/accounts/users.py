"""Web users: data protection leads, analysts and admins, one organisation and one role each.

Emails are stored in lower case and are unique. A disabled user keeps their row (the audit log
names them) but cannot sign in, and their sessions end.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from hub.accounts.passwords import burn_time, hash_password, verify_password
from hub.errors import NotFoundError, UserError
from hub.store import User, WebSession, session_scope

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Role(StrEnum):
    """What a user may do in the web pages."""

    DATA_PROTECTION_LEAD = "data_protection_lead"  # reviews, signs, suspends, revokes agreements
    ANALYST = "analyst"  # uses the catalogue and releases
    ADMIN = "admin"  # reads agreements and audit trails; acts on none


def normalise_email(email: str) -> str:
    return email.strip().lower()


def role_of(user: User) -> Role | None:
    """The user's role, or None when the stored value is not a known role."""
    try:
        return Role(user.role)
    except ValueError:
        return None


def add_user(
    engine: Engine, *, email: str, name: str, org: str, role: Role | str, password: str
) -> User:
    """Create a user; a duplicate email, an unknown role or a short password is a ``UserError``."""
    address = normalise_email(email)
    if not _EMAIL.match(address) or len(address) > 255:
        raise UserError("that is not an email address", hint="write it as name@organisation.tld")
    if not name.strip():
        raise UserError("a user needs a name")
    if not _ORG.match(org):
        raise UserError(
            f"organisation {org!r} is not an organisation id",
            hint="use the id the agreements give it, e.g. merseyvale-police",
        )
    try:
        kind = Role(role)
    except ValueError:
        raise UserError(
            f"unknown role {role!r}", hint=f"roles are {', '.join(r.value for r in Role)}"
        ) from None
    password_hash = hash_password(password)
    if get_user_by_email(engine, address) is not None:
        raise UserError(f"a user with email {address} already exists")
    user = User(
        email=address,
        name=name.strip(),
        org=org,
        role=kind.value,
        password_hash=password_hash,
        created_at=datetime.now(UTC),
        disabled_at=None,
    )
    try:
        with session_scope(engine) as session:
            session.add(user)
    except SQLIntegrityError:
        raise UserError(f"a user with email {address} already exists") from None
    return user


def get_user_by_email(engine: Engine, email: str) -> User | None:
    with session_scope(engine) as session:
        return session.scalars(select(User).where(User.email == normalise_email(email))).first()


def get_user(engine: Engine, user_id: int) -> User | None:
    with session_scope(engine) as session:
        return session.get(User, user_id)


def list_users(engine: Engine) -> list[User]:
    """Every user, disabled ones included, by organisation then email."""
    with session_scope(engine) as session:
        return list(session.scalars(select(User).order_by(User.org, User.email)).all())


def disable_user(engine: Engine, email: str) -> User:
    """Stop a user signing in and end their sessions (idempotent)."""
    address = normalise_email(email)
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.email == address)).first()
        if user is None:
            raise NotFoundError(f"no user with email {address}")
        if user.disabled_at is None:
            user.disabled_at = datetime.now(UTC)
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        return user


def authenticate(engine: Engine, email: str, password: str) -> User | None:
    """The user when the email and password match an enabled account, else None. An unknown
    email costs one scrypt run too, so timing does not tell which emails exist."""
    user = get_user_by_email(engine, email)
    if user is None:
        burn_time()
        return None
    if not verify_password(password, user.password_hash):
        return None
    if user.disabled_at is not None:
        return None
    return user
