"""The two compiled HMAC kernels (block by block over SHA256_Transform, and over SHA256_Update /
SHA256_Final) agree with Python's ``hmac`` on every length around the padding limits, and the
compiled path is chosen, loaded in the background and fallen back from as documented."""

from __future__ import annotations

import hmac
import random
from typing import Any

import pyarrow as pa
import pytest

from hub.privacy import hmac_batch

KEYS = (b"", b"k" * 32, b"k" * 64, bytes(range(100)))


def _values() -> pa.Array:
    rng = random.Random(6)
    rows: list[bytes | None] = [bytes(rng.getrandbits(8) for _ in range(n)) for n in range(200)]
    rows += [None, b"", None]
    rng.shuffle(rows)
    return pa.array(rows, pa.binary())


def _compiled(by_block: bool) -> hmac_batch._Compiled:
    lib = hmac_batch._load_libcrypto()
    assert lib is not None, "libcrypto is present here"
    if by_block:
        assert lib.transform is not None, "this libcrypto exports SHA256_Transform"
    kernel = hmac_batch._hmac_rows_by_block if by_block else hmac_batch._hmac_rows
    return hmac_batch._Compiled(lib, hmac_batch._jit(kernel), by_block)


@pytest.mark.parametrize("by_block", [True, False])
def test_each_kernel_matches_python_hmac(by_block: bool) -> None:
    compiled = _compiled(by_block)
    assert hmac_batch._self_test(compiled)
    values = _values()
    for key in KEYS:
        for array in (values, values.slice(7, 150)):
            got = hmac_batch._hash(
                key, [hmac_batch._Chunk.of(array, 0)], len(array), compiled, threads=2
            )
            want = [None if v is None else hmac.digest(key, v, "sha256") for v in array.to_pylist()]
            assert got.to_pylist() == want


def test_the_block_kernel_is_the_one_built_when_the_library_has_it() -> None:
    compiled = hmac_batch._build()
    assert compiled is not None and compiled.by_block


def test_a_library_without_sha256_transform_gets_the_update_final_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hmac_batch, "_transform", lambda library: None)
    lib = hmac_batch._load_libcrypto()
    assert lib is not None and lib.transform is None
    compiled = hmac_batch._build()
    assert compiled is not None and not compiled.by_block
    got = hmac_batch._hash(
        b"key", [hmac_batch._Chunk.of(_values(), 0)], len(_values()), compiled, threads=1
    )
    assert got.to_pylist() == [
        None if v is None else hmac.digest(b"key", v, "sha256") for v in _values().to_pylist()
    ]


def test_a_block_kernel_that_fails_its_test_falls_back_to_the_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = hmac_batch._self_test
    monkeypatch.setattr(
        hmac_batch, "_self_test", lambda compiled: not compiled.by_block and real(compiled)
    )
    compiled = hmac_batch._build()
    assert compiled is not None and not compiled.by_block


def test_a_large_job_can_load_the_compiled_path_in_the_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state: dict[str, Any] = {"built": False, "compiled": None, "fallback_values": 0}
    monkeypatch.setattr(hmac_batch, "_state", state)
    hmac_batch.expect(hmac_batch.JIT_AFTER_VALUES - 1, wait=False)
    assert not state.get("loading"), "a small job never loads the compiled path"
    hmac_batch.expect(hmac_batch.JIT_AFTER_VALUES, wait=False)
    assert state.get("loading")
    # The first hashing call takes the compiled path, waiting for the load if it is not done.
    assert hmac_batch._choose("auto", 1) is not None
    assert state["built"] is True
    got = hmac_batch.hmac_sha256_batch(b"k", pa.array(["1", None]))
    assert got.to_pylist() == [hmac.digest(b"k", b"1", "sha256"), None]
