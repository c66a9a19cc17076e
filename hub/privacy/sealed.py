"""Sealed files: the landing zone's encryption at rest.

A sealed file is encrypted in segments with AES-256-GCM under a fresh data encryption key (DEK)
per file; the DEK is wrapped with the keyring's ``landing`` key. Segments follow the STREAM
construction (nonce = 7-byte random prefix || 4-byte counter || last-segment flag) with the header
as associated data, so reordering, truncation, extension and header edits are all detected. Files
are streamed in both directions: memory stays flat in file size.

Layout: ``b"SVDSEAL1"`` | header length (4 bytes, big-endian) | header JSON | segments, each
``segment_size`` bytes of plaintext plus a 16-byte tag (the last one may be shorter).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.errors import IntegrityError
from hub.privacy.keys import Keyring

MAGIC = b"SVDSEAL1"
SEGMENT_SIZE = 1 << 20
PARTIAL = ".partial"
_TAG = 16


class SealedSource(Protocol):
    """Where a sealed file is read from: a local ``Path`` or a zone's file
    (``hub.storage.ZoneFile``)."""

    @property
    def name(self) -> str: ...

    def open(self, mode: str = ...) -> BinaryIO: ...


@dataclass(frozen=True)
class SealInfo:
    """What sealing learned about the plaintext, without keeping any of it."""

    sha256: str
    size: int


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class SealWriter:
    """Seal a stream written in pieces of any size (an upload arriving over HTTP): ``write``
    each piece, then ``commit`` to move the finished file to ``dest``, or ``abort``.

    Until ``commit`` the ciphertext goes to a hidden ``.partial`` file beside ``dest``, so a
    crash leaves only encrypted bytes under a name that nothing reads (``sweep_partials`` removes
    them); plaintext never touches the disk. One segment is held back so the last one can be
    flagged as last, as the STREAM construction requires: memory stays one segment.
    """

    def __init__(self, dest: Path, keyring: Keyring, *, context: str) -> None:
        kek = keyring.current("landing")
        dek = AESGCM.generate_key(bit_length=256)
        wrap_nonce = os.urandom(12)
        self._prefix = os.urandom(7)
        header = json.dumps(
            {
                "kek": kek.label,
                "kek_version": kek.version,
                "context": context,
                "segment_size": SEGMENT_SIZE,
                "nonce_prefix": base64.b64encode(self._prefix).decode(),
                "wrapped_dek": base64.b64encode(
                    wrap_nonce + AESGCM(kek.secret).encrypt(wrap_nonce, dek, context.encode())
                ).decode(),
            },
            sort_keys=True,
        ).encode()
        self._aad = hashlib.sha256(header).digest()
        self._aead = AESGCM(dek)
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self._counter = 0
        self.size = 0
        self.dest = dest
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.partial = dest.with_name(f".{dest.name}.{os.getpid()}.{os.urandom(4).hex()}{PARTIAL}")
        self._out: BinaryIO | None = self.partial.open("xb")
        self._out.write(MAGIC + struct.pack(">I", len(header)) + header)

    @property
    def sha256(self) -> str:
        """The SHA-256 of the plaintext written so far."""
        return self._digest.hexdigest()

    def write(self, data: bytes) -> None:
        if self._out is None:
            raise ValueError("the sealed file is already closed")
        self._digest.update(data)
        self.size += len(data)
        self._buffer += data
        while len(self._buffer) > SEGMENT_SIZE:  # more follows, so these are not the last
            self._emit(bytes(self._buffer[:SEGMENT_SIZE]), last=False)
            del self._buffer[:SEGMENT_SIZE]

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        assert self._out is not None
        self._out.write(
            self._aead.encrypt(_nonce(self._prefix, self._counter, last), chunk, self._aad)
        )
        self._counter += 1

    def commit(self, dest: Path | None = None) -> SealInfo:
        """Write the last segment, make it durable and move it to ``dest`` (by default the one
        given when opening; another must be in the same folder)."""
        if self._out is None:
            raise ValueError("the sealed file is already closed")
        try:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
            self.partial.replace(self.dest if dest is None else dest)
        except BaseException:
            self.abort()
            self.partial.unlink(missing_ok=True)
            raise
        return SealInfo(sha256=self.sha256, size=self.size)

    def abort(self) -> None:
        """Drop what was written (idempotent; a no-op after ``commit``)."""
        if self._out is not None:
            self._out.close()
            self._out = None
            self.partial.unlink(missing_ok=True)
        self._buffer.clear()

    def __enter__(self) -> SealWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


def seal(src: BinaryIO, dest: Path, keyring: Keyring, *, context: str) -> SealInfo:
    """Encrypt ``src`` to ``dest`` (written under a temporary name, renamed when complete)."""
    with SealWriter(dest, keyring, context=context) as writer:
        while chunk := src.read(SEGMENT_SIZE):
            writer.write(chunk)
        return writer.commit()


def sweep_partials(folder: Path, *, older_than: float) -> int:
    """Remove unfinished sealed files (left by a crash) not written to for ``older_than``
    seconds; returns how many. They hold only ciphertext and were never recorded as received."""
    if not folder.exists():
        return 0
    cutoff = time.time() - older_than
    removed = 0
    for path in folder.rglob(f".*{PARTIAL}"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # finished or removed meanwhile
            continue
    return removed


def unseal_segments(path: SealedSource, keyring: Keyring) -> Iterator[bytes]:
    """Decrypt a sealed file segment by segment; any tampering raises ``IntegrityError``."""
    with path.open("rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise IntegrityError(f"{path.name} is not a sealed file")
        (length,) = struct.unpack(">I", fh.read(4))
        header = fh.read(length)
        try:
            meta = json.loads(header)
            kek = keyring.get("landing", int(meta["kek_version"]))
            wrapped = base64.b64decode(meta["wrapped_dek"])
            dek = AESGCM(kek.secret).decrypt(wrapped[:12], wrapped[12:], meta["context"].encode())
            prefix = base64.b64decode(meta["nonce_prefix"])
            segment = int(meta["segment_size"]) + _TAG
            if not 0 < segment <= 64 * SEGMENT_SIZE:
                raise ValueError("segment size")
        except (ValueError, KeyError, InvalidTag):
            raise IntegrityError(f"the header of sealed file {path.name} is damaged") from None
        aad = hashlib.sha256(header).digest()
        aead = AESGCM(dek)
        counter = 0
        block = fh.read(segment)
        while True:
            following = fh.read(segment) if len(block) == segment else b""
            last = not following
            try:
                yield aead.decrypt(_nonce(prefix, counter, last), block, aad)
            except InvalidTag:
                raise IntegrityError(
                    f"sealed file {path.name} failed its integrity check at segment {counter}"
                ) from None
            if last:
                return
            counter += 1
            block = following


class UnsealedReader(io.RawIOBase):
    """A read-only file object over a sealed file, for streaming parsers (pyarrow CSV/Parquet)."""

    def __init__(self, path: SealedSource, keyring: Keyring) -> None:
        self._segments = unseal_segments(path, keyring)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._segments)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def open_unsealed(path: SealedSource, keyring: Keyring) -> BinaryIO:
    """A buffered binary stream of the plaintext of a sealed file."""
    return io.BufferedReader(UnsealedReader(path, keyring), buffer_size=SEGMENT_SIZE)
