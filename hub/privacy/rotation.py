"""Key rotation without raw data.

Pseudonymisation tokens form a chain over every key version: version 1 is
``HMAC(subkey_1(domain), value)`` and version n+1 is ``HMAC(subkey_{n+1}(domain), token_n)``.
Rotating adds key version n+1 to the keyring and re-keys every
``linkage/<agreement>/<extract>/tokens.parquet`` one step, from the tokens alone (read and written
through the linkage zone's store, ``hub.storage``: a local folder or a bucket); extracts staged
afterwards hash with the whole chain (``hub.privacy.tokens.keyed_hash_chain``), so their tokens
equal the re-keyed ones and people keep linking across old and new data.

What a tokens file records about itself (Arrow schema metadata, which Parquet keeps):

- ``svd-hub:key_version`` (file level): the pseudonymisation key version its tokens are at;
- ``svd-hub:domain`` (on each token column): the token domain the column was hashed in.

Files written before these were recorded are at version 1 (rotation did not exist then); the
domains of their columns are derived from the agreement, as staging derived them.

Each file is rewritten row group by row group into a local work file, then put over the old file
whole (``ZoneStore.put_file``: a rename locally; on object storage an upload to a hidden key copied
into place, so the tokens object is replaced by a whole one or not at all); files
already at the target version are skipped, so running the rotation again after a crash finishes
the job instead of adding another version, and deletes what the crash left. Publication refuses
tokens files at different versions (``require_current_tokens``). Name encodings re-key their
token column with the tokens; the encoding key rotates on its own and deletes the encodings made
under the old one (``hub.privacy.bloom``). Landing and release keys rotate by adding a version
only: sealed files name the version that wrapped them and old versions stay in the keyring.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from hub import audit
from hub.errors import HubError, IntegrityError, KeyringError
from hub.locks import exclusive
from hub.privacy.bloom import (
    ENCODING,
    ENCODINGS_FILE,
    KEY_VERSION_META,
    encodings_path,
    encodings_versions,
    rekey_encodings,
)
from hub.privacy.keys import PURPOSES, DataKey, Keyring
from hub.privacy.tokens import rekey
from hub.settings import Settings
from hub.storage import ZoneFile, ZoneStore, zone_store

log = logging.getLogger(__name__)

PSEUDONYMISATION = "pseudonymisation"
DOMAIN_META = b"svd-hub:domain"
TOKENS_FILE = "tokens.parquet"
_LOCK_FILE = ".key-rotation.lock"
_REKEY_TMP = f".{TOKENS_FILE}.rekey-"  # a re-keyed file that an earlier version put in the zone
_WORK = "rekey"  # under the work directory: the re-keyed file as it is written, locally
ROTATE_HINT = "a key rotation has not finished; run `hub keys rotate` to finish it"


def composite_domain(parts: Sequence[str]) -> str:
    """The token domain of a composite linkage key made of ``parts``."""
    return "composite:" + "+".join(parts)


def token_table(columns: dict[str, pa.Array], domains: dict[str, str], version: int) -> pa.Table:
    """A tokens table stamped with its key version and each token column's domain."""
    fields = [
        pa.field(
            name,
            array.type,
            metadata={DOMAIN_META: domains[name].encode()} if name in domains else None,
        )
        for name, array in columns.items()
    ]
    schema = pa.schema(fields, metadata={KEY_VERSION_META: str(version).encode()})
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def _version_of(schema: pa.Schema, path: str) -> int:
    raw = (schema.metadata or {}).get(KEY_VERSION_META)
    if raw is None:
        return 1  # written before versions were recorded, when only version 1 existed
    try:
        version = int(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        version = 0
    if version < 1:
        raise IntegrityError(
            f"tokens file {path} records an unreadable key version",
            hint="restore the file from backup or stage its extract again",
        )
    return version


def token_file_version(store: ZoneStore, path: str) -> int:
    """The pseudonymisation key version the tokens in ``path`` (in the linkage zone ``store``)
    are at."""
    return _version_of(store.read_schema(path), path)


def _extract_files(store: ZoneStore, name: str) -> list[str]:
    """Every ``<agreement>/<extract>/<name>`` of the linkage zone, in a stable order (folders
    named with a leading dot, temporary ones, are not extracts)."""
    found = []
    for path in store.list():
        parts = PurePosixPath(path).parts
        if len(parts) == 3 and parts[2] == name and not any(p.startswith(".") for p in parts):
            found.append(path)
    return sorted(found, key=lambda p: PurePosixPath(p).parts)


def token_files(store: ZoneStore) -> list[str]:
    """Every ``<agreement>/<extract>/tokens.parquet`` of the linkage zone ``store`` (paths in the
    zone), in a stable order. A staging run puts the tokens file in place last, whole."""
    return _extract_files(store, TOKENS_FILE)


@dataclass(frozen=True)
class TokenFile:
    """One tokens file: where it is in the linkage zone, its key version and the domain of each
    token column."""

    path: str
    version: int
    domains: dict[str, str]


def _legacy_domains(settings: Settings, path: str, names: list[str]) -> dict[str, str]:
    """Domains of a file staged before they were recorded: derived from its agreement."""
    from hub.agreements import get_agreement
    from hub.agreements.model import IdentifierType
    from hub.pipeline.identifiers import composite_column, token_column, token_domain

    agreement = get_agreement(settings.contracts_dir, PurePosixPath(path).parts[0])
    known = {token_column(kind): token_domain(kind, agreement) for kind in IdentifierType}
    known.update(
        {composite_column(k.name): composite_domain(k.parts) for k in agreement.linkage_keys}
    )
    missing = [n for n in names if n not in known]
    if missing:
        raise KeyringError(
            f"tokens file {path} has column(s) {', '.join(missing)} whose token domain is not "
            "recorded and not derivable from its agreement",
            hint="restore the agreement version the extract was staged under",
        )
    return {n: known[n] for n in names}


def inspect_token_file(settings: Settings, store: ZoneStore, path: str) -> TokenFile:
    """Read a tokens file's key version and column domains (its schema only, not its rows)."""
    schema = store.read_schema(path)
    domains: dict[str, str] = {}
    unrecorded: list[str] = []
    for field in schema:
        domain = (field.metadata or {}).get(DOMAIN_META)
        if domain is not None:
            domains[field.name] = domain.decode()
        elif field.name.startswith("tok_"):
            unrecorded.append(field.name)
    if unrecorded:
        domains.update(_legacy_domains(settings, path, unrecorded))
    return TokenFile(path, _version_of(schema, path), domains)


def _stamped_schema(schema: pa.Schema, domains: dict[str, str], version: int) -> pa.Schema:
    fields = [
        f.with_metadata({**(f.metadata or {}), DOMAIN_META: domains[f.name].encode()})
        if f.name in domains
        else f
        for f in schema
    ]
    metadata = {**(schema.metadata or {}), KEY_VERSION_META: str(version).encode()}
    return pa.schema(fields, metadata=metadata)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rekey_token_file(store: ZoneStore, item: TokenFile, key: DataKey, work_dir: Path) -> None:
    """Re-key every token column of one file of the linkage zone ``store`` a step, to ``key``'s
    version: written row group by row group into a local file under ``work_dir``, then put over
    the old file whole (``ZoneStore.put_file``: a rename, or an upload copied into place). The token
    column of the extract's name encodings (``hub.privacy.bloom``) is re-keyed first, its filters
    kept (they are under the encoding key); a crash between the two leaves the encodings ahead,
    and the run that finishes the rotation skips them."""
    if item.version != key.version - 1:
        raise KeyringError(
            f"tokens file {item.path} is at key version {item.version}, not {key.version - 1}"
        )
    encodings = encodings_path(item.path)
    if store.exists(encodings) and encodings_versions(store, encodings)[0] == item.version:
        rekey_encodings(store, encodings, key, item.domains)
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    local = work_dir / f"{os.getpid()}-{uuid.uuid4().hex}-{TOKENS_FILE}"
    try:
        with ZoneFile(store, item.path).parquet_file() as source:
            schema = _stamped_schema(source.schema_arrow, item.domains, key.version)
            with pq.ParquetWriter(local, schema, compression="zstd") as writer:
                for group in range(source.num_row_groups):
                    table = source.read_row_group(group)
                    columns = [
                        rekey(column, key, item.domains[field.name])
                        if field.name in item.domains
                        else column
                        for field, column in zip(
                            schema,
                            (table.column(n).combine_chunks() for n in schema.names),
                            strict=True,
                        )
                    ]
                    writer.write_table(pa.Table.from_arrays(columns, schema=schema))
        _fsync(local)
        store.put_file(item.path, local)  # whole or not at all, on object storage too
    except BaseException:
        local.unlink(missing_ok=True)
        raise


def require_current_tokens(store: ZoneStore, paths: Sequence[str], keyring: Keyring) -> int:
    """The pseudonymisation key version shared by every tokens file in ``paths`` (of the linkage
    zone ``store``): the keyring's current one. Files at different versions do not link, so
    anything else is an error."""
    current = keyring.current(PSEUDONYMISATION).version
    versions = {path: token_file_version(store, path) for path in paths}
    ahead = sorted(p for p, v in versions.items() if v > current)
    if ahead:
        raise KeyringError(
            f"tokens file {ahead[0]} is at pseudonymisation key version {versions[ahead[0]]}, "
            f"which the keyring lacks (its newest is version {current})",
            hint="restore keys/keyring.json from a backup made after that rotation",
        )
    behind = sorted(p for p, v in versions.items() if v < current)
    if behind:
        raise KeyringError(
            f"cannot link tokens files at different key versions: {len(behind)} of "
            f"{len(paths)} are below pseudonymisation key version {current} (first: "
            f"{behind[0]} at version {versions[behind[0]]})",
            hint=ROTATE_HINT + ", then publish again",
        )
    return current


@contextmanager
def rotation_lock(settings: Settings) -> Iterator[None]:
    """One rotation at a time per data directory (released by the OS if the process dies, so a
    crashed rotation never blocks the run that finishes it)."""
    busy = KeyringError(
        "another key rotation is running on this data directory",
        hint="wait for it to finish, then run `hub keys rotate` again if needed",
    )
    with exclusive(settings.data_dir / _LOCK_FILE, busy):
        yield


@dataclass(frozen=True)
class RotationResult:
    """What one run of ``rotate_keys`` did (counts and versions only)."""

    purpose: str
    version: int  # the key version now current for the purpose
    rekeyed: int  # tokens files re-keyed by this run
    skipped: int  # tokens files already at ``version``
    resumed: bool  # finished an interrupted rotation instead of adding a version
    seconds: float
    encodings_dropped: int = 0  # encodings files deleted (an encoding key rotation)


def _plan(
    settings: Settings, store: ZoneStore, keyring: Keyring
) -> tuple[int, bool, list[TokenFile]]:
    """The target version, whether it is an interrupted rotation, and every tokens file; any file
    the rotation cannot bring to the target is an error before anything changes."""
    current = keyring.chain(PSEUDONYMISATION)[-1].version  # every version 1..n must be there
    files = [inspect_token_file(settings, store, path) for path in token_files(store)]
    for item in files:
        if item.version > current:
            raise KeyringError(
                f"tokens file {item.path} is at pseudonymisation key version {item.version}, "
                f"which the keyring lacks (its newest is version {current})",
                hint="restore keys/keyring.json from a backup made after that rotation",
            )
    resumed = any(item.version < current for item in files)
    target = current if resumed else current + 1
    for item in files:
        if item.version not in (target - 1, target):
            raise KeyringError(
                f"tokens file {item.path} is at pseudonymisation key version {item.version}; "
                f"a rotation to version {target} expects version {target - 1} or {target}",
                hint="the file was restored from an older backup or written by another "
                "installation; restore it from a backup at one of those versions, or stage "
                "its extract again",
            )
    return target, resumed, files


def rotate_keys(
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    purpose: str = PSEUDONYMISATION,
    *,
    actor: str = "system",
    progress: Callable[[int, int], None] | None = None,
) -> RotationResult:
    """Rotate the key for ``purpose``; for pseudonymisation, re-key every tokens file too.

    When an earlier pseudonymisation rotation did not finish (some files still at the previous
    version), this run finishes it rather than adding another version. ``progress`` is called
    with (files done, files to do).
    """
    if purpose not in PURPOSES:
        raise KeyringError(
            f"unknown key purpose {purpose!r}", hint=f"purposes are {', '.join(PURPOSES)}"
        )
    started = time.perf_counter()
    with rotation_lock(settings):
        if purpose == ENCODING:
            key = keyring.rotate(purpose)
            dropped = drop_stale_encodings(settings, key.version)
            result = RotationResult(purpose, key.version, 0, 0, False, 0.0, dropped)
        elif purpose != PSEUDONYMISATION:
            key = keyring.rotate(purpose)
            result = RotationResult(purpose, key.version, 0, 0, False, 0.0)
        else:
            result = _rotate_tokens(settings, engine, keyring, actor, progress)
        result = replace(result, seconds=time.perf_counter() - started)
        audit.record(
            engine,
            actor=actor,
            action="keys.rotated",
            subject=f"keys:{purpose}",
            detail={
                "version": result.version,
                "files": result.rekeyed,
                "skipped": result.skipped,
                "resumed": result.resumed,
                **({"encodings_dropped": result.encodings_dropped} if purpose == ENCODING else {}),
            },
        )
    log.info(
        "rotated the %s key to version %d: %d tokens files re-keyed, %d already there%s",
        purpose,
        result.version,
        result.rekeyed,
        result.skipped,
        " (finished an interrupted rotation)" if result.resumed else "",
    )
    return result


def drop_stale_encodings(settings: Settings, version: int) -> int:
    """Delete every encodings file whose filters are not under encoding key ``version``: they
    cannot be re-keyed without the names, and compare with nothing made under the new key.
    Returns how many were deleted. Links already made from them stay in the linkage state."""
    store = zone_store(settings, "linkage")
    dropped = 0
    for path in _extract_files(store, ENCODINGS_FILE):
        if encodings_versions(store, path)[1] != version:
            store.delete(path)
            dropped += 1
    return dropped


def _rotate_tokens(
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    actor: str,
    progress: Callable[[int, int], None] | None,
) -> RotationResult:
    store = zone_store(settings, "linkage")
    target, resumed, files = _plan(settings, store, keyring)
    if resumed:
        key = keyring.get(PSEUDONYMISATION, target)
        log.warning("finishing an interrupted rotation to pseudonymisation key %d", target)
    else:
        key = keyring.rotate(PSEUDONYMISATION)
        audit.record(
            engine,
            actor=actor,
            action="keys.added",
            subject=f"keys:{PSEUDONYMISATION}",
            detail={"version": key.version, "files_to_rekey": len(files)},
        )
    # left in the zone by a crashed run of an earlier version; the lock says none is running
    for stale in store.list():
        parts = PurePosixPath(stale).parts
        if len(parts) == 3 and parts[2].startswith(_REKEY_TMP):
            store.delete(stale)
    work_dir = settings.work_dir / _WORK
    shutil.rmtree(work_dir, ignore_errors=True)
    todo = [item for item in files if item.version == target - 1]
    for done, item in enumerate(todo, start=1):
        try:
            rekey_token_file(store, item, key, work_dir)
        except HubError:
            raise
        except (OSError, pa.ArrowException) as exc:
            raise IntegrityError(
                f"re-keying tokens file {item.path} failed ({type(exc).__name__})",
                hint="fix the cause, then run `hub keys rotate` again to finish the rotation",
            ) from None
        log.debug("re-keyed %s to pseudonymisation key version %d", item.path, target)
        if progress is not None:
            progress(done, len(todo))
    return RotationResult(PSEUDONYMISATION, target, len(todo), len(files) - len(todo), resumed, 0)
