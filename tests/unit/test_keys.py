"""The keyring: envelope encryption, clear errors, no secret in repr or on disk unwrapped; rotation:
versions added and kept, tokens re-keyed to what the whole chain gives, clear errors."""

from __future__ import annotations

import base64
import errno
import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import Engine

from hub.agreements import get_agreement
from hub.errors import IntegrityError, KeyringError
from hub.privacy.keys import (
    PURPOSES,
    DataKey,
    Keyring,
    LocalMasterKey,
    init_keyring,
    master_key_provider,
    open_keyring,
)
from hub.privacy.rotation import (
    DOMAIN_META,
    KEY_VERSION_META,
    require_current_tokens,
    rotate_keys,
    rotation_lock,
    token_file_version,
    token_table,
)
from hub.privacy.sealed import open_unsealed, seal
from hub.privacy.tokens import keyed_hash, keyed_hash_chain
from hub.settings import Settings
from hub.storage import zone_store
from hub.store import make_engine, upgrade
from tests.conftest import make_settings


def test_keyring_round_trips_under_the_master_key(settings: Settings) -> None:
    ring = init_keyring(settings)
    again = open_keyring(settings)
    for purpose in PURPOSES:
        assert again.current(purpose).secret == ring.current(purpose).secret
        assert len(ring.current(purpose).secret) == 32


def test_keys_are_never_written_unwrapped(settings: Settings) -> None:
    ring = init_keyring(settings)
    stored = (settings.key_dir / "keyring.json").read_bytes()
    for purpose in PURPOSES:
        secret = ring.current(purpose).secret
        assert secret not in stored
        assert base64.b64encode(secret) not in stored
        assert secret.hex().encode() not in stored
    assert (settings.key_dir / "keyring.json").stat().st_mode & 0o077 == 0


def test_a_keyring_made_before_a_purpose_existed_gets_it_once(settings: Settings) -> None:
    ring = init_keyring(settings)
    path = settings.key_dir / "keyring.json"
    doc = json.loads(path.read_text())
    doc["keys"] = [k for k in doc["keys"] if k["purpose"] != "encoding"]  # an older keyring
    path.write_text(json.dumps(doc))
    first = open_keyring(settings)
    assert first.versions("encoding") == [1]
    assert first.current("pseudonymisation").secret == ring.current("pseudonymisation").secret
    # saved: a second process gets the same key, not another new one
    assert open_keyring(settings).current("encoding").secret == first.current("encoding").secret
    assert first.current("encoding").secret not in path.read_bytes()


def test_a_keyring_that_cannot_be_upgraded_says_so_in_one_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_keyring(settings)
    path = settings.key_dir / "keyring.json"
    doc = json.loads(path.read_text())
    doc["keys"] = [k for k in doc["keys"] if k["purpose"] != "encoding"]
    path.write_text(json.dumps(doc))

    def read_only(self: Keyring) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Keyring, "save", read_only)
    with pytest.raises(KeyringError, match="has no encoding key yet") as raised:
        open_keyring(settings)
    assert "Read-only file system" in raised.value.message
    assert "hub keys status" in (raised.value.hint or "")


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


# --- rotation -----------------------------------------------------------------------------------


def test_rotation_adds_a_version_and_keeps_the_old_ones(settings: Settings) -> None:
    ring = init_keyring(settings)
    path = settings.key_dir / "keyring.json"
    first = json.loads(path.read_text())["keys"]
    v1 = ring.current("pseudonymisation")
    v2 = ring.rotate("pseudonymisation")
    assert (v2.purpose, v2.version) == ("pseudonymisation", 2) and v2.secret != v1.secret
    again = open_keyring(settings)
    assert again.versions("pseudonymisation") == [1, 2]
    assert again.versions("landing") == again.versions("release") == [1]
    assert again.current("pseudonymisation").secret == v2.secret
    assert again.get("pseudonymisation", 1).secret == v1.secret
    assert [k.label for k in again.chain("pseudonymisation")] == [
        "pseudonymisation/v1",
        "pseudonymisation/v2",
    ]
    stored = json.loads(path.read_text())["keys"]
    created = {(k["purpose"], k["version"]): k["created_at"] for k in stored}
    assert all(created[(k["purpose"], k["version"])] == k["created_at"] for k in first)
    assert again.created_at(v2) == created[("pseudonymisation", 2)]
    raw = path.read_bytes()
    assert v2.secret not in raw and v2.secret.hex().encode() not in raw
    assert base64.b64encode(v2.secret) not in raw
    assert path.stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in settings.key_dir.iterdir()) == ["keyring.json"]  # no temp file


def test_rotation_refuses_an_unknown_purpose(settings: Settings) -> None:
    ring = init_keyring(settings)
    with pytest.raises(KeyringError, match="unknown key purpose"):
        ring.rotate("everything")


def test_rotation_refuses_a_keyring_changed_on_disk(settings: Settings) -> None:
    init_keyring(settings)
    one, two = open_keyring(settings), open_keyring(settings)
    one.rotate("landing")
    with pytest.raises(KeyringError, match="changed since it was loaded"):
        two.rotate("landing")
    assert open_keyring(settings).versions("landing") == [1, 2]  # the first rotation survives


def test_a_version_missing_from_the_chain_is_a_clear_error(settings: Settings) -> None:
    ring = init_keyring(settings)
    ring.rotate("pseudonymisation")
    path = settings.key_dir / "keyring.json"
    doc = json.loads(path.read_text())
    doc["keys"] = [
        k for k in doc["keys"] if (k["purpose"], k["version"]) != ("pseudonymisation", 1)
    ]
    path.write_text(json.dumps(doc))
    damaged = open_keyring(settings)
    assert damaged.current("pseudonymisation").version == 2
    with pytest.raises(KeyringError, match="no pseudonymisation key version 1"):
        damaged.chain("pseudonymisation")


def test_a_keyring_holding_a_version_twice_is_refused(settings: Settings) -> None:
    init_keyring(settings)
    path = settings.key_dir / "keyring.json"
    doc = json.loads(path.read_text())
    doc["keys"].append(doc["keys"][0])
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyringError, match="twice"):
        open_keyring(settings)


def test_landing_rotation_keeps_old_sealed_files_readable(settings: Settings) -> None:
    ring = init_keyring(settings)
    old = settings.zone("landing") / "a" / "old.sealed"
    seal(io.BytesIO(b"before rotation"), old, ring, context="a:1")
    ring.rotate("landing")
    new = settings.zone("landing") / "a" / "new.sealed"
    seal(io.BytesIO(b"after rotation"), new, ring, context="a:1")
    ring = open_keyring(settings)
    assert open_unsealed(old, ring).read() == b"before rotation"
    assert open_unsealed(new, ring).read() == b"after rotation"
    assert b'"kek_version": 2' in new.read_bytes()[:4096]
    assert b'"kek_version": 1' in old.read_bytes()[:4096]


VALUES = pa.array(["9434765919", None, "4010232137", "9434765919"])


def _tokens_file(settings: Settings, keys: list[DataKey], extract: str = "ext-a") -> str:
    """A tokens file in the linkage zone; its path there."""
    path = f"police-sv/{extract}/tokens.parquet"
    table = token_table(
        {
            "record": pa.array([1, 2, 3, 4], pa.int64()),
            "tok_nhs_number": keyed_hash_chain(VALUES, keys, "nhs_number"),
        },
        {"tok_nhs_number": "nhs_number"},
        keys[-1].version,
    )
    zone_store(settings, "linkage").write_parquet(path, table)
    return path


def _engine(settings: Settings) -> Engine:
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    return engine


def test_rotating_tokens_equals_hashing_with_the_whole_chain(settings: Settings) -> None:
    ring = init_keyring(settings)
    path = _tokens_file(settings, ring.chain("pseudonymisation"))
    engine = _engine(settings)
    for version in (2, 3):
        result = rotate_keys(settings, engine, ring, actor="test")
        assert (result.version, result.rekeyed, result.skipped) == (version, 1, 0)
        chain = ring.chain("pseudonymisation")
        assert [k.version for k in chain] == list(range(1, version + 1))
        table = zone_store(settings, "linkage").read_parquet(path)
        assert (
            table.column("tok_nhs_number")
            .combine_chunks()
            .equals(keyed_hash_chain(VALUES, chain, "nhs_number"))
        )
        assert table.schema.metadata[KEY_VERSION_META] == str(version).encode()
        assert table.column("tok_nhs_number")[1].as_py() is None  # nulls stay null
    engine.dispose()


def test_a_legacy_tokens_file_takes_its_domains_from_the_agreement(settings: Settings) -> None:
    ring = init_keyring(settings)
    agreement = get_agreement(settings.contracts_dir, "police-sv")
    v1 = ring.current("pseudonymisation")
    local = f"local_person_id:{agreement.provider}"
    composite = "composite:forename_initial+surname+date_of_birth+sex"
    columns = {
        "tok_local_person_id": keyed_hash(VALUES, v1, local),
        "tok_key_initial_surname_dob_sex": keyed_hash(VALUES, v1, composite),
    }
    store = zone_store(settings, "linkage")
    path = "police-sv/ext-old/tokens.parquet"
    store.write_parquet(path, pa.table({"record": pa.array([1, 2, 3, 4]), **columns}))
    assert token_file_version(store, path) == 1  # staged before versions were recorded
    engine = _engine(settings)
    rotate_keys(settings, engine, ring, actor="test")
    v2 = ring.current("pseudonymisation")
    table = store.read_parquet(path)
    assert (
        table.column("tok_local_person_id")
        .combine_chunks()
        .equals(keyed_hash_chain(VALUES, [v1, v2], local))
    )
    assert (
        table.column("tok_key_initial_surname_dob_sex")
        .combine_chunks()
        .equals(keyed_hash_chain(VALUES, [v1, v2], composite))
    )
    assert table.schema.field("tok_local_person_id").metadata[DOMAIN_META] == local.encode()
    # A legacy column no agreement explains is refused before any key is added.
    odd = "police-sv/ext-odd/tokens.parquet"
    store.write_parquet(odd, pa.table({"tok_key_gone": keyed_hash(VALUES, v1, "x")}))
    with pytest.raises(KeyringError, match="tok_key_gone") as raised:
        rotate_keys(settings, engine, open_keyring(settings), actor="test")
    assert odd in raised.value.message
    assert open_keyring(settings).versions("pseudonymisation") == [1, 2]
    engine.dispose()


def test_an_unreadable_key_version_is_named(settings: Settings) -> None:
    ring = init_keyring(settings)
    path = _tokens_file(settings, ring.chain("pseudonymisation"))
    store = zone_store(settings, "linkage")
    table = store.read_parquet(path)
    store.write_parquet(path, table.replace_schema_metadata({KEY_VERSION_META: b"two"}))
    with pytest.raises(IntegrityError, match="unreadable key version") as raised:
        token_file_version(store, path)
    assert path in raised.value.message


def test_publication_refuses_tokens_at_different_versions(settings: Settings) -> None:
    ring = init_keyring(settings)
    old = _tokens_file(settings, ring.chain("pseudonymisation"), "ext-a")
    ring.rotate("pseudonymisation")
    new = _tokens_file(settings, ring.chain("pseudonymisation"), "ext-b")
    store = zone_store(settings, "linkage")
    assert require_current_tokens(store, [new], ring) == 2
    with pytest.raises(KeyringError, match="different key versions") as raised:
        require_current_tokens(store, [old, new], ring)
    assert old in raised.value.message
    assert "hub keys rotate" in (raised.value.hint or "")


def test_a_second_rotation_at_once_is_refused(settings: Settings) -> None:
    ring = init_keyring(settings)
    engine = _engine(settings)
    with rotation_lock(settings), pytest.raises(KeyringError, match="another key rotation"):
        rotate_keys(settings, engine, ring, actor="test")
    assert open_keyring(settings).versions("pseudonymisation") == [1]
    engine.dispose()


def test_a_pluggable_provider_holds_the_master_key(tmp_path: Path) -> None:
    """A KMS or vault client named by HUB_MASTER_KEY_PROVIDER wraps the data keys instead of the
    local master key; the keyring opens only through it."""
    settings = make_settings(tmp_path, master_key_provider="tests.vault_provider:FileVault")
    settings.ensure_dirs()
    ring = init_keyring(settings)
    again = open_keyring(settings)
    assert again.current("pseudonymisation").secret == ring.current("pseudonymisation").secret
    provider = master_key_provider(settings)
    assert provider.key_id.startswith("vault-")
    assert json.loads((settings.key_dir / "keyring.json").read_text())["master_key_id"] == (
        provider.key_id
    )
    assert not (tmp_path / "secrets" / "master.key").exists(), "no local master key was made"
    local = make_settings(tmp_path, master_key_provider=None)
    master_file = tmp_path / "secrets" / "master.key"
    master_file.parent.mkdir(parents=True, exist_ok=True)
    master_file.write_text(base64.b64encode(os.urandom(32)).decode())
    assert local.master_key_file == master_file
    with pytest.raises(KeyringError, match="different master key"):
        open_keyring(local)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.no_such_module:Vault", "cannot load the master key provider"),
        ("tests.vault_provider:Missing", "cannot load the master key provider"),
        ("tests.vault_provider:not_a_provider", "lacks key_id, wrap, unwrap"),
    ],
)
def test_a_broken_provider_is_a_clear_error(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        open_keyring(make_settings(tmp_path, master_key_provider=spec))


def test_production_accepts_a_provider_instead_of_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HUB_MASTER_KEY", "HUB_MASTER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        env="production",
        data_dir=tmp_path / "var",
        database_url="postgresql+psycopg://hub@db/hub",
        master_key_provider="tests.vault_provider:FileVault",
    )
    assert settings.master_key is None and settings.master_key_file is None
