"""Sealed landing files: round trip, streaming, and tampering detected."""

from __future__ import annotations

import io
import os

import pytest

from hub.errors import IntegrityError
from hub.privacy.keys import init_keyring
from hub.privacy.sealed import SEGMENT_SIZE, open_unsealed, seal
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
