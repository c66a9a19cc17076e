"""Keyed hashing of normalised identifiers into tokens.

A token is HMAC-SHA256 under a per-domain subkey: ``subkey = HMAC(K, "svd-hub/token/v1/" + domain)``
and ``token = HMAC(subkey, canonical value as UTF-8)``. Domain separation means the same digits
as an NHS number and as a pupil number never give the same token. Tokens are 32 bytes; in Arrow and
Parquet they are ``fixed_size_binary(32)``; their text form is lowercase hex.

Without the key, a token cannot be reversed by enumeration: a plain SHA-256 of every possible NHS
number takes minutes to tabulate, an HMAC needs the key the hub never lets out.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from hub.privacy.keys import DataKey

TOKEN_BYTES = 32
TOKEN_TYPE = pa.binary(TOKEN_BYTES)
_DOMAIN_PREFIX = b"svd-hub/token/v1/"


def domain_subkey(key: DataKey, domain: str) -> bytes:
    """The subkey for one identifier domain (``nhs_number``, ``upn``, ``composite:...``)."""
    return hmac.new(key.secret, _DOMAIN_PREFIX + domain.encode(), hashlib.sha256).digest()


def keyed_hash(values: pa.Array | pa.ChunkedArray, key: DataKey, domain: str) -> pa.Array:
    """Tokens for an array of canonical strings; nulls stay null."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    base = crypto_hmac.HMAC(domain_subkey(key, domain), hashes.SHA256())
    out: list[bytes | None] = []
    append = out.append
    for value in values.to_pylist():
        if value is None:
            append(None)
            continue
        h = base.copy()
        h.update(value.encode() if isinstance(value, str) else bytes(value))
        append(h.finalize())
    return pa.array(out, type=TOKEN_TYPE)


def rekey(tokens: pa.Array, key: DataKey, domain: str) -> pa.Array:
    """Derive tokens again under another key: ``HMAC(subkey, old token)``. Used for release
    pseudonyms and key rotation; needs no raw data."""
    return keyed_hash(tokens, key, domain)
