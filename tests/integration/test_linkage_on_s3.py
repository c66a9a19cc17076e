"""The linkage zone on object storage (``HUB_STORAGE=s3``, a real moto S3 server): linking, the
saved linkage state and a key rotation behave as they do on the local filesystem, and nothing of
the zone is written to the local disk.

A partnership (3,000 rows, five feeds) is received and staged once into a local template
installation; each test copies its linkage zone (tokens and encodings) into the linkage bucket of
a fresh S3 installation, with the keys it was staged under, and a local copy beside it to compare
with.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pytest
from sqlalchemy import Engine

from hub.errors import IntegrityError, KeyringError
from hub.linkage import LinkInput, link
from hub.linkage.config import LinkageConfig
from hub.linkage.engine import Linkage, linked_now, run_linkage
from hub.privacy import rotation
from hub.privacy.bloom import ENCODINGS_FILE, KEY_VERSION_META, encodings_path
from hub.privacy.keys import open_keyring
from hub.privacy.rotation import (
    DOMAIN_META,
    TOKENS_FILE,
    RotationResult,
    require_current_tokens,
    rotate_keys,
    token_file_version,
    token_files,
)
from hub.privacy.tokens import rekey
from hub.settings import Settings
from hub.storage import ZoneStore, zone_store, zones
from hub.store import make_engine, upgrade
from tests.conftest import make_settings
from tests.partnership import stage_partnership
from tests.rotation_crash import Crash, crash_after

pytestmark = pytest.mark.slow
ROWS = 3000
LATE = "ed-assaults"  # the feed that arrives after the others in the incremental test
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CONFIG = LinkageConfig()
Partition = frozenset[frozenset[tuple[str, str, int]]]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("s3-linkage-template")
    engine = stage_partnership(base, ROWS)[1]
    engine.dispose()
    return base


@dataclass
class Hubs:
    """The same linkage zone on S3 and on the local filesystem."""

    s3: Settings
    local: Settings
    inputs: list[LinkInput]

    @property
    def store(self) -> ZoneStore:
        return zone_store(self.s3, "linkage")

    def without(self, agreement_id: str) -> list[LinkInput]:
        return [i for i in self.inputs if i.agreement_id != agreement_id]

    def run(
        self, settings: Settings, inputs: list[LinkInput] | None = None, full_relink: bool = False
    ) -> Linkage:
        return run_linkage(
            settings,
            self.inputs if inputs is None else inputs,
            CONFIG,
            encoding_version=1,
            full_relink=full_relink,
            now=NOW,
        )

    def partition(self) -> Partition:
        return partition_of(self.store, self.inputs)

    def versions(self) -> Counter[int]:
        return Counter(token_file_version(self.store, p) for p in token_files(self.store))


def _link_input(path: str) -> LinkInput:
    agreement_id, extract_id, _ = path.split("/")
    return LinkInput(agreement_id, extract_id, path)


def objects(store: ZoneStore) -> list[str]:
    """Every object in the zone's bucket, hidden temporary ones included."""
    selector = pafs.FileSelector(store.root, recursive=True)
    return sorted(
        info.path[len(store.root) + 1 :]
        for info in store.fs.get_file_info(selector)
        if info.type == pafs.FileType.File
    )


@pytest.fixture
def hubs(template: Path, tmp_path: Path, s3_settings: Settings) -> Hubs:
    assert s3_settings.storage == "s3" and s3_settings.key_dir.parent == tmp_path
    shutil.copytree(template / "keys", s3_settings.key_dir, dirs_exist_ok=True)
    shutil.copytree(template / "secrets", tmp_path / "secrets", dirs_exist_ok=True)
    shutil.copytree(template, tmp_path / "local")
    local = make_settings(tmp_path / "local")
    source, bucket = zone_store(local, "linkage"), zone_store(s3_settings, "linkage")
    assert bucket.kind == "s3" and not bucket.list()
    for path in source.list():
        bucket.write_bytes(path, source.read_bytes(path))
    inputs = [_link_input(p) for p in token_files(bucket)]
    assert len(inputs) == 5 and [i.tokens_path for i in inputs] == token_files(source)
    return Hubs(s3_settings, local, inputs)


def partition_of(store: ZoneStore, inputs: list[LinkInput]) -> Partition:
    """Which records belong together, independently of the tokens' values."""
    clusters: dict[int, set[tuple[str, str, int]]] = defaultdict(set)
    for r in link(store, inputs).records.to_pylist():
        clusters[r["cluster"]].add((r["agreement_id"], r["extract_id"], r["record"]))
    return frozenset(frozenset(c) for c in clusters.values())


def _pairs(links: pa.Table) -> set[tuple[str, int, str, int]]:
    columns = ("extract_l", "record_l", "extract_r", "record_r")
    return set(zip(*(links.column(c).to_pylist() for c in columns), strict=True))


def _nothing_local(settings: Settings) -> None:
    """The S3 installation kept nothing of the linkage zone on the local disk."""
    assert not settings.zone("linkage").exists()
    assert not [p for p in settings.work_dir.rglob("*") if p.is_file()]


def test_linking_on_object_storage_gives_the_same_clusters_as_locally(hubs: Hubs) -> None:
    store, local_store = hubs.store, zone_store(hubs.local, "linkage")
    exact = link(store, hubs.inputs, CONFIG)
    assert exact.records.equals(link(local_store, hubs.inputs, CONFIG).records)
    assert exact.records.num_rows == ROWS
    on_s3, locally = hubs.run(hubs.s3), hubs.run(hubs.local)
    report = on_s3.report["probabilistic"]
    assert isinstance(report, dict) and report["run"] == "full relink"
    assert on_s3.links.num_rows > 0 and report["records_linked"] > 0  # encodings were read
    assert on_s3.records.equals(locally.records)
    # the same links (splink's sums on two DuckDB threads may differ in the last bits)
    assert _pairs(on_s3.links) == _pairs(locally.links)
    assert on_s3.links.drop_columns(["match_weight", "match_probability"]).equals(
        locally.links.drop_columns(["match_weight", "match_probability"])
    )
    weights = [t.column("match_weight").to_numpy() for t in (on_s3.links, locally.links)]
    assert np.allclose(weights[0], weights[1], rtol=1e-9)
    # fewer clusters than the exact passes alone: the probabilistic links join people
    clusters = len(pc.unique(on_s3.records.column("cluster")))
    assert clusters < len(pc.unique(exact.records.column("cluster")))
    # the saved state is in the bucket, as locally, and nothing went to the local disk
    state = [p for p in store.list() if p.startswith("_state/")]
    assert state == [
        "_state/links.parquet",
        "_state/models/model-0001.json",
        "_state/records.parquet",
        "_state/state.json",
    ]
    assert store.read_parquet("_state/records.parquet").equals(on_s3.records)
    assert store.read_bytes("_state/state.json") == local_store.read_bytes("_state/state.json")
    assert _pairs(store.read_parquet("_state/links.parquet")) == _pairs(on_s3.links)
    model = json.loads(store.read_text("_state/models/model-0001.json"))
    assert (model["version"], model["records"]) == (1, ROWS)
    _nothing_local(hubs.s3)


def test_the_state_on_object_storage_is_kept_and_used_incrementally(hubs: Hubs) -> None:
    store = hubs.store
    first = hubs.run(hubs.s3, hubs.without(LATE))
    later = hubs.run(hubs.s3)
    report = later.report["probabilistic"]
    assert isinstance(report, dict)
    assert (report["run"], report["model"]["version"]) == ("incremental", 1)  # no new model
    assert not store.exists("_state/models/model-0002.json")
    assert _pairs(first.links) <= _pairs(later.links)  # earlier links kept
    late = {i.extract_id for i in hubs.inputs if i.agreement_id == LATE}
    new = _pairs(later.links) - _pairs(first.links)
    assert new and all(a in late or b in late for a, _, b, _ in new)
    # the same steps on the local filesystem end in the same place
    hubs.run(hubs.local, hubs.without(LATE))
    assert later.records.equals(hubs.run(hubs.local).records)
    # the clusters the last run left, read back from the bucket without scoring anything
    assert linked_now(hubs.s3, hubs.inputs, CONFIG).records.equals(later.records)
    relinked = hubs.run(hubs.s3, full_relink=True)
    assert relinked.report["probabilistic"]["model"]["version"] == 2  # type: ignore[index]
    assert store.exists("_state/models/model-0002.json")
    store.write_text("_state/state.json", "{not json")
    with pytest.raises(IntegrityError, match=r"linkage state .* is damaged"):
        hubs.run(hubs.s3)
    _nothing_local(hubs.s3)


def _engine(settings: Settings) -> Engine:
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    return engine


def _rotate(
    settings: Settings, engine: Engine, purpose: str = "pseudonymisation"
) -> RotationResult:
    return rotate_keys(settings, engine, open_keyring(settings), purpose, actor="test")


def test_a_rotation_rekeys_the_tokens_on_object_storage_and_survives_a_crash(
    hubs: Hubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, engine = hubs.store, _engine(hubs.s3)
    files = token_files(store)
    before = hubs.partition()
    assert sum(len(c) > 1 for c in before) > 100  # the partition is worth comparing
    tokens_before = {p: store.read_parquet(p) for p in files}
    encodings_before = {p: store.read_parquet(encodings_path(p)) for p in files}
    monkeypatch.setattr(rotation, "rekey_token_file", crash_after(2, rotation.rekey_token_file))
    with pytest.raises(Crash):
        _rotate(hubs.s3, engine)
    monkeypatch.undo()
    assert hubs.versions() == Counter({2: 2, 1: 3})
    ring = open_keyring(hubs.s3)
    with pytest.raises(KeyringError, match="different key versions"):
        require_current_tokens(store, files, ring)
    assert any(PurePosixPath(p).name.startswith(".tokens.parquet.rekey-") for p in objects(store))

    again = _rotate(hubs.s3, engine)
    assert (again.version, again.resumed, again.rekeyed, again.skipped) == (2, True, 3, 2)
    ring = open_keyring(hubs.s3)
    assert ring.versions("pseudonymisation") == [1, 2]
    assert require_current_tokens(store, files, ring) == 2
    # only the tokens and encodings, re-keyed in place: no temporary object left in the bucket
    assert objects(store) == sorted([*files, *(encodings_path(p) for p in files)])
    v2 = ring.get("pseudonymisation", 2)
    for path, old in tokens_before.items():
        new = store.read_parquet(path)
        assert new.schema.metadata[KEY_VERSION_META] == b"2"
        assert new.column("record").equals(old.column("record"))
        domains = {}
        for name in old.column_names[1:]:
            domains[name] = new.schema.field(name).metadata[DOMAIN_META].decode()
            assert (
                new.column(name).combine_chunks().equals(rekey(old.column(name), v2, domains[name]))
            )
        encodings = store.read_parquet(encodings_path(path))
        assert encodings.schema.metadata[KEY_VERSION_META] == b"2"
        old_encodings = encodings_before[path]
        for kind in ("forename", "surname"):
            rows = old_encodings.filter(pc.equal(old_encodings.column("kind"), kind))
            expected = rekey(rows.column("token"), v2, domains[f"tok_{kind}"])
            now = encodings.filter(pc.equal(encodings.column("kind"), kind))
            assert set(now.column("token").to_pylist()) == set(expected.to_pylist())
    assert hubs.partition() == before  # the same people, under new tokens
    # a probabilistic run on the re-keyed files still reads their encodings
    assert hubs.run(hubs.s3).report["probabilistic"]["records_linked"] > 0  # type: ignore[index]
    _nothing_local(hubs.s3)
    engine.dispose()


def test_rotating_the_encoding_key_drops_the_encodings_in_the_bucket(hubs: Hubs) -> None:
    store, engine = hubs.store, _engine(hubs.s3)
    files = token_files(store)
    tokens = {p: store.read_bytes(p) for p in files}
    result = _rotate(hubs.s3, engine, "encoding")
    assert (result.version, result.encodings_dropped) == (2, 5)
    assert objects(store) == files  # the encodings are gone, the tokens untouched
    assert {p: store.read_bytes(p) for p in files} == tokens
    assert not [p for p in store.list() if p.endswith(ENCODINGS_FILE)]
    engine.dispose()


def test_an_upload_cut_short_never_leaves_a_partial_tokens_file(
    hubs: Hubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyarrow completes an S3 upload when the writing fails part-way, so the store uploads a
    file under a hidden name and copies it into place: a re-keyed tokens file whose upload
    fails after its first part leaves the tokens file as it was."""
    store, engine = hubs.store, _engine(hubs.s3)
    files = token_files(store)
    before = {p: store.read_bytes(p) for p in files}
    real = zones.pa.OSFile

    class CutShort:
        """A re-keyed tokens file that fails to read after its first part (while uploading)."""

        def __init__(self, name: str, mode: str) -> None:
            self._file = real(name, mode)
            self._cut = mode == "rb" and name.endswith(TOKENS_FILE)
            self._reads = 0

        def __enter__(self) -> CutShort:
            return self

        def __exit__(self, *exc: object) -> None:
            self._file.close()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._file, name)

        def read(self, size: int) -> bytes:
            self._reads += 1
            if self._cut and self._reads > 1:
                raise OSError("connection reset")
            return bytes(self._file.read(size))

    monkeypatch.setattr(zones, "UPLOAD_CHUNK", 1024)
    monkeypatch.setattr(zones.pa, "OSFile", CutShort)
    with pytest.raises(IntegrityError, match=r"re-keying tokens file .* failed"):
        _rotate(hubs.s3, engine)
    monkeypatch.undo()
    assert {p: store.read_bytes(p) for p in files} == before
    assert not [p for p in objects(store) if ".rekey-" in p]
    result = _rotate(hubs.s3, engine)
    assert (result.version, result.resumed, result.rekeyed) == (2, True, 5)
    assert hubs.versions() == Counter({2: 5})
    engine.dispose()
