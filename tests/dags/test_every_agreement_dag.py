"""Every generated agreement DAG, run by real Airflow (``dag.test()``) on synthetic extracts.

For each agreement in ``contracts/``: its own synthetic feed is staged (good); the same feed with
every required field blank in two rows is quarantined when one of those fields is critical, and
otherwise staged with the blanks reported as warnings (bad); and a run on the delivery schedule
with the period just ended empty audits the feed as late (late).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from croniter import croniter
from sqlalchemy import Engine

from hub import audit
from hub.agreements import Agreement, load_agreements
from hub.agreements.development import approve_for_development
from hub.agreements.model import Severity
from hub.pipeline.airflow_env import airflow_environment
from hub.pipeline.dags import build_agreement_dag
from hub.pipeline.landing import receive_extract
from hub.privacy.keys import Keyring, init_keyring
from hub.settings import Settings
from hub.store import Extract, make_engine, session_scope, upgrade
from hub.synth import generate_partnership
from tests.conftest import CONTRACTS, make_settings

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
AGREEMENTS = load_agreements(CONTRACTS)
SPOILT_ROWS = (2, 5)  # record numbers (1 = the first data row)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    summary = generate_partnership(tmp_path_factory.mktemp("partners"), rows=3000)
    return dict(summary.files)


@pytest.fixture
def hub(
    airflow_home: Path, tmp_path: Path, feeds: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, Engine, Keyring]]:
    settings = make_settings(tmp_path)
    settings.ensure_dirs()
    settings.reference_dir.mkdir(parents=True)
    shutil.copyfile(feeds["reference"], settings.reference_dir / "postcode_lsoa.csv")
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    approve_for_development(settings, engine, list(AGREEMENTS.values()))
    for key, value in airflow_environment(settings).items():
        if key.startswith("HUB_"):  # the tasks read the hub's settings from the environment
            monkeypatch.setenv(key, value)
    yield settings, engine, init_keyring(settings)
    engine.dispose()


def _spoilt(agreement: Agreement, path: Path, out: Path) -> Path:
    """The feed with every required field blank (null) in the SPOILT_ROWS rows."""
    parquet = agreement.delivery.format == "parquet"
    if parquet:
        table = pq.read_table(path)
    else:
        names = pacsv.read_csv(path).column_names
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
    for spec in agreement.fields:
        if not spec.required:
            continue
        index = table.column_names.index(spec.source_column)
        values = table.column(index).to_pylist()
        for record in SPOILT_ROWS:
            values[record - 1] = None if parquet else ""
        table = table.set_column(
            index, table.field(index), pa.array(values, table.column(index).type)
        )
    target = out / path.name
    if parquet:
        pq.write_table(table, target)
    else:
        pacsv.write_csv(table, target)
    return target


def _receive(hub: tuple[Settings, Engine, Keyring], agreement: Agreement, path: Path) -> str:
    settings, engine, keyring = hub
    with path.open("rb") as source:
        return receive_extract(
            settings, engine, keyring, agreement, sender_org=agreement.provider,
            source=source, source_name=path.name,
        ).id  # fmt: skip


def _record(engine: Engine, extract_id: str) -> Extract:
    with session_scope(engine) as session:
        record = session.get(Extract, extract_id)
        assert record is not None
        session.expunge(record)
        return record


def _third_due_time(agreement: Agreement) -> datetime:
    """Three due times from now: the period that just ended then had no extract, and its
    lateness is over (today's extracts count for the period under way)."""
    times = croniter(agreement.delivery.schedule, datetime.now(UTC))
    for _ in range(2):
        times.get_next(datetime)
    due: datetime = times.get_next(datetime)
    return due


@pytest.mark.parametrize("agreement_id", sorted(AGREEMENTS))
def test_the_agreement_dag_stages_good_handles_bad_and_flags_late(
    agreement_id: str,
    hub: tuple[Settings, Engine, Keyring],
    feeds: dict[str, Path],
    tmp_path: Path,
) -> None:
    settings, engine, _ = hub
    agreement = AGREEMENTS[agreement_id]
    dag = build_agreement_dag(agreement)

    good = _receive(hub, agreement, feeds[agreement_id])
    assert str(dag.test(run_conf={"extract_id": good}).state).endswith("success")
    record = _record(engine, good)
    assert record.status == "staged" and (record.rows or 0) >= max(SPOILT_ROWS)
    assert (settings.data_dir / str(record.staged_path) / "data.parquet").is_file()

    required = [f for f in agreement.fields if f.required]
    assert required, f"{agreement_id} has no required field to spoil"
    critical = any(
        f.quality is not None and f.quality.severity is Severity.CRITICAL for f in required
    )
    bad = _receive(hub, agreement, _spoilt(agreement, feeds[agreement_id], tmp_path))
    dag = build_agreement_dag(agreement)
    assert str(dag.test(run_conf={"extract_id": bad}).state).endswith("success")
    record = _record(engine, bad)
    report = record.report or {}
    blanks = {
        (f["column"], tuple(f["first_rows"][:2]))  # type: ignore[index]
        for f in report["findings"]  # type: ignore[union-attr]
        if f["rule"] == "required"  # type: ignore[index]
    }
    assert {(f.name, SPOILT_ROWS) for f in required} <= blanks
    if critical:
        assert record.status == "quarantined" and report["quarantined"] is True
        assert (record.landing_path or "").startswith(f"quarantine/{agreement_id}/")
    else:
        assert record.status == "staged" and report["critical"] == []

    # a DAG object of its own: dag.test(run_conf=...) leaves the conf in the object's params
    late = build_agreement_dag(agreement).test(logical_date=_third_due_time(agreement))
    assert str(late.state).endswith("success")
    flagged = [
        e
        for e in audit.entries(engine)
        if e.action == "delivery.late" and e.subject == f"agreement:{agreement_id}"
    ]
    assert len(flagged) == 1 and flagged[0].detail["state"] == "late"
