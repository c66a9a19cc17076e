"""A backup of the metadata store and the keyring restores to a working hub, on SQLite and on
PostgreSQL: the agreements are in force again (their signatures verify), the audit log verifies,
the keyring opens with the installation's master key and derives the same keys, an analyst's
query gives the same controlled table, and publishing again finds the same release. A damaged
backup restores nothing."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from hub import audit
from hub.accounts.users import Role, add_user
from hub.agreements import load_agreements
from hub.agreements.registry import AgreementRegistry
from hub.analysis.service import Analysis
from hub.cli.app import app as cli
from hub.errors import IntegrityError, UserError
from hub.privacy.keys import PURPOSES, Keyring, master_key_provider, open_keyring
from hub.publication.release import publish_release
from hub.settings import Settings
from hub.store import upgrade
from hub.store.backup import create_backup, restore_backup
from tests.analyst_hub import VRP_ANALYST, PublishedHub, published_hub

QUERY = "SELECT event_month, age_band FROM event WHERE source = 'ed-assaults'"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> PublishedHub:
    return published_hub(tmp_path_factory.mktemp("backup-source"), rows=8_000)


@pytest.fixture(scope="module")
def backup(source: PublishedHub, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backups") / "nightly"
    create_backup(source.engine, source.settings.key_dir, folder)
    return folder


def _restored_settings(source: PublishedHub, key_dir: Path) -> Settings:
    """The same data zones and master key (backed up as files and in the secret store), a new
    key folder; the metadata store is the engine the test restores into."""
    return source.settings.model_copy(update={"key_dir": key_dir})


def _analysis(settings: Settings, engine: Engine) -> Analysis:
    registry = AgreementRegistry.open(settings, engine)
    return Analysis(settings, engine, registry, VRP_ANALYST.email)


def test_a_backup_restores_to_a_working_hub(
    source: PublishedHub, backup: Path, engine: Engine, tmp_path: Path
) -> None:
    settings = _restored_settings(source, tmp_path / "keys")
    summary = restore_backup(engine, settings.key_dir, backup)
    assert summary.rows["audit_entry"] > 0 and summary.rows["extract"] >= 5
    # the agreements are in force again: their approvals verify against the restored keys
    agreements = load_agreements(settings.contracts_dir)
    registry = AgreementRegistry.open(settings, engine)
    for agreement in agreements.values():
        assert registry.status(agreement).in_force, agreement.id
    assert audit.verify(engine).ok
    # the keyring opens with the same master key and holds the same keys
    restored = open_keyring(settings)
    original = open_keyring(source.settings)
    for purpose in PURPOSES:
        assert restored.current(purpose).secret == original.current(purpose).secret
    # analysts get the same controlled table; publishing again finds the same release
    before = _analysis(source.settings, source.engine).query("knife-crime-profile", QUERY)
    after = _analysis(settings, engine).query("knife-crime-profile", QUERY)
    assert before.counts and after.counts
    assert after.counts.long().equals(before.counts.long())
    again = publish_release(settings, engine, restored, agreements, now=datetime.now(UTC))
    assert again.release_id == source.release.release_id
    # and the store takes new rows after the restored ones (PostgreSQL's sequences continue)
    new = {"email": "new@merseyvale-vrp.example", "name": "New", "org": "merseyvale-vrp"}
    add_user(engine, **new, role=Role.ANALYST, password="a long enough password")
    audit.record(engine, actor="test", action="restore.checked", subject="hub")
    assert audit.verify(engine).ok


def test_a_damaged_backup_restores_nothing(backup: Path, engine: Engine, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    table = damaged / "metadata" / "audit_entry.jsonl.gz"
    rows = gzip.decompress(table.read_bytes()).replace(b"signin", b"signon")
    table.write_bytes(gzip.compress(rows))
    with pytest.raises(IntegrityError, match=r"audit_entry\.jsonl\.gz is missing or changed"):
        restore_backup(engine, tmp_path / "keys", damaged)
    assert not (tmp_path / "keys").exists()


def test_restore_refuses_a_used_store_or_an_existing_keyring(
    source: PublishedHub, backup: Path, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="already a keyring"):
        restore_backup(source.engine, source.settings.key_dir, backup)
    with pytest.raises(UserError, match="not empty"):
        restore_backup(source.engine, tmp_path / "keys", backup)
    assert not (tmp_path / "keys" / "keyring.json").exists()


def test_a_backup_holds_the_keyring_wrapped_never_the_master_key(
    source: PublishedHub, backup: Path
) -> None:
    master = master_key_provider(source.settings)
    ring = Keyring.load(source.settings.key_dir, master)
    secrets = [ring.current(p).secret for p in PURPOSES]
    master_file = source.settings.master_key_file
    assert master_file is not None and master_file.is_file()
    for path in backup.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            assert not any(s in data or s.hex().encode() in data for s in secrets), path
            assert master_file.read_bytes().strip() not in data, path
    upgrade(source.engine)  # the source hub is unchanged and still current


def test_hub_backup_create_and_restore_on_the_command_line(
    source: PublishedHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = source.settings
    common = {
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_MASTER_KEY_FILE": str(settings.master_key_file),
        "HUB_CONTRACTS_DIR": str(settings.contracts_dir),
    }
    for name, value in common.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    folder = tmp_path / "cli-backup"
    made = runner.invoke(
        cli, ["backup", "create", str(folder)], env={"HUB_KEY_DIR": str(settings.key_dir)}
    )
    assert made.exit_code == 0, made.output
    assert "the master key is not in it" in " ".join(made.output.split())
    target = {
        "HUB_KEY_DIR": str(tmp_path / "keys"),
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'restored.db'}",
    }
    restored = runner.invoke(cli, ["backup", "restore", str(folder)], env=target)
    assert restored.exit_code == 0, restored.output
    assert "the audit log verifies and the keyring opens" in " ".join(restored.output.split())
    again = runner.invoke(cli, ["backup", "restore", str(folder)], env=target)
    assert again.exit_code == 2 and "already a keyring" in again.output
