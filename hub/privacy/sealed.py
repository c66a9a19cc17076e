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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.errors import IntegrityError
from hub.privacy.keys import Keyring

MAGIC = b"SVDSEAL1"
SEGMENT_SIZE = 1 << 20
_TAG = 16


@dataclass(frozen=True)
class SealInfo:
    """What sealing learned about the plaintext, without keeping any of it."""

    sha256: str
    size: int


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def seal(src: BinaryIO, dest: Path, keyring: Keyring, *, context: str) -> SealInfo:
    """Encrypt ``src`` to ``dest`` (written under a temporary name, renamed when complete)."""
    kek = keyring.current("landing")
    dek = AESGCM.generate_key(bit_length=256)
    wrap_nonce = os.urandom(12)
    header = json.dumps(
        {
            "kek": kek.label,
            "kek_version": kek.version,
            "context": context,
            "segment_size": SEGMENT_SIZE,
            "nonce_prefix": base64.b64encode(os.urandom(7)).decode(),
            "wrapped_dek": base64.b64encode(
                wrap_nonce + AESGCM(kek.secret).encrypt(wrap_nonce, dek, context.encode())
            ).decode(),
        },
        sort_keys=True,
    ).encode()
    prefix = base64.b64decode(json.loads(header)["nonce_prefix"])
    aad = hashlib.sha256(header).digest()
    aead = AESGCM(dek)
    digest = hashlib.sha256()
    size = 0
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        with tmp.open("wb") as out:
            out.write(MAGIC + struct.pack(">I", len(header)) + header)
            counter = 0
            chunk = src.read(SEGMENT_SIZE)
            while True:
                following = src.read(SEGMENT_SIZE) if len(chunk) == SEGMENT_SIZE else b""
                last = not following
                digest.update(chunk)
                size += len(chunk)
                out.write(aead.encrypt(_nonce(prefix, counter, last), chunk, aad))
                if last:
                    break
                counter += 1
                chunk = following
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return SealInfo(sha256=digest.hexdigest(), size=size)


def unseal_segments(path: Path, keyring: Keyring) -> Iterator[bytes]:
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

    def __init__(self, path: Path, keyring: Keyring) -> None:
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


def open_unsealed(path: Path, keyring: Keyring) -> BinaryIO:
    """A buffered binary stream of the plaintext of a sealed file."""
    return io.BufferedReader(UnsealedReader(path, keyring), buffer_size=SEGMENT_SIZE)
