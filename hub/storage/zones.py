"""A zone (landing, staging, linkage, published...) as a store of files, on the local filesystem
or on S3-compatible object storage, through one interface built on ``pyarrow.fs``.

``zone_store(settings, zone)`` gives the zone's store: with ``HUB_STORAGE=local`` (the default)
a folder under the data directory, with ``HUB_STORAGE=s3`` the bucket
``<HUB_S3_BUCKET_PREFIX>-<zone>``
(one bucket per zone, so each can have its own retention, versioning and access policy; the
buckets are created by docker-compose's ``minio-init``). Paths inside a zone are always
``/``-separated relative paths, never ``os.path``.

Writes are whole-file and atomic on both: locally a file is written under a hidden temporary
name in the same folder and renamed into place; on S3 the file is written to a local temporary
file first, uploaded under a hidden temporary key and copied into place on the server (pyarrow
completes an interrupted upload with what it sent, so uploading straight to the final key could
leave half a file there). A reader never sees half a file and a failed write leaves none; a
process killed outright may leave a hidden ``.tmp-`` object, which ``list`` never shows.
One server-side copy is limited to 5 GB by S3, so a zone file is at most that (a national
release's event table of 100M events is about 2 GiB).
What S3 does not have is an atomic rename of a folder: code that publishes several files as one
unit must write them first and then a small file that names them (a manifest or pointer), and
readers must go through that file.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from hub.errors import InfrastructureError, UserError
from hub.settings import Settings

Kind = Literal["local", "s3"]
UPLOAD_CHUNK = 8 << 20
TMP_PREFIX = ".tmp-"  # a write not finished yet: never listed, swept once stale
# A stream from object storage reads ahead this much per request: the sealed-file reader asks for
# 1 MiB segments, and a request per segment costs more than the bytes (200 MiB from a local S3
# server: 23 s unbuffered, 3.6 s with 8 MiB, 1.3 s with 32 MiB)
READ_AHEAD = 32 << 20


def _relative(path: str) -> str:
    """``path`` as a clean relative path inside a zone; refuses one that would leave it."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in path:
        raise UserError(f"{path!r} is not a path inside a zone")
    return str(pure)


@dataclass(frozen=True)
class ZoneStore:
    """The files of one zone. ``root`` is the zone's folder (local) or bucket (S3)."""

    zone: str
    kind: Kind
    fs: pafs.FileSystem
    root: str

    @property
    def uri(self) -> str:
        return f"s3://{self.root}" if self.kind == "s3" else f"file://{self.root}"

    def _full(self, path: str) -> str:
        return f"{self.root}/{_relative(path)}"

    def _missing(self, path: str) -> UserError:
        return UserError(f"no file {path} in the {self.zone} zone")

    def _files(self, base: str) -> Iterator[pafs.FileInfo]:
        """Every file under the full path ``base``, hidden temporaries included."""
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        return (i for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File)

    def exists(self, path: str) -> bool:
        return bool(self.fs.get_file_info(self._full(path)).type == pafs.FileType.File)

    def size(self, path: str) -> int:
        info = self.fs.get_file_info(self._full(path))
        if info.type != pafs.FileType.File:
            raise self._missing(path)
        return int(info.size)

    def open_input(self, path: str) -> pa.NativeFile:
        """A stream of the file's bytes (read in pieces, never held whole)."""
        buffer = READ_AHEAD if self.kind == "s3" else None
        try:
            return self.fs.open_input_stream(self._full(path), buffer_size=buffer)
        except FileNotFoundError:
            raise self._missing(path) from None

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8")

    def put_file(self, path: str, local: Path) -> None:
        """Move the finished local file ``local`` to ``path``, atomically: a rename on the same
        filesystem (copied first when it is not), an upload to S3. ``local`` is gone after."""
        full = self._full(path)
        if self.kind == "s3":
            self._upload(local, full)
            local.unlink()
            return
        target = Path(full)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{target.name}")
        try:
            shutil.move(local, tmp)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_tree(self, prefix: str, folder: Path, *, last: str) -> list[str]:
        """``put_file`` every file of the local folder ``folder`` under ``prefix``, the file
        ``last`` (a manifest, an index) after all the others, so whoever reads by it finds the
        rest in place; the paths put, ``last`` last. ``folder``'s files are gone after."""
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        names = [*(n for n in names if n != last), *(n for n in names if n == last)]
        for name in names:
            self.put_file(f"{prefix}/{name}", folder / name)
        return [f"{prefix}/{name}" for name in names]

    def get_file(self, path: str, local: Path) -> None:
        """Copy the file at ``path`` to the local file ``local`` (written whole, then renamed)."""
        local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = local.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{local.name}")
        try:
            with self.open_input(path) as source, pa.OSFile(str(tmp), "wb") as out:
                while chunk := source.read(UPLOAD_CHUNK):
                    out.write(chunk)
            tmp.replace(local)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def mirror(self, prefix: str, cache: Path) -> Path:
        """The files under ``prefix`` as a local folder, for an unchanging set of files such as
        a release: the zone's own folder locally; on S3 a copy under ``cache/<zone>/<prefix>``,
        downloaded once (into a temporary folder renamed into place when whole)."""
        relative = _relative(prefix)
        if self.kind == "local":
            return Path(self._full(relative))
        folder = cache / self.zone / relative
        if folder.is_dir():
            return folder
        tmp = folder.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{folder.name}")
        try:
            for name in self.list(relative):
                self.get_file(name, tmp / name[len(relative) + 1 :])
            tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                tmp.rename(folder)
            except OSError:  # another process finished the same copy first
                if not folder.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder

    def forget_mirror(self, prefix: str, cache: Path) -> None:
        """Remove this machine's copy of ``prefix`` made by ``mirror`` (once its files are gone
        from the zone); nothing locally, where the mirror is the zone's own folder."""
        if self.kind == "s3":
            shutil.rmtree(cache / self.zone / _relative(prefix), ignore_errors=True)

    def move(self, path: str, target: ZoneStore) -> None:
        """Move a file to the same path in another zone: a rename locally; on S3 a server-side
        copy, then the original deleted."""
        destination = target._full(path)
        if self.kind == "local" and target.kind == "local":
            Path(destination).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            Path(self._full(path)).replace(destination)
            return
        if self.kind != target.kind:
            raise ValueError("a file moves only between zones of the same storage")
        self.fs.copy_file(self._full(path), destination)
        self.delete(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` as the whole file at ``path``, atomically."""
        self._write(path, lambda out: out.write(data))

    def read_bytes(self, path: str) -> bytes:
        try:
            with self.fs.open_input_stream(self._full(path)) as stream:
                return bytes(stream.read())
        except FileNotFoundError:
            raise self._missing(path) from None

    def write_parquet(self, path: str, table: pa.Table, **options: object) -> None:
        """Write ``table`` as a Parquet file at ``path``, atomically (zstd unless told)."""
        options.setdefault("compression", "zstd")
        self._write(path, lambda out: pq.write_table(table, out, **options))

    def read_parquet(self, path: str, columns: list[str] | None = None) -> pa.Table:
        if not self.exists(path):
            raise self._missing(path)
        return pq.read_table(self._full(path), columns=columns, filesystem=self.fs)

    def read_schema(self, path: str) -> pa.Schema:
        """The Arrow schema of the Parquet file at ``path``, from its footer only."""
        try:
            with self.fs.open_input_file(self._full(path)) as source:
                return pq.read_schema(source)
        except FileNotFoundError:
            raise self._missing(path) from None

    def list(self, prefix: str = "") -> list[str]:
        """Every file under ``prefix`` (relative paths, sorted); hidden temporary files left by a
        crash are not listed."""
        base = self._full(prefix) if prefix else self.root
        found = (info.path[len(self.root) + 1 :] for info in self._files(base))
        return sorted(p for p in found if not PurePosixPath(p).name.startswith(TMP_PREFIX))

    def sweep_temporaries(self, older_than: float) -> int:
        """Delete hidden temporary files (``.tmp-``) that a process killed part-way through a
        write left, once not written to for ``older_than`` seconds; returns how many. A write
        in progress on another machine is younger than that and is left alone."""
        cutoff = time.time() - older_than
        swept = 0
        for info in self._files(self.root):
            hidden = PurePosixPath(info.path).name.startswith(TMP_PREFIX)
            if hidden and info.mtime is not None and info.mtime.timestamp() < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.delete_file(info.path)
                    swept += 1
        return swept

    def delete(self, path: str) -> None:
        """Delete one file (a missing file is not an error: deleting twice changes nothing)."""
        try:
            self.fs.delete_file(self._full(path))
        except FileNotFoundError:
            return

    def delete_tree(self, prefix: str) -> None:
        """Delete every file under ``prefix``."""
        for path in self.list(prefix):
            self.delete(path)
        if self.kind == "local":
            try:
                self.fs.delete_dir(self._full(prefix))
            except FileNotFoundError:
                return

    def _upload(self, local: Path, full: str) -> None:
        """Upload a whole local file to ``full`` on S3 so that ``full`` only ever holds a whole
        object: pyarrow completes an upload with the parts sent so far when anything (an error,
        SIGTERM at a worker's shutdown) interrupts it, so it goes to a hidden temporary key
        first, which is copied to ``full`` on the server once complete, then deleted."""
        pure = PurePosixPath(full)
        tmp = f"{pure.parent}/{TMP_PREFIX}{uuid.uuid4().hex}-{pure.name}"
        try:
            with pa.OSFile(str(local), "rb") as source, self.fs.open_output_stream(tmp) as out:
                while chunk := source.read(UPLOAD_CHUNK):
                    out.write(chunk)
            self.fs.copy_file(tmp, full)
        finally:
            with contextlib.suppress(FileNotFoundError, OSError):
                self.fs.delete_file(tmp)

    def _write(self, path: str, write: Callable[[pa.NativeFile], object]) -> None:
        full = self._full(path)
        parent = str(PurePosixPath(full).parent)
        if self.kind == "s3":
            with tempfile.NamedTemporaryFile(prefix="hub-upload-") as local:
                with pa.OSFile(local.name, "wb") as staged:
                    write(staged)
                self._upload(Path(local.name), full)
            return
        self.fs.create_dir(parent, recursive=True)
        tmp = f"{parent}/{TMP_PREFIX}{uuid.uuid4().hex}-{PurePosixPath(full).name}"
        try:
            with self.fs.open_output_stream(tmp) as out:
                write(out)
            self.fs.move(tmp, full)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(tmp)
            raise


_checked: dict[tuple[object, ...], ZoneStore] = {}
_checked_lock = threading.Lock()


@dataclass(frozen=True)
class ZoneFile:
    """One file of a zone, opened like a local ``Path`` (``open("rb")``, ``name``) by code that
    reads either, such as the sealed-file reader."""

    store: ZoneStore
    path: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def recorded(self) -> str:
        """``<zone>/<path>``: how the metadata records where the file is."""
        return f"{self.store.zone}/{self.path}"

    def open(self, mode: str = "rb") -> pa.NativeFile:
        if mode != "rb":
            raise ValueError("zone files are opened for reading bytes only")
        return self.store.open_input(self.path)

    def size(self) -> int:
        return self.store.size(self.path)

    def read_bytes(self) -> bytes:
        return self.store.read_bytes(self.path)

    def read_parquet(self, columns: list[str] | None = None) -> pa.Table:
        return self.store.read_parquet(self.path, columns)

    def parquet_file(self, **options: Any) -> pq.ParquetFile:
        """The file as a ``pyarrow.parquet.ParquetFile`` (its metadata, row groups in turn)."""
        return pq.ParquetFile(self.store.fs.open_input_file(self.store._full(self.path)), **options)

    def exists(self) -> bool:
        return self.store.exists(self.path)


def zone_store(settings: Settings, zone: str) -> ZoneStore:
    """The store of ``zone`` as the settings configure it (an S3 bucket is checked to exist
    once per process)."""
    if settings.storage == "local":
        folder = settings.zone(zone).resolve()
        return ZoneStore(zone, "local", pafs.LocalFileSystem(), str(folder))
    settings.zone(zone)  # an unknown zone name is a programming error on both
    key = (
        zone,
        settings.s3_endpoint_url,
        settings.s3_bucket_prefix,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
    )
    with _checked_lock:
        if key not in _checked:
            _checked[key] = _s3_store(settings, zone)
        return _checked[key]


def locate(settings: Settings, recorded: str) -> tuple[ZoneStore, str]:
    """A path as the metadata records it, ``<zone>/<path inside the zone>``, as its zone's
    store and the path inside it."""
    zone, _, path = recorded.partition("/")
    return zone_store(settings, zone), _relative(path)


def _s3_store(settings: Settings, zone: str) -> ZoneStore:
    options: dict[str, object] = {"region": settings.s3_region}
    if settings.s3_endpoint_url:
        scheme, _, host = settings.s3_endpoint_url.partition("://")
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        options.update(
            access_key=settings.s3_access_key_id.get_secret_value(),
            secret_key=settings.s3_secret_access_key.get_secret_value(),
        )
    bucket = f"{settings.s3_bucket_prefix}-{zone}"
    filesystem = pafs.S3FileSystem(**options)
    info = filesystem.get_file_info(bucket)
    if info.type != pafs.FileType.Directory:
        raise InfrastructureError(
            f"the {zone} zone's bucket {bucket} does not exist or cannot be reached",
            hint="create the buckets (docker-compose's minio-init does) and check "
            "HUB_S3_ENDPOINT_URL and the credentials",
        )
    return ZoneStore(zone, "s3", filesystem, bucket)
