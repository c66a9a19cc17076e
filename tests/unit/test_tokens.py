"""Keyed tokens: deterministic under one key, separated by domain and by key, and the same bytes as
Python's ``hmac`` on both hashing paths (compiled libcrypto loop and the cryptography fallback)."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from hub.privacy import hmac_batch
from hub.privacy.hmac_batch import hmac_sha256_batch
from hub.privacy.keys import DataKey
from hub.privacy.tokens import (
    TOKEN_BYTES,
    TOKEN_TYPE,
    domain_subkey,
    keyed_hash,
    keyed_hash_chain,
    rekey,
)

KEY = DataKey("pseudonymisation", 1, bytes(range(32)))
OTHER = DataKey("pseudonymisation", 2, bytes(range(1, 33)))
THIRD = DataKey("pseudonymisation", 3, bytes(range(2, 34)))
BACKENDS = ("libcrypto", "cryptography")
ROOT = Path(__file__).resolve().parents[2]


def reference(key: bytes, values: list[str | bytes | None]) -> list[bytes | None]:
    return [
        None
        if v is None
        else hmac.new(key, v.encode() if isinstance(v, str) else v, hashlib.sha256).digest()
        for v in values
    ]


def test_tokens_match_the_documented_construction() -> None:
    tokens = keyed_hash(pa.array(["9434765919", None]), KEY, "nhs_number")
    subkey = hmac.new(KEY.secret, b"svd-hub/token/v1/nhs_number", hashlib.sha256).digest()
    assert tokens.type == TOKEN_TYPE == pa.binary(TOKEN_BYTES)
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


VALUES: list[str | None] = ["9434765919", "", None, "ZOË O'BRIEN", "é" * 40, "x" * 200, "\x00"]
TYPES = [pa.string(), pa.large_string(), pa.binary(), pa.large_binary(), pa.string_view()]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", TYPES, ids=str)
@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
def test_every_input_type_and_key_length_matches_hmac(
    backend: hmac_batch.Backend, kind: pa.DataType, key_length: int
) -> None:
    key = bytes(range(key_length))
    values = pa.array(VALUES, pa.string()).cast(kind)
    got = hmac_sha256_batch(key, values, backend=backend)
    assert got.type == TOKEN_TYPE
    assert got.to_pylist() == reference(key, VALUES)
    assert got.null_count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_of_tokens_dictionaries_and_null_arrays(backend: hmac_batch.Backend) -> None:
    tokens = keyed_hash(pa.array(["a", None, "b"]), KEY, "upn")
    again = hmac_sha256_batch(b"k", tokens, backend=backend)
    assert again.to_pylist() == reference(b"k", tokens.to_pylist())
    encoded = pa.array(["b", "a", None, "b"]).dictionary_encode()
    assert hmac_sha256_batch(b"k", encoded, backend=backend).to_pylist() == reference(
        b"k", ["b", "a", None, "b"]
    )
    nulls = hmac_sha256_batch(b"k", pa.nulls(3), backend=backend)
    assert nulls.type == TOKEN_TYPE
    assert nulls.to_pylist() == [None, None, None]


@pytest.mark.parametrize("backend", BACKENDS)
def test_slices_with_offsets_keep_their_own_rows_and_nulls(backend: hmac_batch.Backend) -> None:
    rows = [None if i % 7 == 3 else f"v{i}" * (i % 5) for i in range(100)]
    base = pa.array(rows, pa.string())
    for start, length in [(0, 100), (1, 10), (3, 1), (9, 0), (13, 77), (99, 1)]:
        got = hmac_sha256_batch(b"key", base.slice(start, length), backend=backend)
        assert got.to_pylist() == reference(b"key", rows[start : start + length])
    tokens = pa.array([bytes([i]) * 32 if i % 3 else None for i in range(20)], TOKEN_TYPE)
    sliced = tokens.slice(5, 11)
    got = hmac_sha256_batch(b"key", sliced, backend=backend)
    assert got.to_pylist() == reference(b"key", sliced.to_pylist())


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunked_input_gives_one_array(backend: hmac_batch.Backend) -> None:
    chunks = [["a", None], [], ["b"], [None, None], ["c", "d", ""]]
    values = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    got = keyed_hash(values, KEY, "forename")
    assert isinstance(got, pa.Array)
    assert got.equals(keyed_hash(values.combine_chunks(), KEY, "forename"))
    assert hmac_sha256_batch(b"k", values, backend=backend).to_pylist() == reference(
        b"k", [v for c in chunks for v in c]
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_inputs(backend: hmac_batch.Backend) -> None:
    for empty in (pa.array([], pa.string()), pa.chunked_array([], pa.binary())):
        got = hmac_sha256_batch(b"k", empty, backend=backend)
        assert got.type == TOKEN_TYPE
        assert len(got) == 0


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_threads_split_rows_and_chunks_without_changing_a_byte(threads: int) -> None:
    rows = [None if i % 11 == 0 else str(9_000_000_000 + i) for i in range(3001)]
    chunked = pa.chunked_array([pa.array(rows[:7]), pa.array(rows[7:1500]), pa.array(rows[1500:])])
    one = hmac_sha256_batch(b"k", chunked, backend="libcrypto", threads=1)
    many = hmac_sha256_batch(b"k", chunked, backend="libcrypto", threads=threads)
    assert many.equals(one)
    assert one.to_pylist() == reference(b"k", list(rows))


def test_the_fallback_path_gives_the_same_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    values = pa.array([str(n) for n in range(9_434_765_000, 9_434_766_000)] + [None, "é"])
    compiled = keyed_hash(values, KEY, "nhs_number")
    monkeypatch.setattr(hmac_batch, "_choose", lambda backend, rows: None)
    assert keyed_hash(values, KEY, "nhs_number").equals(compiled)


def test_auto_switches_to_the_compiled_path_once_worthwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hmac_batch, "JIT_AFTER_VALUES", 0)
    assert hmac_batch._choose("auto", 1) is not None
    assert hmac_batch._choose("cryptography", 10**9) is None


def test_a_large_job_announced_in_advance_runs_compiled_from_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = {"built": False, "compiled": None, "fallback_values": 0}
    monkeypatch.setattr(hmac_batch, "_state", state)
    hmac_batch.expect(hmac_batch.JIT_AFTER_VALUES - 1)
    assert state["built"] is False, "a small job never loads the compiled path"
    hmac_batch.expect(hmac_batch.JIT_AFTER_VALUES)
    assert state["built"] is True
    assert hmac_batch._choose("auto", 1) is state["compiled"]


def test_rekey_and_the_key_chain_are_nested_hmacs() -> None:
    values = pa.array(["9434765919", None, ""])
    first = keyed_hash(values, KEY, "nhs_number")
    assert rekey(first, OTHER, "nhs_number").to_pylist() == reference(
        domain_subkey(OTHER, "nhs_number"), first.to_pylist()
    )
    chained = keyed_hash_chain(values, [KEY, OTHER, THIRD], "nhs_number")
    expected = rekey(rekey(first, OTHER, "nhs_number"), THIRD, "nhs_number")
    assert chained.equals(expected)
    assert keyed_hash_chain(values, [KEY], "nhs_number").equals(first)
    with pytest.raises(ValueError, match="at least one key"):
        keyed_hash_chain(values, [], "nhs_number")


def test_unsupported_types_are_refused_by_type_not_value() -> None:
    with pytest.raises(TypeError) as raised:
        keyed_hash(pa.array([9434765919]), KEY, "nhs_number")
    assert "int64" in str(raised.value)
    assert "9434765919" not in str(raised.value)
    with pytest.raises(TypeError):
        keyed_hash(pa.array([], pa.int32()), KEY, "nhs_number")


def test_a_missing_libcrypto_means_the_fallback_and_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_library(name: str) -> ctypes.CDLL:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert hmac_batch._load_libcrypto() is None
    with caplog.at_level(logging.WARNING, logger="hub.privacy.hmac_batch"):
        assert hmac_batch._build() is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cryptography" in warnings[0].getMessage()


def test_a_libcrypto_without_the_sha256_functions_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Stripped:
        def __init__(self, name: str) -> None:
            self.name = name

        def __getitem__(self, symbol: str) -> object:
            raise AttributeError(symbol)

    monkeypatch.setattr(ctypes, "CDLL", Stripped)
    assert hmac_batch._load_libcrypto() is None


def test_the_compiled_path_passes_its_known_answer_test() -> None:
    compiled = hmac_batch._compiled_backend()
    assert compiled is not None, "libcrypto is present here; the fast path must load"
    assert hmac_batch._self_test(compiled)


@pytest.mark.slow
def test_no_writable_numba_cache_compiles_in_memory(tmp_path: Path) -> None:
    """No cache locator at all (NUMBA_CACHE_DIR under a file, no other locator): still hashes."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    script = textwrap.dedent(
        """
        import hmac, pyarrow as pa
        from hub.privacy import hmac_batch
        got = hmac_batch.hmac_sha256_batch(b"k", pa.array(["1", None]), backend="libcrypto")
        assert hmac_batch._compiled_backend() is not None
        assert got.to_pylist() == [hmac.digest(b"k", b"1", "sha256"), None]
        """
    )
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(blocker / "cache"),
        "NUMBA_CACHE_LOCATOR_CLASSES": "IPythonCacheLocator",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
