"""The keyring: envelope encryption, clear errors, no secret in repr or on disk unwrapped."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from hub.errors import KeyringError
from hub.privacy.keys import LocalMasterKey, init_keyring, open_keyring
from hub.settings import Settings
from tests.conftest import make_settings


def test_keyring_round_trips_under_the_master_key(settings: Settings) -> None:
    ring = init_keyring(settings)
    again = open_keyring(settings)
    for purpose in ("pseudonymisation", "landing", "release"):
        assert again.current(purpose).secret == ring.current(purpose).secret
        assert len(ring.current(purpose).secret) == 32


def test_keys_are_never_written_unwrapped(settings: Settings) -> None:
    ring = init_keyring(settings)
    stored = (settings.key_dir / "keyring.json").read_bytes()
    for purpose in ("pseudonymisation", "landing", "release"):
        secret = ring.current(purpose).secret
        assert secret not in stored
        assert base64.b64encode(secret) not in stored
        assert secret.hex().encode() not in stored
    assert (settings.key_dir / "keyring.json").stat().st_mode & 0o077 == 0


def test_secrets_never_appear_in_repr(settings: Settings) -> None:
    ring = init_keyring(settings)
    key = ring.current("pseudonymisation")
    for text in (repr(ring), repr(key), str(key)):
        assert key.secret.hex() not in text
        assert repr(key.secret) not in text


def test_missing_keyring_is_an_error_not_new_keys(settings: Settings) -> None:
    init_keyring(settings)
    (settings.key_dir / "keyring.json").unlink()
    with pytest.raises(KeyringError, match="no keyring"):
        open_keyring(settings)
    assert not (settings.key_dir / "keyring.json").exists()


def test_corrupt_keyring_is_refused(settings: Settings) -> None:
    init_keyring(settings)
    path = settings.key_dir / "keyring.json"
    doc = json.loads(path.read_text())
    wrapped = bytearray(base64.b64decode(doc["keys"][0]["wrapped"]))
    wrapped[-1] ^= 1
    doc["keys"][0]["wrapped"] = base64.b64encode(bytes(wrapped)).decode()
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyringError, match="integrity"):
        open_keyring(settings)
    path.write_text("{not json")
    with pytest.raises(KeyringError, match="corrupt"):
        open_keyring(settings)


def test_another_master_key_is_named_as_the_problem(tmp_path: Path, settings: Settings) -> None:
    init_keyring(settings)
    other = tmp_path / "other.key"
    other.write_text(base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(KeyringError, match="different master key"):
        open_keyring(make_settings(tmp_path, master_key_file=other))


def test_creating_over_an_existing_keyring_is_refused(settings: Settings) -> None:
    init_keyring(settings)
    with pytest.raises(KeyringError, match="already exists"):
        init_keyring(settings)


def test_master_key_must_be_32_bytes() -> None:
    with pytest.raises(KeyringError, match="32 bytes"):
        LocalMasterKey(b"short")


def test_production_refuses_a_missing_master_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_MASTER_KEY", raising=False)
    monkeypatch.delenv("HUB_MASTER_KEY_FILE", raising=False)
    with pytest.raises(ValueError, match="HUB_MASTER_KEY"):
        Settings(env="production", data_dir=tmp_path, database_url="postgresql://x/y")
