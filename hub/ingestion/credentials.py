"""Partner API credentials: one per partner system, scoped to the organisation it sends for.

A token reads ``svdhub_pk_<id>_<secret>``: the id (16 hex characters) finds the credential, the
secret is 32 random bytes (URL-safe base64). The token is shown once, when it is issued; the
store keeps only its SHA-256. A plain hash is enough here, unlike for passwords: a 256-bit random
secret cannot be guessed or enumerated, so a slow, salted hash (scrypt) would add cost to every
request without adding protection. Checking compares the hashes in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from hub import audit
from hub.errors import NotFoundError, UserError
from hub.store import PartnerCredential, session_scope
from hub.times import as_utc

TOKEN_PREFIX = "svdhub_pk_"  # noqa: S105 (the tokens' visible prefix, not a secret)
SECRET_BYTES = 32
_ID = re.compile(r"^[0-9a-f]{16}$")
_ORG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DECOY_HASH = hashlib.sha256(b"no such credential").hexdigest()


@dataclass(frozen=True)
class Credential:
    """A partner credential as the hub shows it: never the token, nor its hash."""

    id: str
    org: str
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def actor(self) -> str:
        """Who the audit log names for requests made with this credential."""
        return f"partner:{self.org}/credential:{self.id}"


def _view(row: PartnerCredential) -> Credential:
    return Credential(
        id=row.id,
        org=row.org,
        name=row.name,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _parse(token: str) -> str | None:
    """The credential id of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    credential_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or not secret or not _ID.match(credential_id):
        return None
    return credential_id


def issue_credential(engine: Engine, org: str, name: str, *, actor: str = "hub") -> tuple[str, str]:
    """A new credential for partner system ``name`` of ``org``: its id and the token (shown
    once). A second active credential of the same name is refused: revoke the old one first."""
    if not _ORG.match(org) or len(org) > 100:
        raise UserError(
            f"organisation {org!r} is not an organisation id",
            hint="use the id the agreements give it, e.g. merseyvale-police",
        )
    label = name.strip()
    if not label or len(label) > 255:
        raise UserError(
            "a credential needs the name of the partner system it is for (1-255 characters)",
            hint="e.g. --name 'Niche RMS nightly export'",
        )
    with session_scope(engine) as session:
        clash = session.scalars(
            select(PartnerCredential).where(
                PartnerCredential.org == org,
                PartnerCredential.name == label,
                PartnerCredential.revoked_at.is_(None),
            )
        ).first()
        if clash is not None:
            raise UserError(
                f"{org} already has an active credential named {label!r} ({clash.id})",
                hint=f"revoke it first (hub partners revoke {clash.id}) or choose another name",
            )
        credential_id = secrets.token_hex(8)
        token = f"{TOKEN_PREFIX}{credential_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
        session.add(
            PartnerCredential(
                id=credential_id,
                org=org,
                name=label,
                token_hash=_hash(token),
                created_at=datetime.now(UTC),
                created_by=actor[:255],
            )
        )
    audit.record(
        engine,
        actor=actor,
        action="partner_credential.issued",
        subject=f"partner_credential:{credential_id}",
        detail={"org": org, "name": label},
    )
    return credential_id, token


def list_credentials(engine: Engine, org: str | None = None) -> list[Credential]:
    """Every credential (revoked ones included), by organisation then issue time."""
    query = select(PartnerCredential).order_by(PartnerCredential.org, PartnerCredential.created_at)
    if org is not None:
        query = query.where(PartnerCredential.org == org)
    with session_scope(engine) as session:
        return [_view(row) for row in session.scalars(query).all()]


def revoke_credential(engine: Engine, credential_id: str, *, actor: str = "hub") -> Credential:
    """Stop a credential working at once (revoking twice changes nothing)."""
    with session_scope(engine) as session:
        row = session.get(PartnerCredential, credential_id)
        if row is None:
            raise NotFoundError(
                f"no partner credential {credential_id!r}",
                hint="hub partners list shows every credential",
            )
        already = row.revoked_at is not None
        if not already:
            row.revoked_at = datetime.now(UTC)
        credential = _view(row)
    if not already:
        audit.record(
            engine,
            actor=actor,
            action="partner_credential.revoked",
            subject=f"partner_credential:{credential_id}",
            detail={"org": credential.org, "name": credential.name},
        )
    return credential


def authenticate_partner(engine: Engine, token: str) -> Credential | None:
    """The active credential ``token`` belongs to, or None (unknown, malformed or revoked)."""
    credential_id = _parse(token)
    row = None
    if credential_id is not None:
        with session_scope(engine) as session:
            row = session.get(PartnerCredential, credential_id)
            if row is not None:
                session.expunge(row)
    stored = _DECOY_HASH if row is None else row.token_hash
    matches = hmac.compare_digest(_hash(token), stored)
    if row is None or not matches or row.revoked_at is not None:
        return None
    return _view(row)
