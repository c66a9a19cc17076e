"""Key rotation keeps every linkage intact, needs no raw data, survives a crash, and leaks no key.

A small synthetic partnership (3,000 rows, five feeds) is received, staged and published once into
a template installation by calling the pipeline functions directly (no Airflow). Each test works
on a copy of it. Linkage is compared as partitions of records ((agreement, extract, record) sets,
and in releases the events grouped by person), never as keys, which rotation changes on purpose.
"""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from hub import audit
from hub.agreements import load_agreements
from hub.agreements.model import Agreement
from hub.errors import KeyringError
from hub.linkage import LinkInput, link
from hub.logs import configure_logging
from hub.privacy import bloom, rotation
from hub.privacy.bloom import ENCODING_KEY_META, ENCODINGS_FILE, encodings_path
from hub.privacy.keys import DataKey, Keyring, open_keyring
from hub.privacy.rotation import (
    DOMAIN_META,
    KEY_VERSION_META,
    RotationResult,
    rotate_keys,
    token_file_version,
    token_files,
)
from hub.privacy.tokens import rekey
from hub.publication.release import PublishedRelease, current_release, load_release, publish_release
from hub.settings import Settings
from hub.storage import ZoneStore, zone_store
from hub.store import make_engine
from tests.conftest import make_settings
from tests.partnership import receive_and_stage, stage_partnership
from tests.privacy_canary import load_key_material, master_key_path, scan_for_keys
from tests.rotation_crash import Crash, crash_after

pytestmark = pytest.mark.slow
ROWS = 3000
NEW_ROWS = 100  # rows of the ED feed (142 rows) sent again, as a new extract, after rotation
Partition = frozenset[frozenset[tuple[str, str, int]]]


# --- building and copying an installation ------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A partnership received, staged and published once, under pseudonymisation key v1."""
    base = tmp_path_factory.mktemp("rotation-template")
    settings, engine, ring, summary = stage_partnership(base, ROWS)
    agreements = load_agreements(settings.contracts_dir)
    # The feed a partner sends again after rotation, prepared now: rotation gets no raw data.
    ed = pacsv.read_csv(
        summary.files["ed-assaults"],
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in agreements["ed-assaults"].received_fields}
        ),
    )
    pacsv.write_csv(ed.slice(0, NEW_ROWS), base / "ed-resent.csv")
    publish_release(settings, engine, ring, agreements)
    engine.dispose()
    return base


@dataclass
class Hub:
    base: Path
    settings: Settings
    engine: Engine
    agreements: dict[str, Agreement]

    def keyring(self) -> Keyring:
        return open_keyring(self.settings)

    def rotate(self, purpose: str = "pseudonymisation") -> RotationResult:
        return rotate_keys(self.settings, self.engine, self.keyring(), purpose, actor="test")

    def publish(self) -> PublishedRelease:
        return publish_release(self.settings, self.engine, self.keyring(), self.agreements)

    def store(self) -> ZoneStore:
        """The linkage zone."""
        return zone_store(self.settings, "linkage")

    def partition(self) -> Partition:
        return partition_of(self.store(), token_files(self.store()))

    def versions(self) -> Counter[int]:
        """How many tokens files are at each pseudonymisation key version."""
        store = self.store()
        return Counter(token_file_version(store, p) for p in token_files(store))


def _copy(template: Path, dest: Path) -> Hub:
    shutil.copytree(template, dest)
    settings = make_settings(dest)
    configure_logging(settings, level=logging.DEBUG)
    engine = make_engine(settings.metadata_url)
    return Hub(dest, settings, engine, load_agreements(settings.contracts_dir))


@pytest.fixture
def hub(template: Path, tmp_path: Path) -> Iterator[Hub]:
    copy = _copy(template, tmp_path / "hub")
    yield copy
    copy.engine.dispose()


# --- comparing linkage without comparing keys ---------------------------------------------------


def _inputs(paths: list[str]) -> list[LinkInput]:
    """The extracts whose tokens files are at ``paths`` (``<agreement>/<extract>/tokens.parquet``
    in the linkage zone)."""
    return [LinkInput(p.split("/")[0], p.split("/")[1], p) for p in paths]


def partition_of(store: ZoneStore, paths: list[str]) -> Partition:
    """Which records belong together: a set of clusters, each a set of (agreement, extract,
    record). Independent of the tokens' values."""
    records = link(store, _inputs(paths)).records.to_pylist()
    clusters: dict[int, set[tuple[str, str, int]]] = defaultdict(set)
    for r in records:
        clusters[r["cluster"]].add((r["agreement_id"], r["extract_id"], r["record"]))
    return frozenset(frozenset(c) for c in clusters.values())


def release_people(release: PublishedRelease) -> Counter[tuple[str, ...]]:
    """A release's people as the multiset of their event sets (person keys left out)."""
    people: dict[str, list[str]] = defaultdict(list)
    for event in pq.read_table(release.path / "event.parquet").to_pylist():
        key = event.pop("person_key")
        people[key].append(repr(sorted(event.items())))
    return Counter(tuple(sorted(events)) for events in people.values())


def person_keys(release: PublishedRelease) -> set[str]:
    return set(pq.read_table(release.path / "person.parquet").column("person_key").to_pylist())


def _tokens(store: ZoneStore, path: str) -> pa.Table:
    return store.read_parquet(path)


def _encoding_map(table: pa.Table) -> dict[tuple[str, bytes], bytes]:
    """An encodings file as (kind, token) -> filter."""
    kinds, tokens, bits = (table.column(c).to_pylist() for c in ("kind", "token", "encoding"))
    return {(k, t): b for k, t, b in zip(kinds, tokens, bits, strict=True)}


def _rekey_one(token: bytes, key: DataKey, domain: str) -> bytes:
    return bytes(rekey(pa.array([token], pa.binary(32)), key, domain)[0].as_py())


def _no_key_in(text: str, hub: Hub) -> None:
    assert load_key_material(hub.settings).find([text.encode()]) == []


# --- the main flow: rotate, publish, stage a new extract ------------------------------------------


@dataclass
class Flow:
    hub: Hub
    before: Partition
    tokens_before: dict[str, pa.Table]  # by path in the linkage zone
    encodings_before: dict[str, pa.Table]
    release_before: PublishedRelease
    result: RotationResult
    release_after: PublishedRelease
    new_extract: str
    release_with_new: PublishedRelease


@pytest.fixture(scope="module")
def flow(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Flow:
    hub = _copy(template, tmp_path_factory.mktemp("rotation-flow") / "hub")
    current = current_release(hub.settings)
    assert current is not None
    release_before = load_release(hub.settings, current)
    store = hub.store()
    files = token_files(store)
    before = partition_of(store, files)
    tokens_before = {p: _tokens(store, p) for p in files}
    encodings_before = {encodings_path(p): store.read_parquet(encodings_path(p)) for p in files}
    # No raw data anywhere near the rotation: the landing zone and the partners' files go.
    shutil.rmtree(hub.settings.zone("landing"))
    hub.settings.zone("landing").mkdir(mode=0o700)
    shutil.rmtree(hub.base / "partners")
    result = hub.rotate()
    release_after = hub.publish()
    new_extract = receive_and_stage(
        hub.settings,
        hub.engine,
        hub.keyring(),
        hub.agreements["ed-assaults"],
        hub.base / "ed-resent.csv",
    )
    release_with_new = hub.publish()
    return Flow(
        hub,
        before,
        tokens_before,
        encodings_before,
        release_before,
        result,
        release_after,
        new_extract,
        release_with_new,
    )


def test_rotation_rekeys_every_tokens_file_from_its_tokens_alone(flow: Flow) -> None:
    hub, result = flow.hub, flow.result
    assert (result.purpose, result.version, result.resumed) == ("pseudonymisation", 2, False)
    assert result.rekeyed == len(flow.tokens_before) == 5 and result.skipped == 0
    ring = hub.keyring()
    assert ring.versions("pseudonymisation") == [1, 2]  # the old version is kept
    v2 = ring.get("pseudonymisation", 2)
    store = hub.store()
    for path, old in flow.tokens_before.items():
        new = _tokens(store, path)
        assert new.schema.metadata[KEY_VERSION_META] == b"2"
        assert token_file_version(store, path) == 2
        assert new.column("record").equals(old.column("record"))
        for name in old.column_names:
            if name == "record":
                continue
            domain = new.schema.field(name).metadata[DOMAIN_META].decode()
            assert old.schema.field(name).metadata[DOMAIN_META].decode() == domain
            assert new.column(name).combine_chunks().equals(rekey(old.column(name), v2, domain))
            before, after = old.column(name).to_pylist(), new.column(name).to_pylist()
            assert [b is None for b in before] == [a is None for a in after]
            assert not {b for b in before if b} & {a for a in after if a}
    assert not list(hub.settings.zone("linkage").rglob(".*"))  # no temporary file left
    # The name encodings: their token column re-keyed like the tokens, their filters (under the
    # encoding key, which this rotation leaves alone) kept, so fuzzy matches survive rotation.
    assert sum(t.num_rows for t in flow.encodings_before.values()) > 1000
    for path, old in flow.encodings_before.items():
        new = store.read_parquet(path)
        assert new.schema.metadata[KEY_VERSION_META] == b"2"
        assert new.schema.metadata[ENCODING_KEY_META] == b"1"
        domains = {
            name: field.metadata[DOMAIN_META].decode()
            for name in ("tok_forename", "tok_surname")
            if (field := flow.tokens_before[_beside(path, "tokens.parquet")].schema.field(name))
        }
        expected = {
            (kind, _rekey_one(token, v2, domains[f"tok_{kind}"])): bits
            for (kind, token), bits in _encoding_map(old).items()
        }
        assert _encoding_map(new) == expected


def _beside(path: str, name: str) -> str:
    """The file ``name`` in the folder of ``path`` (paths in a zone)."""
    return str(PurePosixPath(path).with_name(name))


def test_person_clusters_are_identical_after_rotation(flow: Flow) -> None:
    hub = flow.hub
    assert sum(len(c) > 1 for c in flow.before) > 100  # the partition is worth comparing
    after = partition_of(hub.store(), list(flow.tokens_before))
    assert after == flow.before
    # The published picture: the same people, each with the same events, under new person keys.
    a, b = flow.release_before, flow.release_after
    assert a.release_id != b.release_id
    assert (b.people, b.events) == (a.people, a.events)
    assert b.people_in_two_or_more_sources == a.people_in_two_or_more_sources
    assert release_people(b) == release_people(a)
    assert not person_keys(a) & person_keys(b)
    assert a.manifest["key_versions"] == {"pseudonymisation": 1, "release": 1}
    assert b.manifest["key_versions"] == {"pseudonymisation": 2, "release": 1}
    assert {i["token_key_version"] for i in b.manifest["inputs"]} == {2}  # type: ignore[union-attr]
    entries = [e for e in audit.entries(hub.engine) if e.subject == "keys:pseudonymisation"]
    assert [(e.action, e.detail) for e in reversed(entries)] == [
        ("keys.added", {"version": 2, "files_to_rekey": 5}),
        ("keys.rotated", {"version": 2, "files": 5, "skipped": 0, "resumed": False}),
    ]
    assert audit.verify(hub.engine).ok


def test_mixing_key_versions_would_break_linkage(flow: Flow, tmp_path: Path) -> None:
    """The control that gives the comparison teeth: one file left at v1 among v2 files detaches
    its records from everyone else (which is why publication refuses a mix)."""
    paths = sorted(flow.tokens_before)
    store, other = flow.hub.store(), zone_store(make_settings(tmp_path), "linkage")
    other.write_parquet(paths[0], flow.tokens_before[paths[0]])  # left at v1
    for path in paths[1:]:
        other.write_parquet(path, store.read_parquet(path))
    assert partition_of(other, paths) != flow.before
    assert partition_of(other, paths[1:]) == partition_of(store, paths[1:])  # only that file


def test_an_extract_staged_after_rotation_links_to_the_same_people(flow: Flow) -> None:
    hub = flow.hub
    store = hub.store()
    new_path = f"ed-assaults/{flow.new_extract}/tokens.parquet"
    (old_path,) = [p for p in flow.tokens_before if p.startswith("ed-assaults/")]
    assert token_file_version(store, new_path) == 2
    # Hashed from raw values with the whole chain v1 -> v2, its tokens equal the re-keyed ones.
    new, old = _tokens(store, new_path), _tokens(store, old_path).slice(0, NEW_ROWS)
    assert new.num_rows == NEW_ROWS
    for name in new.column_names:
        assert new.column(name).combine_chunks().equals(old.column(name).combine_chunks()), name
    # Linked with everything else: the old records keep their clusters, and each new record
    # joins the cluster of the record it repeats.
    with_new = partition_of(store, [*flow.tokens_before, new_path])
    cluster_of = {r: c for c in with_new for r in c}
    old_only = frozenset(frozenset(r for r in c if r[1] != flow.new_extract) for c in with_new) - {
        frozenset()
    }
    assert old_only == flow.before
    for record in range(1, NEW_ROWS + 1):
        again = ("ed-assaults", flow.new_extract, record)
        original = ("ed-assaults", old_path.split("/")[1], record)
        assert cluster_of[again] is cluster_of[original]
    known_to_others = [
        record
        for record in range(1, NEW_ROWS + 1)
        if any(r[0] != "ed-assaults" for r in cluster_of[("ed-assaults", flow.new_extract, record)])
    ]
    assert len(known_to_others) > 10  # new records link across partners, not only to themselves
    c = flow.release_with_new
    assert c.people == flow.release_after.people
    assert c.events == flow.release_after.events + NEW_ROWS


def test_no_key_leaks_through_rotation(flow: Flow) -> None:
    settings = flow.hub.settings
    material = load_key_material(settings)
    assert "pseudonymisation/v2 subkey nhs_number" in material.names
    assert f"release:{flow.release_with_new.release_id}/v1 key" in material.names
    roots = [flow.hub.base, master_key_path(settings).parent]
    logged = (settings.log_dir / "hub.log").read_text()
    assert sum(logged.count(f"re-keyed {p} to") for p in flow.tokens_before) == 5  # logs written
    assert scan_for_keys(roots, material, exclude=[master_key_path(settings)]) == []


# --- crashes, stale files and missing keys ------------------------------------------------------


def _no_temporary_file_left(hub: Hub) -> None:
    assert not list(hub.settings.zone("linkage").rglob(".*"))
    assert not [p for p in hub.settings.work_dir.rglob("*") if p.is_file()]


def test_an_interrupted_rotation_is_refused_by_publication_and_finished_by_running_again(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = hub.partition()
    monkeypatch.setattr(rotation, "rekey_token_file", crash_after(2, rotation.rekey_token_file))
    with pytest.raises(Crash):
        hub.rotate()
    monkeypatch.undo()
    assert hub.keyring().versions("pseudonymisation") == [1, 2]
    assert hub.versions() == Counter({2: 2, 1: 3})
    with pytest.raises(KeyringError, match="different key versions") as refused:
        hub.publish()
    assert "hub keys rotate" in (refused.value.hint or "")
    _no_key_in("".join(traceback.format_exception(refused.value)), hub)

    again = hub.rotate()
    assert (again.version, again.resumed, again.rekeyed, again.skipped) == (2, True, 3, 2)
    assert hub.keyring().versions("pseudonymisation") == [1, 2]  # finished, no third version
    assert set(hub.versions()) == {2}
    _no_temporary_file_left(hub)
    assert hub.partition() == before
    assert hub.publish().manifest["key_versions"] == {"pseudonymisation": 2, "release": 1}
    assert hub.rotate().version == 3  # and the next run rotates again


def test_a_crash_between_the_encodings_and_the_tokens_rekeys_each_once(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = hub.store()
    encodings = [encodings_path(p) for p in token_files(store)]
    before = {p: store.read_parquet(p) for p in encodings}
    real = bloom.rekey_encodings

    def rekey_then_crash(
        store: ZoneStore, path: str, key: DataKey, domains: dict[str, str]
    ) -> None:
        real(store, path, key, domains)
        raise Crash  # the encodings are at v2, their tokens file still at v1

    monkeypatch.setattr(rotation, "rekey_encodings", rekey_then_crash)
    with pytest.raises(Crash):
        hub.rotate()
    monkeypatch.undo()
    assert hub.versions()[1] == 5
    assert hub.rotate().rekeyed == 5
    v2 = hub.keyring().get("pseudonymisation", 2)
    for path, old in before.items():
        tokens = store.read_parquet(_beside(path, "tokens.parquet"))
        domain = tokens.schema.field("tok_surname").metadata[DOMAIN_META].decode()
        surnames = old.filter(pa.compute.equal(old.column("kind"), "surname"))
        once = set(rekey(surnames.column("token"), v2, domain).to_pylist())
        new = store.read_parquet(path)
        assert (
            set(
                new.filter(pa.compute.equal(new.column("kind"), "surname"))
                .column("token")
                .to_pylist()
            )
            == once
        )
        assert once <= set(tokens.column("tok_surname").to_pylist())  # they still join


def test_a_tokens_file_at_an_unexpected_version_is_named(hub: Hub, template: Path) -> None:
    hub.rotate()
    hub.rotate()
    restored = token_files(hub.store())[1]
    local = hub.settings.zone("linkage") / restored
    shutil.copyfile(template / local.relative_to(hub.base), local)  # an old backup, at v1
    keyring_before = (hub.settings.key_dir / "keyring.json").read_bytes()
    with pytest.raises(KeyringError, match="expects version 2 or 3") as raised:
        hub.rotate()
    assert restored in raised.value.message and "version 1" in raised.value.message
    assert (hub.settings.key_dir / "keyring.json").read_bytes() == keyring_before  # no new key
    with pytest.raises(KeyringError, match="different key versions") as refused:
        hub.publish()
    assert restored in refused.value.message
    for exc in (raised.value, refused.value):
        _no_key_in("".join(traceback.format_exception(exc)), hub)


def test_a_keyring_missing_a_version_used_by_tokens_files_is_a_clear_error(hub: Hub) -> None:
    keyring_file = hub.settings.key_dir / "keyring.json"
    old_keyring = keyring_file.read_bytes()
    hub.rotate()
    keyring_file.write_bytes(old_keyring)  # the keyring restored from a backup before rotation
    first = token_files(hub.store())[0]
    with pytest.raises(KeyringError, match="which the keyring lacks") as raised:
        hub.rotate()
    assert first in raised.value.message and "version 2" in raised.value.message
    assert "restore keys/keyring.json" in (raised.value.hint or "")
    assert keyring_file.read_bytes() == old_keyring  # never new keys
    with pytest.raises(KeyringError, match="which the keyring lacks"):
        hub.publish()
    _no_key_in("".join(traceback.format_exception(raised.value)), hub)


def test_landing_and_release_keys_rotate_for_new_data_only(hub: Hub) -> None:
    landing, release = hub.rotate("landing"), hub.rotate("release")
    assert (landing.version, landing.rekeyed, release.version) == (2, 0, 2)
    assert set(hub.versions()) == {1}
    ring = hub.keyring()
    assert ring.versions("landing") == [1, 2] and ring.versions("release") == [1, 2]
    published = hub.publish()
    assert published.manifest["key_versions"] == {"pseudonymisation": 1, "release": 2}
    # Sealed files from before the rotation still open (their key version is kept).
    from hub.privacy.sealed import open_unsealed

    for sealed in hub.settings.zone("landing").rglob("*.sealed"):
        assert open_unsealed(sealed, ring).read(4)


def test_rotating_the_encoding_key_drops_the_old_encodings_and_keeps_tokens(hub: Hub) -> None:
    store = hub.store()
    files = token_files(store)
    tokens = {p: store.read_bytes(p) for p in files}
    result = hub.rotate("encoding")
    assert (result.purpose, result.version, result.encodings_dropped) == ("encoding", 2, 5)
    assert not [p for p in store.list() if p.endswith(f"/{ENCODINGS_FILE}")]
    assert {p: store.read_bytes(p) for p in files} == tokens  # tokens untouched
    # links already made are kept (the linkage state holds them by record, not by encoding)
    current = current_release(hub.settings)
    assert current is not None
    assert release_people(hub.publish()) == release_people(load_release(hub.settings, current))
    new_extract = receive_and_stage(
        hub.settings,
        hub.engine,
        hub.keyring(),
        hub.agreements["ed-assaults"],
        hub.base / "ed-resent.csv",
    )
    metadata = store.read_schema(f"ed-assaults/{new_extract}/{ENCODINGS_FILE}").metadata
    assert (metadata[ENCODING_KEY_META], metadata[KEY_VERSION_META]) == (b"2", b"1")
    entries = [e for e in audit.entries(hub.engine) if e.subject == "keys:encoding"]
    assert entries[0].detail["encodings_dropped"] == 5


# --- the command line ----------------------------------------------------------------------------


def test_hub_keys_rotate_and_status(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.cli.app import app

    for name, value in {
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(hub.settings.data_dir),
        "HUB_KEY_DIR": str(hub.settings.key_dir),
        "HUB_MASTER_KEY_FILE": str(hub.settings.master_key_file),
        "HUB_CONTRACTS_DIR": str(hub.settings.contracts_dir),
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    started = time.perf_counter()
    result = runner.invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "pseudonymisation key rotated to version 2" in result.stdout
    assert "tokens files re-keyed: 5" in result.stdout
    assert time.perf_counter() - started < 60
    result = runner.invoke(app, ["keys", "rotate", "--purpose", "landing"])
    assert result.exit_code == 0 and "landing key rotated to version 2" in result.stdout
    status = runner.invoke(app, ["keys", "status"])
    assert status.exit_code == 0, status.output
    assert "pseudonymisation/v2" in status.stdout and "(current)" in status.stdout
    assert "tokens files at pseudonymisation/v2: 5" in status.stdout
    bad = runner.invoke(app, ["keys", "rotate", "--purpose", "everything"])
    assert bad.exit_code == 2
    _no_key_in(status.stdout + result.stdout, hub)
    rotated = [e for e in audit.entries(hub.engine) if e.action == "keys.rotated"]
    assert {e.subject for e in rotated} == {"keys:pseudonymisation", "keys:landing"}
    assert all(e.actor.startswith("cli:") for e in rotated)
