"""Every zone store behaves the same on the local filesystem and on a real S3-compatible server
(moto's, in its own process): whole-file atomic writes, reads, listing without a crash's
temporary files, deletes, Parquet round trips, paths that cannot leave the zone, and a clear
error for a missing bucket."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from hub.errors import InfrastructureError, UserError
from hub.settings import Settings
from hub.storage import ZoneStore, zone_store, zones
from tests.conftest import make_settings
from tests.s3_server import ACCESS_KEY, SECRET_KEY, make_buckets, s3_server

PREFIX = "svd-test"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url:
        make_buckets(url, [f"{PREFIX}-staging"])
        yield url


def _s3_settings(base: Path, endpoint: str) -> Settings:
    return make_settings(
        base,
        storage="s3",
        s3_endpoint_url=endpoint,
        s3_bucket_prefix=PREFIX,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ZoneStore]:
    if request.param == "local":
        yield zone_store(make_settings(tmp_path), "staging")
        return
    zone = zone_store(_s3_settings(tmp_path, request.getfixturevalue("endpoint")), "staging")
    yield zone
    zone.delete_tree(tmp_path.name)  # each test writes under its own prefix


def _name(store: ZoneStore, tmp_path: Path, path: str) -> str:
    return f"{tmp_path.name}/{path}" if store.kind == "s3" else path


def test_files_round_trip_and_list(store: ZoneStore, tmp_path: Path) -> None:
    a = _name(store, tmp_path, "police-sv/ext-1/report.json")
    b = _name(store, tmp_path, "police-sv/ext-2/report.json")
    store.write_bytes(a, b'{"rows": 3}')
    store.write_bytes(b, b"{}")
    store.write_bytes(a, b'{"rows": 4}')  # a second write replaces the whole file
    assert store.read_bytes(a) == b'{"rows": 4}'
    assert store.exists(a) and not store.exists(_name(store, tmp_path, "police-sv/none.json"))
    prefix = _name(store, tmp_path, "police-sv")
    assert store.list(prefix) == [a, b]
    store.delete(a)
    store.delete(a)  # deleting twice changes nothing
    assert store.list(prefix) == [b]
    store.delete_tree(prefix)
    assert store.list(prefix) == []
    with pytest.raises(UserError, match="no file"):
        store.read_bytes(a)


def test_parquet_round_trips(store: ZoneStore, tmp_path: Path) -> None:
    table = pa.table({"record": pa.array([1, 2, 3], pa.int64()), "lsoa": ["E01", None, "E02"]})
    path = _name(store, tmp_path, "ed-assaults/ext-9/data.parquet")
    store.write_parquet(path, table)
    assert store.read_parquet(path).equals(table)
    assert store.read_parquet(path, columns=["lsoa"]).column_names == ["lsoa"]


def test_a_failed_write_leaves_nothing_in_view(store: ZoneStore, tmp_path: Path) -> None:
    path = _name(store, tmp_path, "police-sv/ext-3/data.parquet")

    class BrokenError(Exception):
        pass

    def explode(_: object) -> None:
        raise BrokenError

    with pytest.raises(BrokenError):
        store._write(path, explode)
    assert not store.exists(path)
    assert store.list(_name(store, tmp_path, "police-sv")) == []
    if store.kind == "local":  # and no temporary file is left behind either
        assert not [p for p in Path(store.root).rglob("*") if p.is_file()]


def test_an_interrupted_upload_leaves_the_old_file_whole(
    store: ZoneStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload stopped part-way (an error reading the local file, or SIGTERM at a worker's
    shutdown) leaves the file that was there as it was and no object in view; pyarrow would
    otherwise complete the upload with the parts it had sent."""
    path = _name(store, tmp_path, "police-sv/ext-4/tokens.parquet")
    store.write_bytes(path, b"the whole old file")
    local = tmp_path / "new.bin"
    local.write_bytes(b"n" * 4096)
    real = zones.pa.OSFile

    class UploadStoppedError(Exception):
        pass

    class Failing:
        def __init__(self, name: str, mode: str) -> None:
            self._file = real(name, mode)
            self._reads = 0

        def __enter__(self) -> Failing:
            return self

        def __exit__(self, *exc: object) -> None:
            self._file.close()

        def read(self, size: int) -> bytes:
            self._reads += 1
            if self._reads > 1:
                raise UploadStoppedError
            return bytes(self._file.read(size))

    monkeypatch.setattr(zones, "UPLOAD_CHUNK", 1024)
    monkeypatch.setattr(zones.pa, "OSFile", Failing)
    with pytest.raises(UploadStoppedError) if store.kind == "s3" else contextlib.nullcontext():
        store.put_file(path, local)
    monkeypatch.undo()
    if store.kind == "s3":
        assert store.read_bytes(path) == b"the whole old file"
        assert store.list(_name(store, tmp_path, "police-sv")) == [path]
        # no hidden temporary object left either
        prefix = f"{store.root}/{_name(store, tmp_path, 'police-sv')}"
        hidden = store.fs.get_file_info(pafs.FileSelector(prefix, recursive=True))
        assert [i.path for i in hidden if i.type == pafs.FileType.File] == [f"{store.root}/{path}"]
    else:  # a rename: nothing is read, so nothing can stop part-way
        assert store.read_bytes(path) == b"n" * 4096


def test_temporaries_left_by_a_killed_write_are_swept_once_stale(
    store: ZoneStore, tmp_path: Path
) -> None:
    kept = _name(store, tmp_path, "police-sv/ext-5/data.parquet")
    store.write_bytes(kept, b"whole")
    left = _name(store, tmp_path, "police-sv/ext-5/.tmp-0123abcd-data.parquet")
    with store.fs.open_output_stream(f"{store.root}/{left}") as out:  # as a killed write leaves
        out.write(b"half")
    base = f"{store.root}/{tmp_path.name}" if store.kind == "s3" else store.root

    def files() -> list[str]:
        found = store.fs.get_file_info(pafs.FileSelector(base, recursive=True))
        return sorted(i.path for i in found if i.type == pafs.FileType.File)

    assert store.sweep_temporaries(older_than=3600) == 0  # it could be a write in progress
    assert f"{store.root}/{left}" in files()
    time.sleep(1.1)
    assert store.sweep_temporaries(older_than=1) >= 1
    assert files() == [f"{store.root}/{kept}"]
    assert store.read_bytes(kept) == b"whole"


@pytest.mark.parametrize("path", ["../escape", "/etc/passwd", "a/../../b", "", "a\\b"])
def test_a_path_cannot_leave_its_zone(store: ZoneStore, path: str) -> None:
    with pytest.raises(UserError, match="not a path inside a zone"):
        store.write_bytes(path, b"x")


def test_a_missing_bucket_is_one_clear_error(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(InfrastructureError, match="svd-test-landing does not exist"):
        zone_store(_s3_settings(tmp_path, endpoint), "landing")
