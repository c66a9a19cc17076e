"""Keyed tokens: deterministic under one key, separated by domain and by key."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa

from hub.privacy.keys import DataKey
from hub.privacy.tokens import TOKEN_TYPE, domain_subkey, keyed_hash

KEY = DataKey("pseudonymisation", 1, bytes(range(32)))
OTHER = DataKey("pseudonymisation", 2, bytes(range(1, 33)))


def test_tokens_match_the_documented_construction() -> None:
    tokens = keyed_hash(pa.array(["9434765919", None]), KEY, "nhs_number")
    subkey = hmac.new(KEY.secret, b"svd-hub/token/v1/nhs_number", hashlib.sha256).digest()
    assert tokens.type == TOKEN_TYPE
    assert tokens[0].as_py() == hmac.new(subkey, b"9434765919", hashlib.sha256).digest()
    assert tokens[1].as_py() is None
    assert domain_subkey(KEY, "nhs_number") == subkey


def test_domains_and_keys_separate_equal_values() -> None:
    value = pa.array(["1234567890"])
    assert keyed_hash(value, KEY, "nhs_number") != keyed_hash(value, KEY, "upn")
    assert keyed_hash(value, KEY, "nhs_number") != keyed_hash(value, OTHER, "nhs_number")


def test_a_plain_hash_is_not_a_token() -> None:
    token = keyed_hash(pa.array(["9434765919"]), KEY, "nhs_number")[0].as_py()
    assert token != hashlib.sha256(b"9434765919").digest()
