"""HMAC-SHA256 of every value of an Arrow array, in compiled code (private to ``hub.privacy``).

``hmac_sha256_batch(key, values)`` gives one 32-byte MAC per value, as ``fixed_size_binary(32)``,
nulls kept. It is byte for byte ``hmac.new(key, value, hashlib.sha256).digest()`` (RFC 2104: keys
longer than the 64-byte block are hashed first), for string, large string, binary, large binary,
fixed-size binary, string view and binary view arrays, dictionary-encoded or not, sliced or not,
chunked or not. Strings are hashed as their UTF-8 bytes, which is what Arrow stores.

The fast path (``libcrypto``) is a numba-compiled loop over the array's offsets and data buffers
that calls OpenSSL's SHA-256 block function ``SHA256_Transform`` (SHA-NI where the CPU has it)
through a ctypes function pointer. The HMAC inner and outer states (the SHA-256 state after the
64-byte padded key) are computed once per call; per value the loop sets its scratch state to the
inner one, compresses the value's blocks (the last one padded in the loop: 0x80, zeros, the bit
length), then sets the state to the outer one and compresses the inner digest's single padded
block, writing the big-endian state straight into the output buffer: two compressions and two
calls per value of up to 55 bytes. A libcrypto without ``SHA256_Transform`` gets the same loop
over ``SHA256_Update``/``SHA256_Final`` (four calls per value, about a third slower). No Python
runs per value, the loop releases the GIL, and large arrays are split over up to two threads. The
scratch state is allocated per call, so concurrent calls share no mutable state.

Compiling costs a few seconds; numba caches the machine code (``cache=True``) in
``NUMBA_CACHE_DIR`` when that is set, otherwise in this package's ``__pycache__`` or, if that is
not writable, the user's cache directory; with no writable place it compiles in memory each process.
Loading numba and the cached code still costs about a second per process, so ``backend="auto"``
hashes with the slower path until a process has hashed ``JIT_AFTER_VALUES`` values, about the point
where starting the compiled path pays for itself (small extracts never load numba). A caller that
knows a large job is coming says so with ``expect(values)``, so the whole job runs compiled rather
than switching part-way.

The slower path (``cryptography``) is the one used when libcrypto or its ``SHA256_*`` functions
cannot be found, or the compiled path fails its known-answer self-test: an HMAC keyed once and
``copy()``-ed per value (about 1 M values/s here, against 9 to 10 M/s per core compiled). One
WARNING is logged when that happens; no value, key or digest is ever logged.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import itertools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

log = logging.getLogger(__name__)

DIGEST_BYTES = 32
OUTPUT_TYPE = pa.binary(DIGEST_BYTES)
# A process switches to the compiled path once it has hashed this many values: about a second of the
# slower path, what importing numba and loading the cached machine code cost (rent, then buy).
JIT_AFTER_VALUES = 2_000_000
# Arrays this long are split over threads; at ~7 M values/s a thread then gets 7 ms of work or more.
PARALLEL_MIN_VALUES = 100_000
# Two threads: the stage task shares its worker with other tasks (Celery), so it takes no more.
MAX_THREADS = 2

Backend = Literal["auto", "libcrypto", "cryptography"]

_BLOCK = 64
_CTX_BYTES = 112  # sizeof(SHA256_CTX): eight state words, bit count, 64-byte block, num, md_len
_CTX_ALLOC = 256  # room to spare, so a build with a larger struct fails the self-test, not memory
_LIBRARY_NAMES = ("libcrypto.so.3", "libcrypto.so", "libcrypto.dylib")
_U8 = npt.NDArray[np.uint8]
_I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _LibCrypto:
    """The three libcrypto functions, typed with pointers as ``size_t`` so the compiled loop can
    pass computed addresses (the same calling convention as pointers on every 64-bit ABI)."""

    name: str
    init: Any
    update: Any
    final: Any
    transform: Any | None = None  # SHA256_Transform, when the library exports it


def _load_libcrypto() -> _LibCrypto | None:
    """libcrypto with ``SHA256_Init/Update/Final`` (and ``SHA256_Transform`` if it has it), or
    None."""
    found = ctypes.util.find_library("crypto")
    for name in dict.fromkeys([*([found] if found else []), *_LIBRARY_NAMES]):
        try:
            library = ctypes.CDLL(name)
            # Item access gives fresh function objects, not the library's shared attributes.
            init, update, final = (
                library[symbol] for symbol in ("SHA256_Init", "SHA256_Update", "SHA256_Final")
            )
        except (OSError, AttributeError):
            continue
        init.argtypes = [ctypes.c_size_t]
        update.argtypes = [ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t]
        final.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
        for function in (init, update, final):
            function.restype = ctypes.c_int
        return _LibCrypto(name, init, update, final, _transform(library))
    return None


def _transform(library: Any) -> Any | None:
    try:
        transform = library["SHA256_Transform"]
    except (AttributeError, KeyError):
        return None
    transform.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    transform.restype = None
    return transform


def _hmac_rows(
    update: Any,
    final: Any,
    inner: _U8,
    outer: _U8,
    offsets: _I64,
    data: _U8,
    valid: _U8,
    start: int,
    stop: int,
    out: _U8,
    out_row: int,
) -> int:
    """MACs of rows ``start..stop`` of one chunk into ``out`` from row ``out_row`` (compiled).

    ``valid`` holds 0/1 per row, or nothing when the chunk has no nulls; null rows get zero bytes.
    Returns the number of rows done, or -1 if libcrypto reported a failure.
    """
    ctx = np.empty(_CTX_ALLOC, np.uint8)
    digest = np.empty(DIGEST_BYTES, np.uint8)
    ctx_at = ctx.ctypes.data
    digest_at = digest.ctypes.data
    data_at = data.ctypes.data
    out_at = out.ctypes.data
    check_nulls = valid.size > 0
    for i in range(start, stop):
        at = (out_row + i - start) * DIGEST_BYTES
        if check_nulls and valid[i] == 0:
            out[at : at + DIGEST_BYTES] = 0
            continue
        ctx[:_CTX_BYTES] = inner[:_CTX_BYTES]
        if update(ctx_at, data_at + offsets[i], offsets[i + 1] - offsets[i]) != 1:
            return -1
        if final(digest_at, ctx_at) != 1:
            return -1
        ctx[:_CTX_BYTES] = outer[:_CTX_BYTES]
        if update(ctx_at, digest_at, DIGEST_BYTES) != 1:
            return -1
        if final(out_at + at, ctx_at) != 1:
            return -1
    return stop - start


def _hmac_rows_by_block(
    transform: Any,
    inner: _U8,
    outer: _U8,
    offsets: _I64,
    data: _U8,
    valid: _U8,
    start: int,
    stop: int,
    out: _U8,
    out_row: int,
) -> int:
    """``_hmac_rows`` over ``SHA256_Transform``: the padding done here, one call per block.

    ``inner`` and ``outer`` hold the SHA-256 state words (native byte order) first, as a
    ``SHA256_CTX`` does; so does the scratch context whose state the calls update.
    """
    ctx = np.zeros(_CTX_ALLOC, np.uint8)
    state = ctx[:DIGEST_BYTES].view(np.uint32)
    inner_state = inner[:DIGEST_BYTES].view(np.uint32)
    outer_state = outer[:DIGEST_BYTES].view(np.uint32)
    block = np.zeros(2 * _BLOCK, np.uint8)
    ctx_at = ctx.ctypes.data
    block_at = block.ctypes.data
    data_at = data.ctypes.data
    check_nulls = valid.size > 0
    for i in range(start, stop):
        at = (out_row + i - start) * DIGEST_BYTES
        if check_nulls and valid[i] == 0:
            out[at : at + DIGEST_BYTES] = 0
            continue
        state[:] = inner_state
        first = offsets[i]
        size = offsets[i + 1] - first
        whole = size // _BLOCK
        for b in range(whole):
            transform(ctx_at, data_at + first + b * _BLOCK)
        rest = size - whole * _BLOCK
        block[:rest] = data[first + whole * _BLOCK : first + size]
        block[rest] = 0x80
        end = _BLOCK if rest < _BLOCK - 8 else 2 * _BLOCK
        block[rest + 1 : end - 8] = 0
        bits = (_BLOCK + size) * 8  # the padded key block, then the value
        for k in range(8):
            block[end - 1 - k] = (bits >> (8 * k)) & 0xFF
        transform(ctx_at, block_at)
        if end > _BLOCK:
            transform(ctx_at, block_at + _BLOCK)
        for k in range(8):  # the inner digest, big-endian, is the outer message
            word = state[k]
            block[4 * k] = (word >> 24) & 0xFF
            block[4 * k + 1] = (word >> 16) & 0xFF
            block[4 * k + 2] = (word >> 8) & 0xFF
            block[4 * k + 3] = word & 0xFF
        block[DIGEST_BYTES] = 0x80
        block[DIGEST_BYTES + 1 : _BLOCK - 2] = 0
        block[_BLOCK - 2] = 0x03  # (64 + 32) * 8 = 768 bits
        block[_BLOCK - 1] = 0x00
        state[:] = outer_state
        transform(ctx_at, block_at)
        for k in range(8):
            word = state[k]
            out[at + 4 * k] = (word >> 24) & 0xFF
            out[at + 4 * k + 1] = (word >> 16) & 0xFF
            out[at + 4 * k + 2] = (word >> 8) & 0xFF
            out[at + 4 * k + 3] = word & 0xFF
    return stop - start


@dataclass(frozen=True)
class _Compiled:
    lib: _LibCrypto
    kernel: Any  # the numba dispatcher of _hmac_rows_by_block, or of _hmac_rows
    by_block: bool = False

    def run(
        self, inner: _U8, outer: _U8, chunk: _Chunk, start: int, stop: int, out: _U8, row: int
    ) -> int:
        if self.by_block:
            return int(
                self.kernel(
                    self.lib.transform, inner, outer, chunk.offsets, chunk.data, chunk.valid,
                    start, stop, out, row,
                )
            )  # fmt: skip
        return int(
            self.kernel(
                self.lib.update, self.lib.final, inner, outer, chunk.offsets, chunk.data,
                chunk.valid, start, stop, out, row,
            )
        )  # fmt: skip


def _jit(function: Callable[..., int]) -> Any:
    """``function`` compiled with numba, cached on disk when numba finds a writable place."""
    import numba  # imported here: it costs about a second, and small runs never need it

    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        log.info("no writable numba cache directory; compiling the HMAC kernel in memory")
        return numba.njit(nogil=True)(function)


def _build() -> _Compiled | None:
    """The compiled backend, checked against Python's ``hmac``; None (and one WARNING) if not.

    The block kernel is tried first; if the library lacks ``SHA256_Transform`` or the kernel
    fails its known-answer test, the ``SHA256_Update``/``SHA256_Final`` one."""
    lib = _load_libcrypto()
    if lib is None:
        log.warning(
            "libcrypto with SHA256_Init/Update/Final not found; keyed hashing uses the slower "
            "cryptography path (several times slower)"
        )
        return None
    kernels: list[tuple[Callable[..., int], bool]] = [(_hmac_rows, False)]
    if lib.transform is not None:
        kernels.insert(0, (_hmac_rows_by_block, True))
    for function, by_block in kernels:
        try:
            compiled = _Compiled(lib, _jit(function), by_block)
            passed = _self_test(compiled)
        except Exception as error:  # any failure to compile means the slower path, never no tokens
            log.warning(
                "the compiled HMAC kernel could not be built (%s); keyed hashing uses the slower "
                "cryptography path",
                type(error).__name__,
            )
            return None
        if passed:
            return compiled
    log.warning(
        "the compiled HMAC kernel over %s failed its known-answer test; keyed hashing uses "
        "the slower cryptography path",
        lib.name,
    )
    return None


def _self_test(compiled: _Compiled) -> bool:
    """Known answers: short, empty, block-sized and long keys and values (every length around
    the one- and two-block padding limits), and a null."""
    values = pa.array(
        [b"", b"abc", None, *(b"\x5a" * n for n in range(50, 131)), bytes(range(256)) * 3]
    )
    for key in (b"", b"k" * 32, b"k" * 64, bytes(range(200))):
        got = _hash(key, [_Chunk.of(values, 0)], len(values), compiled, threads=1)
        want = [None if v is None else hmac.digest(key, v, "sha256") for v in values.to_pylist()]
        if got.to_pylist() != want:
            return False
    return True


_state_lock = threading.Lock()
_state: dict[str, Any] = {"built": False, "compiled": None, "fallback_values": 0}


def _compiled_backend() -> _Compiled | None:
    """The compiled backend, built once per process (None if it cannot be)."""
    with _state_lock:
        if not _state["built"]:
            _state["compiled"] = _build()
            _state["built"] = True
        compiled: _Compiled | None = _state["compiled"]
        return compiled


def expect(values: int, *, wait: bool = True) -> None:
    """A job of about ``values`` values is coming: load the compiled path now when that many
    make it worthwhile, so the job does not pay the switch part-way through.

    ``wait=False`` loads it in a background thread and returns at once: the caller reads and
    prepares its first values meanwhile, and its first hashing call waits for the load to end.
    """
    if values < JIT_AFTER_VALUES:
        return
    if wait:
        _compiled_backend()
        return
    with _state_lock:
        if _state["built"] or _state.get("loading"):
            return
        _state["loading"] = True
    threading.Thread(target=_compiled_backend, name="hmac-load", daemon=True).start()


def _choose(backend: Backend, rows: int) -> _Compiled | None:
    """The compiled backend to use for ``rows`` values, or None for the cryptography path."""
    if backend == "cryptography":
        return None
    if backend == "libcrypto":
        return _compiled_backend()
    with _state_lock:
        built = bool(_state["built"] or _state.get("loading"))  # loading: wait for it
        worthwhile = built or _state["fallback_values"] + rows >= JIT_AFTER_VALUES
        if not worthwhile:
            _state["fallback_values"] += rows
    return _compiled_backend() if worthwhile else None


@dataclass(frozen=True)
class _Chunk:
    """One input chunk as buffers: absolute offsets into ``data``, 0/1 validity (empty when the
    chunk has no nulls), and the chunk's first row in the output."""

    offsets: _I64
    data: _U8
    valid: _U8
    row: int

    @property
    def length(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def of(cls, array: pa.Array, row: int) -> _Chunk:
        array = _binary_like(array)
        n, offset, kind = len(array), array.offset, array.type
        buffers = array.buffers()
        if pa.types.is_null(kind):
            offsets = np.zeros(n + 1, np.int64)
            data = np.frombuffer(b"", np.uint8)
            valid = np.zeros(n, np.uint8)
            return cls(offsets, data, valid, row)
        if pa.types.is_fixed_size_binary(kind):
            width = kind.byte_width
            offsets = np.arange(offset, offset + n + 1, dtype=np.int64) * width
            data_buffer = buffers[1]
        else:
            large = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
            raw = np.frombuffer(buffers[1], np.int64 if large else np.int32)
            offsets = raw[offset : offset + n + 1].astype(np.int64)
            data_buffer = buffers[2]
        data = np.frombuffer(b"" if data_buffer is None else data_buffer, np.uint8)
        data.flags.writeable = False  # one compiled signature, whatever the buffer's origin
        valid = np.zeros(0, np.uint8)
        if array.null_count:
            bits = np.frombuffer(buffers[0], np.uint8)[offset // 8 : (offset + n + 7) // 8]
            skip = offset % 8
            valid = np.unpackbits(bits, bitorder="little")[skip : skip + n]
        return cls(offsets, data, valid, row)


def _binary_like(array: pa.Array) -> pa.Array:
    if not isinstance(array, pa.Array):
        raise TypeError("keyed hashing takes a pyarrow Array or ChunkedArray")
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _binary_like(array.dictionary_decode())
    if (
        pa.types.is_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or pa.types.is_null(kind)
    ):
        return array
    if pa.types.is_string_view(kind) or pa.types.is_binary_view(kind):
        return array.cast(pa.large_binary())
    raise TypeError(f"keyed hashing takes string or binary arrays, not {kind}")


def _midstates(lib: _LibCrypto, key: bytes) -> tuple[_U8, _U8]:
    """SHA-256 contexts after the inner (0x36) and outer (0x5c) padded key blocks."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    block = np.frombuffer(key.ljust(_BLOCK, b"\x00"), np.uint8)
    states = []
    for pad in (0x36, 0x5C):
        padded = np.bitwise_xor(block, np.uint8(pad))
        ctx = np.zeros(_CTX_ALLOC, np.uint8)
        if (
            lib.init(ctx.ctypes.data) != 1
            or lib.update(ctx.ctypes.data, padded.ctypes.data, _BLOCK) != 1
        ):
            raise RuntimeError("libcrypto SHA256_Init/SHA256_Update failed")
        states.append(ctx)
    return states[0], states[1]


def _hash_compiled(
    compiled: _Compiled, key: bytes, chunks: Sequence[_Chunk], out: _U8, rows: int, threads: int
) -> None:
    inner, outer = _midstates(compiled.lib, key)

    def run(part: list[tuple[_Chunk, int, int]]) -> None:
        for chunk, start, stop in part:
            done = compiled.run(inner, outer, chunk, start, stop, out, chunk.row + start)
            if done != stop - start:
                raise RuntimeError("libcrypto reported a SHA-256 failure")

    parts = _split(chunks, rows, threads)
    if len(parts) == 1:
        run(parts[0])
        return
    with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="hmac") as pool:
        for future in [pool.submit(run, part) for part in parts]:
            future.result()


def _split(
    chunks: Sequence[_Chunk], rows: int, threads: int
) -> list[list[tuple[_Chunk, int, int]]]:
    """Row ranges ``(chunk, start, stop)`` in ``threads`` parts of about equal size."""
    bounds = [rows * t // threads for t in range(threads + 1)]
    parts: list[list[tuple[_Chunk, int, int]]] = []
    for low, high in itertools.pairwise(bounds):
        part = []
        for chunk in chunks:
            start = max(low - chunk.row, 0)
            stop = min(high - chunk.row, chunk.length)
            if start < stop:
                part.append((chunk, start, stop))
        if part:
            parts.append(part)
    return parts


def _hash_fallback(key: bytes, chunks: Sequence[_Chunk], out: _U8) -> None:
    base = crypto_hmac.HMAC(key, hashes.SHA256())
    zero = bytes(DIGEST_BYTES)
    for chunk in chunks:
        first = int(chunk.offsets[0])
        blob = chunk.data[first : int(chunk.offsets[-1])].tobytes()
        bounds = (chunk.offsets - first).tolist()
        valid = chunk.valid.tolist() if chunk.valid.size else [1] * chunk.length
        digests: list[bytes] = []
        append, copy = digests.append, base.copy
        for low, high, ok in zip(bounds, bounds[1:], valid, strict=False):
            if not ok:
                append(zero)
                continue
            mac = copy()
            mac.update(blob[low:high])
            append(mac.finalize())
        start = chunk.row * DIGEST_BYTES
        out[start : start + chunk.length * DIGEST_BYTES] = np.frombuffer(
            b"".join(digests), np.uint8
        )


def _hash(
    key: bytes, chunks: Sequence[_Chunk], rows: int, compiled: _Compiled | None, threads: int
) -> pa.FixedSizeBinaryArray:
    out = np.empty(rows * DIGEST_BYTES, np.uint8)
    if compiled is None:
        _hash_fallback(key, chunks, out)
    else:
        _hash_compiled(compiled, key, chunks, out, rows, threads)
    nulls = sum(int(np.count_nonzero(c.valid == 0)) for c in chunks if c.valid.size)
    validity = None
    if nulls:
        flags = np.concatenate(
            [c.valid if c.valid.size else np.ones(c.length, np.uint8) for c in chunks]
        )
        validity = pa.py_buffer(np.packbits(flags, bitorder="little"))
    return pa.Array.from_buffers(OUTPUT_TYPE, rows, [validity, pa.py_buffer(out)], nulls)


def _default_threads(rows: int) -> int:
    if rows < PARALLEL_MIN_VALUES:
        return 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_THREADS, usable or 1))


def hmac_sha256_batch(
    key: bytes,
    values: pa.Array | pa.ChunkedArray,
    *,
    backend: Backend = "auto",
    threads: int | None = None,
) -> pa.FixedSizeBinaryArray:
    """HMAC-SHA256 under ``key`` of each value; one ``fixed_size_binary(32)`` array, nulls kept.

    A chunked input is read chunk by chunk (never combined) into one output array. ``backend``
    forces a path (``"libcrypto"`` still falls back, with its WARNING, when it cannot be built);
    ``threads`` defaults to up to ``MAX_THREADS`` for arrays of ``PARALLEL_MIN_VALUES`` or more.

    >>> hmac_sha256_batch(b"key", pa.array(["abc", None])).to_pylist()[1] is None
    True
    """
    if threads is not None and threads < 1:
        raise ValueError("threads must be at least 1")
    arrays = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    chunks, rows = [], 0
    for array in arrays:
        if len(array):
            chunks.append(_Chunk.of(array, rows))
            rows += len(array)
        else:
            _binary_like(array)  # an empty array of a wrong type is still an error
    compiled = _choose(backend, rows) if rows else None
    return _hash(key, chunks, rows, compiled, threads or _default_threads(rows))
