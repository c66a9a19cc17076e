"""The whole slice on the embedded default: synthetic partnership -> encrypted landing -> real
Airflow DAGs (dag.test) -> staged Parquet -> linked release; then the privacy canary."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from hub.cli.demo import DemoResult, run_demo
from hub.pipeline.airflow_env import airflow_environment
from hub.pipeline.tasks import run_stage
from hub.privacy.keys import PURPOSES, open_keyring
from hub.settings import Settings
from tests.privacy_canary import (
    key_needles,
    load_identifiers,
    load_key_material,
    master_key_path,
    scan,
    scan_for_keys,
)

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
ROWS = 3000


@pytest.fixture(scope="module")
def demo(
    airflow_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, DemoResult]:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path_factory.mktemp("slice"))
    saved = {k: os.environ.get(k) for k in airflow_environment(settings)}
    console = Console(file=io.StringIO(), width=120)
    try:
        result = run_demo(settings, rows=ROWS, console=console)
        (settings.log_dir / "console.txt").write_text(console.file.getvalue())  # type: ignore[attr-defined]
        yield settings, result
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_release_is_published_with_a_manifest_naming_its_inputs(
    demo: tuple[Settings, DemoResult],
) -> None:
    settings, result = demo
    release = result.release
    assert (settings.zone("published") / "CURRENT").read_text().strip() == release.release_id
    manifest = json.loads((release.path / "manifest.json").read_text())
    agreements = {i["agreement_id"] for i in manifest["inputs"]}
    assert agreements == {
        "police-sv",
        "ed-assaults",
        "ambulance-assaults",
        "youth-justice",
        "schools",
    }
    for item in manifest["inputs"]:
        assert len(item["sha256"]) == 64 and item["rows"] > 0 and item["agreement_version"] >= 1
    assert manifest["code_version"] and manifest["key_versions"]["pseudonymisation"] == 1
    events = pq.read_table(release.path / "event.parquet")
    people = pq.read_table(release.path / "person.parquet")
    assert events.num_rows == sum(result.rows.values()) == manifest["tables"]["event"]["rows"]
    assert people.num_rows == release.people < events.num_rows
    assert release.people_in_two_or_more_sources > 0
    assert not list(settings.data_dir.rglob(".tmp-*"))


def test_release_has_no_tokens_or_identifier_columns(demo: tuple[Settings, DemoResult]) -> None:
    _, result = demo
    for name in ("event.parquet", "person.parquet", "place.parquet", "measures.parquet"):
        schema = pq.read_schema(result.release.path / name)
        assert not [f for f in schema.names if f.startswith(("tok_", "bf_"))]
        assert not [f for f in schema if pa.types.is_fixed_size_binary(f.type)]  # no token
        assert not {"nhs_number", "forename", "surname", "date_of_birth", "postcode", "upn"} & set(
            schema.names
        )


def test_no_token_or_encoding_value_is_in_the_release(demo: tuple[Settings, DemoResult]) -> None:
    """Beyond the column names: no cell of any release table equals a linkage token or a name
    encoding, as bytes or as hex (Parquet is compressed, so the cells are read, not the bytes)."""
    settings, result = demo
    secret: set[bytes] = set()
    linkage = settings.zone("linkage")
    for path in linkage.glob("*/*/tokens.parquet"):
        table = pq.read_table(path)
        for name in table.column_names:
            if name.startswith("tok_"):
                secret |= {v for v in table.column(name).to_pylist() if v}
    for path in linkage.glob("*/*/encodings.parquet"):
        secret |= set(pq.read_table(path, columns=["encoding"]).column(0).to_pylist())
    assert len(secret) > 10_000
    secret |= {v.hex().encode() for v in list(secret)}
    cells: set[bytes] = set()
    for path in result.release.path.rglob("*.parquet"):
        table = pq.read_table(path)
        for column in table.columns:
            for value in column.to_pylist():
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str | bytes):
                        cells.add(item.encode() if isinstance(item, str) else item)
    assert len(cells) > 1_000 and not cells & secret


def test_privacy_canary_finds_no_identifier(demo: tuple[Settings, DemoResult]) -> None:
    settings, _ = demo
    keyring = open_keyring(settings)
    secrets = [keyring.current(p).secret for p in PURPOSES]
    ids = load_identifiers(
        settings.data_dir / "partners" / "ground_truth" / "people.parquet", secrets
    )
    zones = [settings.zone(z) for z in ("staging", "linkage", "published")]
    quality = settings.data_dir / "quality"  # GX Data Docs of every extract, the bad one's too
    assert list(quality.rglob("index.html"))
    others = [
        quality,
        settings.log_dir,
        settings.airflow_dir,
        settings.data_dir / "hub.db",
        settings.key_dir,
    ]
    assert scan(zones + [p for p in others if p.exists()], ids) == []


def test_the_canary_can_fail(demo: tuple[Settings, DemoResult], tmp_path: Path) -> None:
    settings, _ = demo
    people = pq.read_table(settings.data_dir / "partners" / "ground_truth" / "people.parquet")
    leak = tmp_path / "leak.log"
    leak.write_text(f"processing row for {people.column('nhs_number').drop_null()[0]}\n")
    ids = load_identifiers(settings.data_dir / "partners" / "ground_truth" / "people.parquet")
    assert scan([leak], ids) == [f"{leak}: identifier text"]


def _key_scan_roots(settings: Settings, airflow_home: Path) -> list[Path]:
    """Everything the slice wrote: the data directory (zones, metadata DB, logs, the demo's Airflow
    folder), the key folder, the master key's folder and the session's Airflow home."""
    roots = [
        settings.data_dir,
        settings.key_dir,
        master_key_path(settings).parent,
        settings.log_dir,
        settings.airflow_dir,
        settings.data_dir / "hub.db",
        airflow_home,
    ]
    return [r for r in roots if r.exists()]


def test_key_canary_finds_no_key_material(
    demo: tuple[Settings, DemoResult], airflow_home: Path
) -> None:
    settings, _ = demo
    material = load_key_material(settings)
    assert "master key" in material.names and "data key pseudonymisation/v1" in material.names
    assert any(" subkey nhs_number" in n for n in material.names)
    assert any(n.startswith("release:rel-") for n in material.names)
    roots = _key_scan_roots(settings, airflow_home)
    assert settings.data_dir / "hub.db" in roots and (settings.key_dir / "keyring.json").exists()
    assert scan_for_keys(roots, material, exclude=[master_key_path(settings)]) == []


def test_the_key_canary_can_fail(demo: tuple[Settings, DemoResult], tmp_path: Path) -> None:
    import base64

    import pyarrow as pa

    settings, _ = demo
    material = load_key_material(settings)
    keyring = open_keyring(settings)
    landing = keyring.current("landing").secret
    master = base64.b64decode(master_key_path(settings).read_text().strip())
    from hub.privacy.tokens import domain_subkey

    subkey = domain_subkey(keyring.current("pseudonymisation"), "nhs_number")
    release = keyring.current("release").secret
    (tmp_path / "hub.log").write_text(f"INFO rekeying with {subkey.hex().upper()}\n")
    (tmp_path / "manifest.json").write_text(json.dumps({"k": base64.b64encode(master).decode()}))
    (tmp_path / "blob.bin").write_bytes(b"\x00header" + landing + b"trailer")
    (tmp_path / "wrapped.txt").write_text(base64.urlsafe_b64encode(b"ab" + release).decode())
    pq.write_table(
        pa.table({"x": [1]}).replace_schema_metadata({"k": landing.hex()}),
        tmp_path / "meta.parquet",
    )
    pq.write_table(
        pa.table({"note": [f"key={base64.b64encode(release).decode()}"] * 50}),
        tmp_path / "cell.parquet",
        compression="zstd",
    )
    (tmp_path / "repr.log").write_text(f"DataKey secret={subkey!r}\n")
    found = scan_for_keys([tmp_path], material)
    assert found == [
        f"{tmp_path / 'blob.bin'}: data key landing/v1 as raw bytes",
        f"{tmp_path / 'cell.parquet'}: data key release/v1 as base64",
        f"{tmp_path / 'hub.log'}: pseudonymisation/v1 subkey nhs_number as hex",
        f"{tmp_path / 'manifest.json'}: master key as base64",
        f"{tmp_path / 'meta.parquet'}: data key landing/v1 as hex",
        f"{tmp_path / 'repr.log'}: pseudonymisation/v1 subkey nhs_number as bytes repr",
        f"{tmp_path / 'wrapped.txt'}: data key release/v1 as base64",
    ]
    for finding in found:  # findings name the key, never show it
        for needle in key_needles("x", landing) + key_needles("x", release):
            assert needle.pattern.decode("latin-1") not in finding


def test_restaging_an_extract_is_byte_identical(demo: tuple[Settings, DemoResult]) -> None:
    settings, _ = demo
    manifest = json.loads((demo[1].release.path / "manifest.json").read_text())
    item = manifest["inputs"][0]
    staged = settings.zone("staging") / item["agreement_id"] / item["extract_id"] / "data.parquet"
    tokens = settings.zone("linkage") / item["agreement_id"] / item["extract_id"] / "tokens.parquet"
    before = staged.read_bytes(), tokens.read_bytes()
    run_stage(item["agreement_id"], item["extract_id"])
    assert (staged.read_bytes(), tokens.read_bytes()) == before


def test_the_deliberately_bad_extract_is_quarantined_with_a_readable_report(
    demo: tuple[Settings, DemoResult],
) -> None:
    settings, result = demo
    bad = result.quarantined
    assert bad["status"] == "quarantined"
    report = bad["report"]
    assert isinstance(report, dict)
    (critical,) = report["critical"]
    assert (critical["column"], critical["rule"], critical["count"]) == (
        "offence_date",
        "not_in_future",
        3,
    )
    assert critical["first_rows"] == [5, 17, 42]
    assert not (settings.zone("staging") / "police-sv" / str(bad["extract_id"])).exists()
    console = (settings.log_dir / "console.txt").read_text()
    assert "quarantined" in console and "offence_date: rule not_in_future" in console


def test_the_demo_reports_linkage_quality_against_the_ground_truth(
    demo: tuple[Settings, DemoResult],
) -> None:
    settings, result = demo
    quality = result.linkage
    assert quality.records == result.release.manifest["linkage"]["records"]  # type: ignore[index]
    # deterministic passes on the synthetic partnership at its default noise
    assert quality.precision >= 0.995 and quality.recall >= 0.95
    assert quality.split_people < 0.05 * quality.people
    shown = (settings.log_dir / "console.txt").read_text()
    assert f"precision {quality.precision:.4f}" in shown and f"recall {quality.recall:.4f}" in shown


def test_events_are_flagged_under_every_serious_violence_definition(
    demo: tuple[Settings, DemoResult],
) -> None:
    _, result = demo
    events = pq.read_table(result.release.path / "event.parquet")
    entry = result.release.manifest["serious_violence_definitions"]
    ids = [d["id"] for d in entry["definitions"]]  # type: ignore[index]
    assert ids == ["merseyside", "manchester", "cheshire", "lancashire"]
    assert len(entry["sha256"]) == 64  # type: ignore[index,arg-type]
    counts = {i: sum(events.column(f"sv_{i}").to_pylist()) for i in ids}
    # Cheshire's definition is the broadest (domestic abuse, stalking and harassment included)
    assert counts["cheshire"] > counts["merseyside"] > 0
    assert counts["cheshire"] > counts["manchester"] > 0
    harm = events.column("harm_lancashire").to_pylist()
    assert sum(h for h in harm if h) > 0


def test_probabilistic_linkage_joins_people_the_exact_passes_split(
    demo: tuple[Settings, DemoResult],
) -> None:
    """splink on keyed encodings only (token codes, keyed Bloom filters of names), trained
    without labels: it joins people the exact passes split and keeps precision (checked against
    the ground truth), and the manifest says how the release was linked."""
    settings, result = demo
    exact, linked = result.deterministic, result.linkage
    assert linked.precision >= 0.995 and linked.recall >= 0.98  # the targets
    assert linked.recall > exact.recall and linked.split_people < exact.split_people
    report = result.release.manifest["linkage"]
    assert isinstance(report, dict)
    assert report["passes"][:4] == ["nhs_number", "upn", "pnc_id", "local_person_id"]
    run = report["probabilistic"]
    for item in result.release.manifest["inputs"]:  # type: ignore[union-attr]
        quality = item["quality"]  # the quality results carried over, counts only
        assert set(quality) == {"findings", "completeness"} and quality["completeness"]
        assert all("first_rows" not in f and f["count"] > 0 for f in quality["findings"])
    assert run["run"] == "full relink" and run["reason"] == "first run"
    assert run["threshold"] == 0.97 and run["model"]["version"] == 1
    assert run["links_in_force"] > 0 and run["expected_false_links"] < run["links_in_force"]
    state = settings.zone("linkage") / "_state"
    model = json.loads((state / "models" / "model-0001.json").read_text())
    assert model["format"] == "svd-hub-linkage-model" and model["splink"]["comparisons"]
    links = pq.read_table(state / "links.parquet")
    assert links.num_rows == run["links_in_force"]
    assert min(links.column("match_probability").to_pylist()) >= 0.97
    assert all(w is not None for w in links.column("match_weight").to_pylist())


def test_the_place_table_is_disclosure_controlled(demo: tuple[Settings, DemoResult]) -> None:
    _, result = demo
    place = pq.read_table(result.release.path / "place.parquet")
    entry = result.release.manifest["tables"]["place"]  # type: ignore[index]
    assert entry["rows"] == place.num_rows > 0  # type: ignore[index]
    rule = entry["disclosure_control"]  # type: ignore[index]
    assert rule == {"suppress_at_or_below": 7, "round_to": 5}
    counts = [n for n in place.column_names if n not in ("area_code", "event_month")]
    assert {"events", "people", "sv_merseyside", "sv_cheshire"} <= set(counts)
    published = [v for n in counts for v in place.column(n).to_pylist() if v is not None]
    assert published and all(v > 7 and v % 5 == 0 for v in published)
    assert place.column("events").null_count > 0  # small cells exist and are suppressed


def test_measures_are_published_controlled_and_shown(demo: tuple[Settings, DemoResult]) -> None:
    settings, result = demo
    measures = pq.read_table(result.release.path / "measures.parquet")
    entry = result.release.manifest["tables"]["measures"]  # type: ignore[index]
    assert entry["rows"] == measures.num_rows > 0  # type: ignore[index]
    assert entry["area"] == "local authority"  # type: ignore[index]  # the reference names them
    names = set(measures.column("measure").to_pylist())
    assert {"ed_knife_assault", "police_knife_sv", "homicide", "victims"} <= names
    assert names <= set(entry["measures"])  # type: ignore[index,arg-type]
    values = [v for v in measures.column("value").to_pylist() if v is not None]
    assert values and all(v > 7 and v % 5 == 0 for v in values)
    shown = (settings.log_dir / "console.txt").read_text()
    assert "Home Office measures" in shown and "Homicides (victims)" in shown
