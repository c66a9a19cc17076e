"""Properties of keyed hashing, checked with hypothesis against Python's ``hmac``.

Every example hashes a whole array at once, on both paths (the compiled libcrypto loop and the
cryptography fallback), with arbitrary keys of 0..200 bytes and arbitrary text: non-ASCII, empty,
longer than the 64-byte block, nulls, sliced arrays with offsets, chunked arrays, bytes. The example
database is off and hypothesis's caches go to a temporary directory removed at exit.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import shutil
import tempfile

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from hub.privacy.hmac_batch import Backend, hmac_sha256_batch
from hub.privacy.keys import DataKey
from hub.privacy.tokens import TOKEN_TYPE, domain_subkey, keyed_hash, keyed_hash_chain

_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis-tokens-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

keys = st.binary(min_size=0, max_size=200)
backends: st.SearchStrategy[Backend] = st.sampled_from(["libcrypto", "cryptography"])
texts = st.one_of(st.text(max_size=12), st.text(min_size=50, max_size=300), st.just(""))
optional_texts = st.lists(st.none() | texts, max_size=40)
optional_bytes = st.lists(st.none() | st.binary(max_size=150), max_size=40)
text_types = st.sampled_from([pa.string(), pa.large_string(), pa.string_view()])
binary_types = st.sampled_from([pa.binary(), pa.large_binary(), pa.binary_view()])
data_keys = st.builds(
    DataKey, st.just("pseudonymisation"), st.integers(1, 9), st.binary(min_size=32, max_size=32)
)


def reference(key: bytes, values: list[str | bytes | None]) -> list[bytes | None]:
    return [
        None
        if v is None
        else hmac.new(key, v.encode() if isinstance(v, str) else v, hashlib.sha256).digest()
        for v in values
    ]


@PROPERTY
@given(key=keys, values=optional_texts, kind=text_types, backend=backends)
def test_text_is_hashed_as_its_utf8_bytes(
    key: bytes, values: list[str | None], kind: pa.DataType, backend: Backend
) -> None:
    got = hmac_sha256_batch(key, pa.array(values, kind), backend=backend)
    assert got.type == TOKEN_TYPE
    assert got.to_pylist() == reference(key, list(values))


@PROPERTY
@given(key=keys, values=optional_bytes, kind=binary_types, backend=backends)
def test_bytes_are_hashed_as_they_are(
    key: bytes, values: list[bytes | None], kind: pa.DataType, backend: Backend
) -> None:
    got = hmac_sha256_batch(key, pa.array(values, kind), backend=backend)
    assert got.to_pylist() == reference(key, list(values))


@PROPERTY
@given(
    key=keys,
    values=optional_texts,
    start=st.integers(0, 40),
    length=st.integers(0, 40),
    backend=backends,
    threads=st.integers(1, 3),
)
def test_a_slice_hashes_only_its_own_rows(
    key: bytes,
    values: list[str | None],
    start: int,
    length: int,
    backend: Backend,
    threads: int,
) -> None:
    sliced = pa.array(values, pa.string()).slice(start, length)
    got = hmac_sha256_batch(key, sliced, backend=backend, threads=threads)
    assert got.to_pylist() == reference(key, list(values[start : start + length]))
    assert got.null_count == sum(v is None for v in values[start : start + length])


@PROPERTY
@given(
    key=keys,
    chunks=st.lists(optional_texts, max_size=6),
    backend=backends,
    threads=st.integers(1, 3),
)
def test_a_chunked_array_hashes_chunk_by_chunk_into_one_array(
    key: bytes, chunks: list[list[str | None]], backend: Backend, threads: int
) -> None:
    values = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    got = hmac_sha256_batch(key, values, backend=backend, threads=threads)
    assert isinstance(got, pa.Array)
    assert got.to_pylist() == reference(key, [v for c in chunks for v in c])


@PROPERTY
@given(
    key=data_keys,
    digits=st.lists(st.text("0123456789", min_size=1, max_size=12), min_size=1, max_size=20),
    domains=st.lists(
        st.sampled_from(["nhs_number", "upn", "pnc_id", "person", "composite:surname+dob"]),
        min_size=2,
        max_size=2,
        unique=True,
    ),
)
def test_domains_never_share_tokens(key: DataKey, digits: list[str], domains: list[str]) -> None:
    values = pa.array(digits)
    first = set(keyed_hash(values, key, domains[0]).to_pylist())
    second = set(keyed_hash(values, key, domains[1]).to_pylist())
    assert not first & second


@PROPERTY
@given(key=data_keys, values=optional_texts, domain=st.text(max_size=30))
def test_tokens_follow_the_documented_construction(
    key: DataKey, values: list[str | None], domain: str
) -> None:
    subkey = hmac.new(key.secret, b"svd-hub/token/v1/" + domain.encode(), hashlib.sha256).digest()
    assert domain_subkey(key, domain) == subkey
    assert keyed_hash(pa.array(values, pa.string()), key, domain).to_pylist() == reference(
        subkey, list(values)
    )


@PROPERTY
@given(chain=st.lists(data_keys, min_size=1, max_size=4), values=optional_texts)
def test_the_key_chain_rehashes_under_each_later_key(
    chain: list[DataKey], values: list[str | None]
) -> None:
    expected: list[str | bytes | None] = list(values)
    for key in chain:
        expected = list(reference(domain_subkey(key, "nhs_number"), expected))
    got = keyed_hash_chain(pa.array(values, pa.string()), chain, "nhs_number")
    assert got.to_pylist() == expected
