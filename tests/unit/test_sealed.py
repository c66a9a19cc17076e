"""Sealed landing files: round trip, streaming, and tampering detected."""

from __future__ import annotations

import hashlib
import io
import os
import time

import pytest

from hub.errors import IntegrityError
from hub.privacy.keys import init_keyring
from hub.privacy.sealed import SEGMENT_SIZE, SealWriter, open_unsealed, seal, sweep_partials
from hub.settings import Settings


@pytest.mark.parametrize("size", [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, 2 * SEGMENT_SIZE + 17])
def test_round_trip(settings: Settings, size: int) -> None:
    ring = init_keyring(settings)
    data = os.urandom(size)
    dest = settings.zone("landing") / "a" / "x.sealed"
    info = seal(io.BytesIO(data), dest, ring, context="a:1")
    assert info.size == size
    assert open_unsealed(dest, ring).read() == data
    if size >= 64:
        assert data[:64] not in dest.read_bytes()
    assert not list(dest.parent.glob(".*partial"))


def test_plaintext_is_not_on_disk(settings: Settings) -> None:
    ring = init_keyring(settings)
    secret = b"9434765919,JOHN,SMITH,1990-01-01\n" * 100
    dest = settings.zone("landing") / "x.sealed"
    seal(io.BytesIO(secret), dest, ring, context="c")
    assert b"9434765919" not in dest.read_bytes()


@pytest.mark.parametrize("where", ["body", "truncate", "extend", "header"])
def test_tampering_is_detected(settings: Settings, where: str) -> None:
    ring = init_keyring(settings)
    dest = settings.zone("landing") / "x.sealed"
    seal(io.BytesIO(os.urandom(2 * SEGMENT_SIZE + 5)), dest, ring, context="c")
    blob = bytearray(dest.read_bytes())
    if where == "body":
        blob[-100] ^= 1
    elif where == "truncate":
        blob = blob[: -(SEGMENT_SIZE // 2)]
    elif where == "extend":
        blob += os.urandom(40)
    else:
        blob[20] = ord("x") if blob[20] != ord("x") else ord("y")
    dest.write_bytes(bytes(blob))
    with pytest.raises(IntegrityError):
        open_unsealed(dest, ring).read()


@pytest.mark.parametrize("piece", [1, 7, 65_536, SEGMENT_SIZE, SEGMENT_SIZE + 3])
def test_a_stream_written_in_pieces_unseals_to_the_same_bytes(
    settings: Settings, piece: int
) -> None:
    ring = init_keyring(settings)
    data = os.urandom(2 * SEGMENT_SIZE + 5) if piece > 1 else os.urandom(3000)
    dest = settings.zone("landing") / "x.sealed"
    with SealWriter(dest, ring, context="a:1") as writer:
        for start in range(0, len(data), piece):
            writer.write(data[start : start + piece])
        assert not dest.exists()  # only the hidden partial file exists until commit
        assert len(list(dest.parent.glob(".*.partial"))) == 1
        info = writer.commit()
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert open_unsealed(dest, ring).read() == data
    assert not list(dest.parent.glob(".*.partial"))


def test_an_aborted_stream_leaves_nothing(settings: Settings) -> None:
    ring = init_keyring(settings)
    dest = settings.zone("landing") / "x.sealed"
    with SealWriter(dest, ring, context="a:1") as writer:
        writer.write(b"9434765919,JOHN,SMITH\n" * 1000)
    assert list(dest.parent.iterdir()) == []
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")


def test_a_partial_file_holds_only_ciphertext(settings: Settings) -> None:
    ring = init_keyring(settings)
    dest = settings.zone("landing") / "x.sealed"
    writer = SealWriter(dest, ring, context="a:1")
    writer.write(b"9434765919,JOHN,SMITH\n" * 100_000)  # more than a segment reaches the disk
    (partial,) = dest.parent.glob(".*.partial")
    assert partial.stat().st_size > SEGMENT_SIZE
    assert b"9434765919" not in partial.read_bytes()
    writer.abort()


def test_sweep_removes_only_stale_partial_files(settings: Settings) -> None:
    ring = init_keyring(settings)
    landing = settings.zone("landing")
    stale = SealWriter(landing / "a" / "x.sealed", ring, context="a:1")
    fresh = SealWriter(landing / "b" / "y.sealed", ring, context="b:1")
    kept = landing / "a" / "ext-0.sealed"
    seal(io.BytesIO(b"done"), kept, ring, context="a:1")
    old = time.time() - 7200
    os.utime(stale.partial, (old, old))
    os.utime(kept, (old, old))
    assert sweep_partials(landing, older_than=3600) == 1
    assert not stale.partial.exists()
    assert fresh.partial.exists() and kept.exists()
    assert sweep_partials(landing, older_than=0) == 1
    assert sweep_partials(settings.data_dir / "absent", older_than=0) == 0
