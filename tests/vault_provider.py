"""A master key provider outside the hub's own settings, as a KMS or vault client would be: its
key-encryption key lives in a separate "vault" folder and never passes through HUB_ settings.

Used by tests/unit/test_keys.py through ``HUB_MASTER_KEY_PROVIDER=tests.vault_provider:FileVault``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.settings import Settings


class FileVault:
    """Envelope encryption under a key held in ``<data dir>/../vault/kek`` (created once)."""

    def __init__(self, settings: Settings) -> None:
        path = Path(settings.data_dir).parent / "vault" / "kek"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(32))
            path.chmod(0o600)
        kek = path.read_bytes()
        self._aead = AESGCM(kek)
        self._key_id = "vault-" + hashlib.sha256(b"vault key id" + kek).hexdigest()[:12]
        self.operations = 0

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        self.operations += 1
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, b"vault:" + aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        self.operations += 1
        return self._aead.decrypt(blob[:12], blob[12:], b"vault:" + aad)


def not_a_provider(settings: Settings) -> object:
    return object()
