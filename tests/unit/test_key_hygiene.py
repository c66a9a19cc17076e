"""Keys never leak: not in repr or str, not in exception messages or formatted tracebacks raised
while a key is in scope, not in log lines, not in Parquet metadata. Every check searches for each
key as raw bytes, bytes repr, hex and base64 (the privacy canary's forms)."""

from __future__ import annotations

import base64
import io
import json
import logging
import traceback
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from hub.errors import HubError
from hub.logs import configure_logging
from hub.privacy.keys import (
    PURPOSES,
    DataKey,
    Keyring,
    LocalMasterKey,
    init_keyring,
    master_key_from_settings,
    open_keyring,
)
from hub.privacy.rotation import rotate_keys, token_table
from hub.privacy.sealed import open_unsealed, seal
from hub.privacy.tokens import domain_subkey, keyed_hash, keyed_hash_chain
from hub.settings import Settings
from hub.store import make_engine, upgrade
from tests.conftest import make_settings
from tests.privacy_canary import KeyMaterial, key_needles, master_key_path


def _material(settings: Settings, ring: Keyring | None = None) -> KeyMaterial:
    """The master key, every data key version and the nhs_number subkeys, in every form."""
    ring = ring or open_keyring(settings)
    master = base64.b64decode(master_key_path(settings).read_text().strip())
    secrets = [("master key", master)]
    for purpose in PURPOSES:
        for version in ring.versions(purpose):
            key = ring.get(purpose, version)
            secrets += [(key.label, key.secret), (f"{key.label} subkey", _subkey(key))]
    needles = [n for name, secret in secrets for n in key_needles(name, secret)]
    return KeyMaterial(tuple(needles), tuple(name for name, _ in secrets))


def _subkey(key: DataKey) -> bytes:
    return domain_subkey(key, "nhs_number")


def _clean(text: str, material: KeyMaterial) -> None:
    assert material.find([text.encode()]) == []


def _raised(action: Callable[[], object]) -> str:
    """The message and the fully formatted traceback (with causes) of what ``action`` raises."""
    with pytest.raises(Exception) as raised:  # any exception: its text is what is checked
        action()
    exc = raised.value
    return str(exc) + "\n" + "".join(traceback.format_exception(exc))


# --- repr and str --------------------------------------------------------------------------------


def test_repr_and_str_never_show_a_secret(settings: Settings) -> None:
    ring = init_keyring(settings)
    ring.rotate("pseudonymisation")
    material = _material(settings, ring)
    master = master_key_from_settings(settings)
    texts = [repr(ring), str(ring), repr(master), str(master)]
    for purpose in PURPOSES:
        for version in ring.versions(purpose):
            key = ring.get(purpose, version)
            texts += [repr(key), str(key), f"{key}", f"{key!r}"]
    for text in texts:
        _clean(text, material)
    assert "pseudonymisation/v2" in repr(ring)  # names keys without showing them


def test_settings_never_show_the_master_key(tmp_path: Path) -> None:
    raw = bytes(range(100, 132))
    encoded = base64.b64encode(raw).decode()
    settings = make_settings(tmp_path, master_key=SecretStr(encoded), master_key_file=None)
    material = KeyMaterial(tuple(key_needles("master key", raw)), ("master key",))
    dumped = settings.model_dump()
    for text in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        repr(dumped),
        json.dumps(dumped, default=str),
        repr(settings.master_key),
    ):
        _clean(text, material)
        assert encoded not in text
    assert master_key_from_settings(settings).key_id == LocalMasterKey(raw).key_id


# --- exceptions raised with a key in scope -------------------------------------------------------


def test_an_unwrap_failure_shows_no_key(settings: Settings) -> None:
    ring = init_keyring(settings)
    material = _material(settings, ring)
    path = settings.key_dir / "keyring.json"
    doc = json.loads(path.read_text())
    wrapped = bytearray(base64.b64decode(doc["keys"][1]["wrapped"]))
    wrapped[20] ^= 0xFF
    doc["keys"][1]["wrapped"] = base64.b64encode(bytes(wrapped)).decode()
    path.write_text(json.dumps(doc))
    text = _raised(lambda: open_keyring(settings))
    assert "integrity check" in text
    _clean(text, material)


@pytest.mark.parametrize(
    "damage",
    [
        "{not json",
        '{"format": "svd-hub-keyring", "keys": [], "master_key_id": 5}',
        '{"format": "svd-hub-keyring", "master_key_id": "%s", "keys": [{"purpose": "landing"}]}',
        '{"format": "svd-hub-keyring", "master_key_id": "%s", "keys": 7}',
        '{"format": "svd-hub-keyring", "master_key_id": "%s", "keys": ["landing"]}',
        '{"format": "svd-hub-keyring", "master_key_id": "%s", '
        '"keys": [{"purpose": "landing", "version": 1, "wrapped": "***"}]}',
    ],
)
def test_a_corrupt_keyring_shows_no_key(settings: Settings, damage: str) -> None:
    ring = init_keyring(settings)
    material = _material(settings, ring)
    key_id = master_key_from_settings(settings).key_id
    (settings.key_dir / "keyring.json").write_text(damage.replace("%s", key_id))
    text = _raised(lambda: open_keyring(settings))
    assert "keyring" in text
    _clean(text, material)


def test_a_wrong_master_key_shows_neither_key(settings: Settings, tmp_path: Path) -> None:
    ring = init_keyring(settings)
    material = _material(settings, ring)
    other_raw = bytes(range(32))
    other = tmp_path / "other.key"
    other.write_text(base64.b64encode(other_raw).decode())
    other_settings = make_settings(tmp_path, master_key_file=other)
    text = _raised(lambda: open_keyring(other_settings))
    assert "different master key" in text
    _clean(text, material)
    _clean(text, KeyMaterial(tuple(key_needles("other", other_raw)), ("other",)))


@pytest.mark.parametrize("raw", [bytes(range(7, 38))[:31], bytes(range(7, 40))])
def test_a_master_key_of_the_wrong_length_is_not_quoted(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "master.key"
    path.write_text(base64.b64encode(raw).decode())
    text = _raised(lambda: master_key_from_settings(make_settings(tmp_path, master_key_file=path)))
    assert "32 bytes" in text
    _clean(text, KeyMaterial(tuple(key_needles("master", raw)), ("master",)))
    assert base64.b64encode(raw).decode() not in text


def test_a_master_key_that_is_not_base64_is_not_quoted(tmp_path: Path) -> None:
    text_key = "s3cr3t-NOT-base64-" + "q" * 30 + "!!"
    settings = make_settings(tmp_path, master_key=SecretStr(text_key), master_key_file=None)
    text = _raised(lambda: master_key_from_settings(settings))
    assert "not valid base64" in text and text_key not in text and "s3cr3t" not in text


def test_a_damaged_sealed_file_shows_no_key(settings: Settings) -> None:
    ring = init_keyring(settings)
    material = _material(settings, ring)
    dest = settings.zone("landing") / "x.sealed"
    seal(io.BytesIO(b"9434765919,JOHN\n" * 10), dest, ring, context="a:1")
    data = bytearray(dest.read_bytes())
    data[-5] ^= 1
    dest.write_bytes(bytes(data))
    text = _raised(lambda: open_unsealed(dest, ring).read())
    assert "integrity check" in text
    _clean(text, material)
    # The data key of another installation cannot open it, and says so without keys.
    ring.rotate("landing")
    seal(io.BytesIO(b"x"), dest, ring, context="a:1")
    other = init_keyring(make_settings(settings.data_dir.parent / "other"))
    text = _raised(lambda: open_unsealed(dest, other).read())
    assert "no landing key version 2" in text
    _clean(text, material)
    _clean(text, _material(make_settings(settings.data_dir.parent / "other"), other))


def test_hashing_errors_show_no_key(settings: Settings) -> None:
    ring = init_keyring(settings)
    material = _material(settings, ring)
    key = ring.current("pseudonymisation")
    text = _raised(lambda: keyed_hash(pa.array([1, 2, 3]), key, "nhs_number"))
    _clean(text, material)
    text = _raised(lambda: keyed_hash_chain(pa.array(["1"]), [], "nhs_number"))
    _clean(text, material)


def test_rotation_errors_show_no_key(settings: Settings) -> None:
    ring = init_keyring(settings)
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    path = settings.zone("linkage") / "police-sv" / "ext-a" / "tokens.parquet"
    path.parent.mkdir(parents=True)
    table = token_table(
        {"tok_nhs_number": keyed_hash(pa.array(["1"]), ring.current("pseudonymisation"), "n")},
        {"tok_nhs_number": "n"},
        9,
    )
    pq.write_table(table, path)
    text = _raised(lambda: rotate_keys(settings, engine, ring, actor="test"))
    assert "which the keyring lacks" in text
    _clean(text, _material(settings, ring))
    text = _raised(lambda: rotate_keys(settings, engine, ring, "everything", actor="test"))
    assert "unknown key purpose" in text
    _clean(text, _material(settings, ring))
    engine.dispose()


# --- logs and Parquet metadata -------------------------------------------------------------------


def test_logs_and_parquet_metadata_carry_no_key(settings: Settings) -> None:
    configure_logging(settings, level=logging.DEBUG)
    ring = init_keyring(settings)
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    path = settings.zone("linkage") / "police-sv" / "ext-a" / "tokens.parquet"
    path.parent.mkdir(parents=True)
    values = pa.array(["9434765919", None])
    table = token_table(
        {"tok_nhs_number": keyed_hash_chain(values, ring.chain("pseudonymisation"), "nhs_number")},
        {"tok_nhs_number": "nhs_number"},
        1,
    )
    pq.write_table(table, path)
    for purpose in PURPOSES:
        rotate_keys(settings, engine, ring, purpose, actor="test")
    dest = settings.zone("landing") / "x.sealed"
    seal(io.BytesIO(b"x"), dest, ring, context="a:1")
    assert open_unsealed(dest, ring).read() == b"x"
    for handler in logging.getLogger("hub").handlers:
        handler.flush()
    material = _material(settings, open_keyring(settings))
    log_text = (settings.log_dir / "hub.log").read_text()
    assert "re-keyed" in log_text and "version 2" in log_text
    _clean(log_text, material)
    parquet = pq.ParquetFile(path)
    metadata = [*(parquet.metadata.metadata or {}).items()]
    metadata += [*(parquet.schema_arrow.metadata or {}).items()]
    for field in parquet.schema_arrow:
        metadata += [*(field.metadata or {}).items()]
    assert material.find([k + b"=" + v for k, v in metadata]) == []
    assert material.find([path.read_bytes()]) == []
    from hub import audit

    _clean(json.dumps([e.detail for e in audit.entries(engine)]), material)
    engine.dispose()


def test_a_hub_error_carries_names_not_keys() -> None:
    key = DataKey("pseudonymisation", 7, bytes(range(32)))
    error = HubError(f"cannot use {key.label} ({key})", hint=repr(key))
    material = KeyMaterial(tuple(key_needles("k", key.secret)), ("k",))
    _clean(error.message + str(error.hint) + "".join(traceback.format_exception(error)), material)


def test_these_checks_would_catch_a_leak() -> None:
    secret = bytes(range(40, 72))
    material = KeyMaterial(tuple(key_needles("k", secret)), ("k",))
    for leak in (
        f"key {secret!r}",
        f"key={secret.hex()}",
        f"KEY={secret.hex().upper()}",
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(b"x" + secret).decode(),
        json.dumps({"wrapped": base64.b64encode(b"ab" + secret + b"cd").decode()}),
    ):
        assert material.find([leak.encode()]), leak
    error = ValueError(f"bad key {secret!r}")
    assert material.find(["".join(traceback.format_exception(error)).encode()])
