"""Backup and restore of what the hub cannot rebuild: the metadata store and the keyring.

A backup is a folder:

- ``metadata/<table>.jsonl.gz``: every row of every table of the metadata store (agreement
  versions and signatures, the audit log, extracts, releases, users, credentials), one JSON
  object per line, written in batches so the audit log's millions of rows never sit in memory;
- ``keys/keyring.json``: the keyring as it is on disk, every data key *wrapped* under the master
  key (the master key is not in the backup: it lives in the secret store, and is backed up
  there; without it the keyring is useless, which is the point);
- ``keys/public/``: the data protection leads' registered signing keys (public), without which
  no agreement's approval can be verified;
- ``backup.json``: when, the schema revision, each file's SHA-256 and each table's row count.

Restore needs an empty metadata store (a new database, migrated to the backup's revision by the
restore itself) and a key folder without a keyring. It checks every file against ``backup.json``
first and writes nothing if one differs; after loading the rows it verifies the audit log's hash
chain. The dump is the same on SQLite and PostgreSQL, so a backup of the embedded hub restores
into a production database too. Data zones (staging, linkage, releases) are not in it: they are
files, backed up as files (object-store versioning or snapshots; docs/operations.md).
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Table, func, insert, select, text

from hub.errors import IntegrityError, UserError
from hub.files import file_sha256
from hub.privacy.keys import KEYRING_FILE
from hub.store.database import current_revision, upgrade

BACKUP_FILE = "backup.json"
FORMAT = 1
BATCH = 5_000


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    revision: str | None
    rows: dict[str, int]


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()
    return value


def _tables(engine: Engine) -> list[Table]:
    """The store's tables as the database has them (the migrations' foreign keys included), in
    an order where every table comes after the tables it refers to; Alembic's own left out."""
    metadata = MetaData()
    metadata.reflect(engine)
    return [t for t in metadata.sorted_tables if t.name != "alembic_version"]


def _rows(engine: Engine, table: Table) -> Iterator[dict[str, object]]:
    order = list(table.primary_key.columns)
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=BATCH).execute(
            select(table).order_by(*order)
        )
        for row in result.mappings():
            yield {k: _plain(v) for k, v in row.items()}


def create_backup(engine: Engine, key_dir: Path, folder: Path) -> BackupSummary:
    """Write a backup of the metadata store and the keyring into ``folder`` (which must not
    exist): written under a temporary name and renamed, so a failed backup leaves nothing that
    looks like one."""
    if folder.exists():
        raise UserError(f"{folder} already exists", hint="give a new folder for each backup")
    keyring = key_dir / KEYRING_FILE
    if not keyring.is_file():
        raise UserError(f"no keyring at {keyring}", hint="check HUB_KEY_DIR")
    tmp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "metadata").mkdir(parents=True)
    (tmp / "keys").mkdir()
    counts: dict[str, int] = {}
    for table in _tables(engine):
        path = tmp / "metadata" / f"{table.name}.jsonl.gz"
        n = 0
        with gzip.open(path, "wt", encoding="utf-8") as out:
            for row in _rows(engine, table):
                out.write(json.dumps(row, sort_keys=True) + "\n")
                n += 1
        counts[table.name] = n
    shutil.copyfile(keyring, tmp / "keys" / KEYRING_FILE)
    public = key_dir / "public"
    if public.is_dir():
        shutil.copytree(public, tmp / "keys" / "public")
    files = {str(p.relative_to(tmp)): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": current_revision(engine),
        "rows": counts,
        "files": files,
    }
    (tmp / BACKUP_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.rename(folder)
    return BackupSummary(folder, manifest["revision"], counts)  # type: ignore[arg-type]


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / BACKUP_FILE
    if not path.is_file():
        raise UserError(f"{folder} is not a hub backup (no {BACKUP_FILE})")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise UserError(f"{folder}: backup format {manifest.get('format')} is not {FORMAT}")
    for name, expected in manifest["files"].items():
        file = folder / name
        if not file.is_file() or file_sha256(file) != expected:
            raise IntegrityError(
                f"backup file {name} is missing or changed since the backup was made",
                hint="restore from another copy of the backup",
            )
    return dict(manifest)


def _parse(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    for column in table.columns:
        value = row.get(column.name)
        if isinstance(column.type, DateTime) and isinstance(value, str):
            row[column.name] = datetime.fromisoformat(value)
    return row


def restore_backup(engine: Engine, key_dir: Path, folder: Path) -> BackupSummary:
    """Restore a backup into an empty metadata store and a key folder without a keyring."""
    manifest = _read_manifest(folder)
    keyring = key_dir / KEYRING_FILE
    if keyring.exists():
        raise UserError(
            f"there is already a keyring at {keyring}",
            hint="restore into a new key folder; a keyring is never overwritten",
        )
    upgrade(engine, manifest["revision"] or "head")
    tables = _tables(engine)
    missing = sorted(set(manifest["rows"]) - {t.name for t in tables})
    if missing:
        raise UserError(f"the backup has table {missing[0]}, which this schema does not")
    with engine.connect() as connection:
        for table in tables:
            if connection.execute(select(func.count()).select_from(table)).scalar():
                raise UserError(
                    f"the metadata store is not empty (table {table.name} has rows)",
                    hint="restore into a new, empty database",
                )
    with engine.begin() as connection:
        for table in tables:
            path = folder / "metadata" / f"{table.name}.jsonl.gz"
            if not path.is_file():
                continue  # a table made by a later migration than the backup's
            batch: list[dict[str, Any]] = []
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                for line in lines:
                    batch.append(_parse(table, json.loads(line)))
                    if len(batch) >= BATCH:
                        connection.execute(insert(table), batch)
                        batch = []
            if batch:
                connection.execute(insert(table), batch)
        if engine.dialect.name == "postgresql":
            _reset_sequences(connection, tables)
    key_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / "keys" / KEYRING_FILE, keyring)
    public = folder / "keys" / "public"
    if public.is_dir():
        shutil.copytree(public, key_dir / "public", dirs_exist_ok=True)
    upgrade(engine)  # an older backup comes up to the code's schema

    from hub import audit

    verification = audit.verify(engine)
    if not verification.ok:
        raise IntegrityError(
            f"the restored audit log does not verify: {verification.problems[0]}",
            hint="restore from another copy of the backup",
        )
    return BackupSummary(folder, manifest["revision"], dict(manifest["rows"]))


def _reset_sequences(connection: Any, tables: list[Table]) -> None:
    """After explicit ids were inserted, PostgreSQL's sequences must continue after them."""
    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence is not None:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"COALESCE((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"
                    )
                )
