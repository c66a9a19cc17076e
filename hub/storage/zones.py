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
file first and uploaded only once it is whole (an object appears only when its upload completes),
so a reader never sees half a file and a failed write leaves none.
What S3 does not have is an atomic rename of a folder: code that publishes several files as one
unit must write them first and then a small file that names them (a manifest or pointer), and
readers must go through that file.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from hub.errors import InfrastructureError, UserError
from hub.settings import Settings

Kind = Literal["local", "s3"]
UPLOAD_CHUNK = 8 << 20


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

    def exists(self, path: str) -> bool:
        return bool(self.fs.get_file_info(self._full(path)).type == pafs.FileType.File)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` as the whole file at ``path``, atomically."""
        self._write(path, lambda out: out.write(data))

    def read_bytes(self, path: str) -> bytes:
        try:
            with self.fs.open_input_stream(self._full(path)) as stream:
                return bytes(stream.read())
        except FileNotFoundError:
            raise UserError(f"no file {path} in the {self.zone} zone") from None

    def write_parquet(self, path: str, table: pa.Table, **options: object) -> None:
        """Write ``table`` as a Parquet file at ``path``, atomically (zstd unless told)."""
        options.setdefault("compression", "zstd")
        self._write(path, lambda out: pq.write_table(table, out, **options))

    def read_parquet(self, path: str, columns: list[str] | None = None) -> pa.Table:
        if not self.exists(path):
            raise UserError(f"no file {path} in the {self.zone} zone")
        return pq.read_table(self._full(path), columns=columns, filesystem=self.fs)

    def list(self, prefix: str = "") -> list[str]:
        """Every file under ``prefix`` (relative paths, sorted); hidden temporary files left by a
        crash are not listed."""
        base = self._full(prefix) if prefix else self.root
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        found = []
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File:
                continue
            relative = info.path[len(self.root) + 1 :]
            if not PurePosixPath(relative).name.startswith(".tmp-"):
                found.append(relative)
        return sorted(found)

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

    def _write(self, path: str, write: Callable[[pa.NativeFile], object]) -> None:
        full = self._full(path)
        parent = str(PurePosixPath(full).parent)
        if self.kind == "s3":
            # pyarrow completes the upload even when the writer fails inside ``with``, so the
            # file is written locally first and uploaded only once it is whole
            with tempfile.NamedTemporaryFile(prefix="hub-upload-") as local:
                with pa.OSFile(local.name, "wb") as staged:
                    write(staged)
                with pa.OSFile(local.name, "rb") as source, self.fs.open_output_stream(full) as out:
                    while chunk := source.read(UPLOAD_CHUNK):
                        out.write(chunk)
            return
        self.fs.create_dir(parent, recursive=True)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}-{PurePosixPath(full).name}"
        try:
            with self.fs.open_output_stream(tmp) as out:
                write(out)
            self.fs.move(tmp, full)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(tmp)
            raise


def zone_store(settings: Settings, zone: str) -> ZoneStore:
    """The store of ``zone`` as the settings configure it."""
    if settings.storage == "local":
        folder = settings.zone(zone).resolve()
        return ZoneStore(zone, "local", pafs.LocalFileSystem(), str(folder))
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
