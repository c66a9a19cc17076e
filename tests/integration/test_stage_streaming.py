"""Staging's fast paths change no byte, and its threads leave nothing behind when a step fails.

A noisy synthetic police feed (noise x3: variant spellings, formats, blanks, bad check letters)
is staged in small batches so the file spans many of them. It is staged once as the hub does
(each batch's repeated values worked out once, reading, hashing and writing in threads) and once
with every column computed row by row: the staged data, the tokens and the quality report must
be identical. Then a failure in each thread (the reader, the tokens writer) must stop staging
with the same error, remove the temporary outputs and leave no thread running. Validating while
staging (each table as it is written) must find what validating the staged files finds, and a
critical failure must leave no output at all.
"""

from __future__ import annotations

import csv
import io
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from sqlalchemy import Engine

from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.agreements.model import Agreement
from hub.errors import ExtractRejectedError
from hub.pipeline import distinct, reading, stage
from hub.pipeline.landing import receive_extract
from hub.privacy.keys import Keyring, init_keyring
from hub.quality.suites import effective_suite, expectations_dir_for
from hub.quality.validate import Validation, validate_staged
from hub.settings import Settings
from hub.store import Extract, make_engine, session_scope, upgrade
from hub.synth import generate_partnership
from tests.conftest import make_settings

ON = date(2026, 6, 1)
SMALL_BATCHES = 64 << 10  # bytes of CSV per batch: about 250 rows, so the feed spans many


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    keyring: Keyring
    police: Agreement

    def receive(self, data: bytes) -> str:
        record = receive_extract(
            self.settings, self.engine, self.keyring, self.police,
            sender_org=self.police.provider, source=io.BytesIO(data), source_name="police.csv",
            today=ON,
        )  # fmt: skip
        return record.id

    def stage(self, extract_id: str, timings: dict[str, float] | None = None) -> stage.StageResult:
        return stage.stage_extract(
            self.settings, self.engine, self.keyring, self.police, extract_id,
            today=ON, timings=timings,
        )  # fmt: skip

    def status(self, extract_id: str) -> str:
        with session_scope(self.engine) as session:
            record = session.get(Extract, extract_id)
            assert record is not None
            return record.status

    def leftovers(self) -> list[Path]:
        zones = (self.settings.zone("staging"), self.settings.zone("linkage"))
        return sorted(p for zone in zones for p in zone.rglob(".*"))


# Values that break a rule, each put into every BAD_EVERY-th row (a different row per column).
SPOILT = {
    "person_urn": "",  # required
    "pnc_id": "1998/0123456A",  # wrong check letter
    "forename": "R2D2",  # digits
    "date_of_birth": "31/02/1990",  # no such day
    "sex": "Q",  # unknown code
    "home_postcode": "SW1A 1AI",  # invalid inward code
    "offence_time": "25:99",  # not a time
    "recorded_date": "2026-13-01",  # not a date
    "knife_flag": "maybe",  # not a flag
}
BAD_EVERY = 37


def _spoilt(csv: Path) -> bytes:
    """The feed with rule-breaking values spread over its rows (every batch gets some)."""
    table = pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(column_types={
        name: pa.string() for name in pacsv.read_csv(csv).column_names
    }))  # fmt: skip
    for offset, (name, bad) in enumerate(SPOILT.items()):
        rows = table.column(name).to_pylist()
        for i in range(offset, len(rows), BAD_EVERY):
            rows[i] = bad
        table = table.set_column(table.column_names.index(name), name, pa.array(rows, pa.string()))
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    base = tmp_path_factory.mktemp("partners")
    summary = generate_partnership(base, rows=4000, noise=3.0)
    return _spoilt(summary.files["police-sv"]), summary.files["reference"]


@pytest.fixture
def hub(tmp_path: Path, feed: tuple[bytes, Path]) -> Iterator[Hub]:
    settings = make_settings(tmp_path)
    settings.ensure_dirs()
    settings.reference_dir.mkdir(parents=True)
    shutil.copyfile(feed[1], settings.reference_dir / "postcode_lsoa.csv")
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    police = get_agreement(settings.contracts_dir, "police-sv")
    approve_for_development(settings, engine, [police])
    yield Hub(settings, engine, init_keyring(settings), police)
    engine.dispose()


def _hub_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("hub-")]


def test_distinct_values_once_and_row_by_row_stage_the_same_bytes(
    hub: Hub, feed: tuple[bytes, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "BATCH_BYTES", SMALL_BATCHES)
    extract_id = hub.receive(feed[0])
    timings: dict[str, float] = {}
    fast = hub.stage(extract_id, timings)
    outputs = fast.staged_path.read_bytes(), fast.tokens_path.read_bytes()
    assert fast.rows > 3000
    # one row group per batch read: the feed spans many, computed two at a time
    assert fast.staged_path.parquet_file().metadata.num_row_groups > 5
    rules = {(f["column"], f["rule"]) for f in fast.report["findings"]}
    assert {("pnc_id", "pnc_id:check_letter"), ("knife_flag", "type:flag"),
            ("date_of_birth", "date_of_birth:impossible_date")} <= rules  # fmt: skip
    assert len(rules) >= len(SPOILT)
    assert set(stage.STEPS) - {"validate"} <= set(timings) and timings["total"] > 0
    assert "validate" not in timings  # staged without a validation

    monkeypatch.setattr(distinct, "DENSE", -1.0)  # every column counts as dense: row by row
    slow = hub.stage(extract_id)
    assert (slow.staged_path.read_bytes(), slow.tokens_path.read_bytes()) == outputs
    assert slow.report == fast.report
    assert _hub_threads() == []


def test_a_bad_row_part_way_rejects_the_extract_and_leaves_nothing(
    hub: Hub, feed: tuple[bytes, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "BATCH_BYTES", SMALL_BATCHES)
    lines = feed[0].split(b"\n")
    lines[len(lines) // 2] += b',"one column too many"'
    extract_id = hub.receive(b"\n".join(lines))
    with pytest.raises(ExtractRejectedError, match="cannot be read"):
        hub.stage(extract_id)
    assert hub.status(extract_id) == "rejected"
    assert hub.leftovers() == []
    assert not (hub.settings.zone("staging") / "police-sv" / extract_id).exists()
    assert _hub_threads() == []


def test_a_failing_tokens_writer_stops_staging_and_leaves_nothing(
    hub: Hub, feed: tuple[bytes, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "BATCH_BYTES", SMALL_BATCHES)
    extract_id = hub.receive(feed[0])
    real = stage._AtomicParquet.write
    written: list[str] = []

    def write(self: stage._AtomicParquet, table: object) -> None:
        written.append(self.filename)
        if self.filename == "tokens.parquet" and written.count(self.filename) == 3:
            raise OSError("disk full")
        real(self, table)  # type: ignore[arg-type]

    monkeypatch.setattr(stage._AtomicParquet, "write", write)
    with pytest.raises(OSError, match="disk full"):
        hub.stage(extract_id)
    assert hub.status(extract_id) == "processing"  # not the partner's fault: not rejected
    assert hub.leftovers() == []
    assert _hub_threads() == []
    monkeypatch.setattr(stage._AtomicParquet, "write", real)
    assert hub.stage(extract_id).rows > 3000  # and it stages when tried again
    assert hub.status(extract_id) == "staged"


def _without_times(result: dict[str, object]) -> dict[str, object]:
    """A validation result without its run times (the only part that differs between runs)."""
    meta = dict(result["meta"])  # type: ignore[call-overload]
    meta.pop("run_id", None)
    meta.pop("validation_time", None)
    meta.pop("seconds", None)
    return {**result, "meta": meta}


def test_validating_while_staging_finds_what_validating_the_files_finds(
    hub: Hub, feed: tuple[bytes, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "BATCH_BYTES", SMALL_BATCHES)
    extract_id = hub.receive(feed[0])
    suite = effective_suite(hub.police, expectations_dir_for(hub.settings.contracts_dir))
    batch_rows = 700  # GX batches that straddle the staged tables

    def validation() -> Validation:
        return Validation(hub.police, suite, arrival_date=ON, batch_rows=batch_rows, run_name="x")

    timings: dict[str, float] = {}
    streamed = stage.stage_extract(
        hub.settings, hub.engine, hub.keyring, hub.police, extract_id,
        today=ON, validation=validation(), timings=timings,
    )  # fmt: skip
    assert streamed.kept and streamed.outcome is not None
    assert hub.status(extract_id) == "processing"  # the caller records staged or quarantined
    assert timings["validate"] > 0
    after = validate_staged(
        hub.police,
        streamed.staged_path.parquet_file().iter_batches(batch_size=333),
        suite,
        tokens=streamed.tokens_path.parquet_file().iter_batches(batch_size=333),
        arrival_date=ON,
        batch_rows=batch_rows,
        run_name="x",
    )
    assert streamed.outcome.findings == after.findings
    assert streamed.outcome.findings  # the spoilt values break rules of the suite
    assert streamed.outcome.rows == after.rows == streamed.rows
    for mine, theirs in zip(
        streamed.outcome.result["results"], after.result["results"], strict=True
    ):
        assert mine == theirs
    assert _without_times(streamed.outcome.result) == _without_times(after.result)
    footer = streamed.staged_path.parquet_file().metadata
    assert streamed.completeness["record"] == 1.0 and footer.num_rows == streamed.rows
    assert _hub_threads() == []


def test_a_critical_failure_while_staging_writes_nothing(
    hub: Hub, feed: tuple[bytes, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "BATCH_BYTES", SMALL_BATCHES)
    rows = list(csv.reader(io.StringIO(feed[0].decode())))
    # the last row, found only once everything was read: not_in_future is critical in police-sv
    rows[-1][rows[0].index("offence_date")] = "2099-01-01"
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    extract_id = hub.receive(text.getvalue().encode())
    suite = effective_suite(hub.police, expectations_dir_for(hub.settings.contracts_dir))
    result = stage.stage_extract(
        hub.settings, hub.engine, hub.keyring, hub.police, extract_id,
        today=ON, validation=Validation(hub.police, suite, arrival_date=ON),
    )  # fmt: skip
    assert not result.kept and result.outcome is not None and result.outcome.critical
    critical = [f for f in result.outcome.findings if f.severity.value == "critical"]
    assert [(f.column, f.rule, f.count) for f in critical] == [("offence_date", "not_in_future", 1)]
    assert critical[0].first_rows == (result.rows,)
    assert not (hub.settings.zone("staging") / "police-sv" / extract_id).exists()
    assert not (hub.settings.zone("linkage") / "police-sv" / extract_id).exists()
    assert hub.leftovers() == []
    assert hub.status(extract_id) == "processing"
    assert _hub_threads() == []
