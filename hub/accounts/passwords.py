"""Password hashing with scrypt.

A stored hash reads ``scrypt$n$r$p$salt$hash`` (salt and hash in standard base64), so the cost
can be raised later without invalidating hashes already stored: each hash carries its own
parameters. Verification derives the key again and compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from functools import cache

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from hub.errors import UserError

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 12
_SCHEME = "scrypt"
_MAX_N = 2**20  # refuse stored parameters that would make one check take minutes


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=HASH_BYTES, n=n, r=r, p=p).derive(password.encode("utf-8"))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def check_password_rules(password: str) -> None:
    """Raise ``UserError`` when a new password is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
            hint="a phrase of three or four unrelated words is long enough and easy to remember",
        )


def hash_password(password: str) -> str:
    """The stored form of a new password (``UserError`` when it is shorter than 12)."""
    check_password_rules(password)
    salt = os.urandom(SALT_BYTES)
    digest = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        return None
    if not salt or len(digest) != HASH_BYTES:
        return None
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash; a malformed hash never matches."""
    parsed = _parse(stored)
    if parsed is None:
        # Spend the same time as a real check, so a broken record is not told apart by timing.
        burn_time()
        return False
    n, r, p, salt, expected = parsed
    return hmac.compare_digest(_derive(password, salt, n, r, p), expected)


@cache
def _decoy_hash() -> str:
    return hash_password(_b64(os.urandom(24)))


def burn_time() -> None:
    """Run one scrypt check against a decoy hash: used when there is no real hash to check (an
    unknown email), so the answer takes as long as for a known one."""
    n, r, p, salt, _ = _parse(_decoy_hash()) or (SCRYPT_N, SCRYPT_R, SCRYPT_P, b"\0" * 16, b"")
    _derive("decoy password", salt, n, r, p)
