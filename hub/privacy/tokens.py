"""Keyed hashing of normalised identifiers into tokens.

A token is HMAC-SHA256 under a per-domain subkey: ``subkey = HMAC(K, "svd-hub/token/v1/" + domain)``
and ``token = HMAC(subkey, canonical value as UTF-8)``. Domain separation means the same digits
as an NHS number and as a pupil number never give the same token.

Forms: a token is 32 bytes. In Arrow and Parquet it is ``fixed_size_binary(32)`` (``TOKEN_TYPE``),
null where the value was null. Its text form, wherever one is needed (JSON, CSV, logs of test
fixtures), is the 64-character lowercase hex of those bytes (``bytes.hex()``); a text form is never
hashed in place of the bytes.

Without the key, a token cannot be reversed by enumeration: a plain SHA-256 of every possible NHS
number takes minutes to tabulate, an HMAC needs the key the hub never lets out.

Key rotation needs no raw data: a token under key version n is the version-1 token hashed again
under each later version in turn (``rekey``), which ``keyed_hash_chain`` does in one call.

The hashing runs over whole Arrow arrays in compiled code (``hub.privacy.hmac_batch``), at about
the speed of OpenSSL's own HMAC, with no Python per value.

>>> key = DataKey("pseudonymisation", 1, bytes(32))
>>> token = keyed_hash(pa.array(["9434765919"]), key, "nhs_number")[0].as_py()
>>> len(token), token.hex() == token.hex().lower()
(32, True)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import pyarrow as pa

from hub.privacy.hmac_batch import hmac_sha256_batch
from hub.privacy.keys import DataKey

TOKEN_BYTES = 32
TOKEN_TYPE = pa.binary(TOKEN_BYTES)
_DOMAIN_PREFIX = b"svd-hub/token/v1/"


def domain_subkey(key: DataKey, domain: str) -> bytes:
    """The subkey for one identifier domain (``nhs_number``, ``upn``, ``composite:...``)."""
    return hmac.new(key.secret, _DOMAIN_PREFIX + domain.encode(), hashlib.sha256).digest()


def keyed_hash(
    values: pa.Array | pa.ChunkedArray, key: DataKey, domain: str, *, threads: int | None = None
) -> pa.Array:
    """Tokens for an array of canonical strings (or bytes); nulls stay null.

    Takes string, large string, binary, large binary, fixed-size binary (tokens, for ``rekey``)
    and view arrays; a chunked array is hashed chunk by chunk into one ``TOKEN_TYPE`` array.
    ``threads`` caps the threads of the hashing kernel (its default: up to two, for long arrays).
    """
    return hmac_sha256_batch(domain_subkey(key, domain), values, threads=threads)


def rekey(tokens: pa.Array | pa.ChunkedArray, key: DataKey, domain: str) -> pa.Array:
    """Derive tokens again under another key: ``HMAC(subkey, old token)``. Used for release
    pseudonyms and key rotation; needs no raw data."""
    return keyed_hash(tokens, key, domain)


def keyed_hash_chain(
    values: pa.Array | pa.ChunkedArray,
    keys: Sequence[DataKey],
    domain: str,
    *,
    threads: int | None = None,
) -> pa.Array:
    """Tokens under ``keys[0]``, then re-hashed under each later key in order (``rekey``).

    With ``keys`` the versions 1..n of a data key, this is the token a value has under version n;
    with one key it is ``keyed_hash``. Every step uses that key's subkey for ``domain``.
    """
    if not keys:
        raise ValueError("keyed_hash_chain needs at least one key")
    tokens = keyed_hash(values, keys[0], domain, threads=threads)
    for key in keys[1:]:
        tokens = keyed_hash(tokens, key, domain, threads=threads)  # rekey
    return tokens
