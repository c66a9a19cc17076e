"""Ed25519 signatures of data protection leads over one exact version of an agreement.

A lead signs an *approval statement*: the agreement id, its version, the SHA-256 digest of its
canonical terms (``hub.agreements.canonical``), the lead's organisation, email and key id, and the
time of signing. Public keys are registered as files under ``keys/public/``; private keys stay with
the lead, encrypted with their passphrase, and never enter the repository or the hub.

A signed approval travels as one line of text (an *approval token*), so a lead can sign with
``hub agreement sign`` on their own machine and paste the token into the review page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.agreements.canonical import canonical_json
from hub.errors import AgreementError, KeyringError

STATEMENT_CONTEXT = b"svd-hub agreement approval v1\n"
TOKEN_PREFIX = "svdhub-approval-v1."  # noqa: S105 (a format marker, not a secret)
MIN_PASSPHRASE = 12
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class SignerKey:
    """A data protection lead's registered public key."""

    key_id: str
    org: str
    name: str
    email: str
    public_key: Ed25519PublicKey
    registered: str  # ISO date

    def to_json(self) -> dict[str, str]:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {
            "algorithm": "Ed25519",
            "key_id": self.key_id,
            "org": self.org,
            "name": self.name,
            "email": self.email,
            "public_key": base64.b64encode(raw).decode("ascii"),
            "registered": self.registered,
        }

    @classmethod
    def from_json(cls, doc: dict[str, str], source: str) -> SignerKey:
        try:
            raw = base64.b64decode(doc["public_key"], validate=True)
            public_key = Ed25519PublicKey.from_public_bytes(raw)
            key = cls(
                key_id=doc["key_id"],
                org=doc["org"],
                name=doc["name"],
                email=doc["email"],
                public_key=public_key,
                registered=doc.get("registered", ""),
            )
        except (KeyError, ValueError, binascii.Error, TypeError) as exc:
            raise KeyringError(
                f"{source}: not a valid signer key file ({exc.__class__.__name__})",
                hint="register keys with `hub signers register` or `hub signers keygen`",
            ) from None
        if doc.get("algorithm") != "Ed25519" or key_id_of(public_key) != key.key_id:
            raise KeyringError(
                f"{source}: the key id does not match the public key",
                hint="the file was edited; register the lead's public key again",
            )
        return key


class SignerDirectory:
    """The registered public keys of data protection leads (``keys/public/*.json``)."""

    def __init__(self, folder: Path, keys: dict[str, SignerKey]) -> None:
        self.folder = folder
        self._keys = keys

    @classmethod
    def load(cls, folder: Path, *more: Path) -> SignerDirectory:
        """Keys from ``folder`` (where ``register`` writes) and any further read-only folders."""
        keys: dict[str, SignerKey] = {}
        for place in (folder, *more):
            if not place.is_dir():
                continue
            for path in sorted(place.glob("*.json")):
                try:
                    doc = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    raise KeyringError(f"{path}: not readable JSON") from None
                key = SignerKey.from_json(doc, str(path))
                keys[key.key_id] = key
        return cls(folder, keys)

    def __iter__(self) -> Iterator[SignerKey]:
        return iter(sorted(self._keys.values(), key=lambda k: (k.org, k.email, k.key_id)))

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key_id: str) -> SignerKey | None:
        return self._keys.get(key_id)

    def register(self, key: SignerKey) -> Path:
        """Write a public key file (public keys may be committed; private keys never are)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{key.org}--{key.key_id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(key.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        self._keys[key.key_id] = key
        return path


def new_signer(
    org: str, name: str, email: str, *, today: str | None = None
) -> tuple[Ed25519PrivateKey, SignerKey]:
    """A fresh key pair for a lead: the private key (keep it secret) and its public record."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    registered = today or datetime.now(UTC).date().isoformat()
    return private, SignerKey(key_id_of(public), org, name, email, public, registered)


def save_private_key(private: Ed25519PrivateKey, path: Path, passphrase: str) -> None:
    """Write a private key encrypted with the lead's passphrase, readable by the owner only."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyringError(f"a signing key passphrase needs at least {MIN_PASSPHRASE} characters")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise KeyringError(f"{path} exists; refusing to overwrite a signing key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def public_record_path(private_key_path: Path) -> Path:
    """Where ``hub signers keygen`` writes the public record beside a private key."""
    return private_key_path.with_name(private_key_path.name + ".pub.json")


def write_public_record(key: SignerKey, path: Path) -> None:
    path.write_text(json.dumps(key.to_json(), indent=2) + "\n", encoding="utf-8")


def public_record_beside(private_key_path: Path) -> SignerKey:
    """The lead's public record kept beside their private key (organisation, email, key id)."""
    path = public_record_path(private_key_path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise KeyringError(
            f"cannot read {path}",
            hint="it is written by `hub signers keygen` next to the private key",
        ) from None
    return SignerKey.from_json(doc, str(path))


def load_private_key(path: Path, passphrase: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase.encode("utf-8"))
    except OSError as exc:
        raise KeyringError(f"cannot read signing key {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise KeyringError(
            f"cannot open signing key {path}",
            hint="check the passphrase; keys are written by `hub signers keygen`",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyringError(f"{path} is not an Ed25519 key")
    return key


def _utc_seconds(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ApprovalStatement:
    """What a lead signs: this exact version of this agreement, for this organisation."""

    agreement_id: str
    version: int
    digest: str
    org: str
    signer_email: str
    key_id: str
    signed_at: str  # UTC, ISO 8601 to the second

    def to_json(self) -> dict[str, object]:
        return {
            "agreement_id": self.agreement_id,
            "version": self.version,
            "digest": self.digest,
            "org": self.org,
            "signer_email": self.signer_email,
            "key_id": self.key_id,
            "signed_at": self.signed_at,
        }

    def message(self) -> bytes:
        """The signed bytes: a fixed context line, then the canonical JSON of the statement."""
        return STATEMENT_CONTEXT + canonical_json(self.to_json())


@dataclass(frozen=True)
class SignedApproval:
    statement: ApprovalStatement
    signature: bytes

    def to_token(self) -> str:
        doc = {**self.statement.to_json(), "signature": base64.b64encode(self.signature).decode()}
        body = base64.urlsafe_b64encode(canonical_json(doc)).decode("ascii").rstrip("=")
        return TOKEN_PREFIX + body

    @classmethod
    def from_token(cls, token: str) -> SignedApproval:
        text = "".join(token.split())
        if not text.startswith(TOKEN_PREFIX):
            raise AgreementError(
                "this is not an approval token",
                hint="paste the whole line printed by `hub agreement sign`",
            )
        body = text.removeprefix(TOKEN_PREFIX)
        try:
            doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            statement = ApprovalStatement(
                agreement_id=str(doc["agreement_id"]),
                version=int(doc["version"]),
                digest=str(doc["digest"]),
                org=str(doc["org"]),
                signer_email=str(doc["signer_email"]),
                key_id=str(doc["key_id"]),
                signed_at=str(doc["signed_at"]),
            )
            signature = base64.b64decode(doc["signature"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise AgreementError(
                "the approval token is damaged",
                hint="copy the whole line printed by `hub agreement sign` again",
            ) from None
        return cls(statement, signature)


def sign_approval(
    private: Ed25519PrivateKey,
    *,
    agreement_id: str,
    version: int,
    digest: str,
    org: str,
    signer_email: str,
    at: datetime | None = None,
) -> SignedApproval:
    statement = ApprovalStatement(
        agreement_id=agreement_id,
        version=version,
        digest=digest,
        org=org,
        signer_email=signer_email,
        key_id=key_id_of(private.public_key()),
        signed_at=_utc_seconds(at or datetime.now(UTC)),
    )
    return SignedApproval(statement, private.sign(statement.message()))


def verify_approval(approval: SignedApproval, signers: SignerDirectory) -> str | None:
    """None when the signature is good and made with the registered key of the named lead;
    otherwise the reason it is not."""
    statement = approval.statement
    if not _KEY_ID.match(statement.key_id):
        return "the signature names no valid key id"
    key = signers.get(statement.key_id)
    if key is None:
        return f"signing key {statement.key_id} is not registered under keys/public"
    if key.org != statement.org or key.email != statement.signer_email:
        return (
            f"signing key {statement.key_id} is registered to {key.email} of {key.org}, "
            f"not {statement.signer_email} of {statement.org}"
        )
    try:
        key.public_key.verify(approval.signature, statement.message())
    except InvalidSignature:
        return f"the signature of {statement.org} does not verify"
    return None
