"""The per-extract task killed between its steps (SIGKILL, no chance to clean up).

The task's function (``hub.pipeline.tasks.run_stage``, what the DAG's stage task calls) runs in a
child process that kills itself at one point of the pipeline: part-way through writing the
Parquet row groups, part-way through validating, between renaming the staged data and the tokens
into place, after both but before recording the extract staged, and after moving a failed
extract's sealed file into quarantine but before recording it. After each crash nothing
half-written is visible (the extract is not staged, no file at a final path is incomplete, no
plain text anywhere), and running the task again gives the same files, byte for byte, and the
same status and report as a run that never crashed.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.agreements.model import Agreement
from hub.pipeline import reading
from hub.pipeline.landing import receive_extract
from hub.pipeline.tasks import run_stage
from hub.privacy.keys import Keyring, init_keyring
from hub.settings import Settings
from hub.store import Extract, make_engine, session_scope, upgrade
from tests.api_hub import write_postcode_lookup
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "extracts"
SMALL_BATCHES = 16 << 10  # bytes of CSV per batch, so the extract spans many row groups
CANARY = b"Fixturewright"  # a surname in the fixture's rows: must never be on disk in clear

# The child: settings from the environment, one function wrapped to SIGKILL the process at the
# point named by HUB_TEST_CRASH_AT, then the task function itself.
CHILD = """
import os, signal, sys
from hub.pipeline import process, quarantine, reading, stage, tasks
from hub.quality import validate

reading.BATCH_BYTES = int(os.environ["HUB_TEST_BATCH_BYTES"])
process.BATCH_ROWS = 500  # rows GX validates at once: several batches, so one is mid-stream
point, calls = os.environ["HUB_TEST_CRASH_AT"], {"n": 0}

def crash_on(owner, name, nth, after=False):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == nth and not after:
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if calls["n"] == nth and after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, wrapper)

if point == "writing":
    crash_on(stage._AtomicParquet, "write", 7)
elif point == "validating":
    crash_on(validate.Validation, "_validate_pending", 2)
elif point == "between-renames":
    crash_on(stage._AtomicParquet, "commit", 1, after=True)
elif point == "before-staged":
    crash_on(process, "mark_staged", 1)
elif point == "quarantining":
    crash_on(quarantine, "_move", 1, after=True)
tasks.run_stage(sys.argv[1], sys.argv[2])
"""


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    keyring: Keyring
    police: Agreement

    def receive(self, body: bytes) -> str:
        return receive_extract(
            self.settings, self.engine, self.keyring, self.police,
            sender_org=self.police.provider, source=io.BytesIO(body), source_name="police.csv",
        ).id  # fmt: skip

    def record(self, extract_id: str) -> Extract:
        with session_scope(self.engine) as session:
            record = session.get(Extract, extract_id)
            assert record is not None
            session.expunge(record)
            return record

    def outputs(self, extract_id: str) -> list[Path]:
        return [
            self.settings.zone("staging") / "police-sv" / extract_id / "data.parquet",
            self.settings.zone("linkage") / "police-sv" / extract_id / "tokens.parquet",
        ]

    def crash(self, point: str, extract_id: str) -> None:
        env = {
            **os.environ,
            "HUB_ENV": self.settings.env,
            "HUB_DATA_DIR": str(self.settings.data_dir),
            "HUB_KEY_DIR": str(self.settings.key_dir),
            "HUB_MASTER_KEY_FILE": str(self.settings.master_key_file),
            "HUB_CONTRACTS_DIR": str(self.settings.contracts_dir),
            "HUB_PIPELINE_TRIGGER": "none",
            "HUB_TEST_CRASH_AT": point,
            "HUB_TEST_BATCH_BYTES": str(SMALL_BATCHES),
        }
        child = subprocess.run(
            [sys.executable, "-c", CHILD, "police-sv", extract_id],
            env=env,
            capture_output=True,
            check=False,
            timeout=300,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    settings = make_settings(tmp_path)
    settings.ensure_dirs()
    write_postcode_lookup(settings)
    for name, value in {
        "HUB_ENV": settings.env,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_KEY_DIR": str(settings.key_dir),
        "HUB_MASTER_KEY_FILE": str(settings.master_key_file),
        "HUB_CONTRACTS_DIR": str(settings.contracts_dir),
        "HUB_PIPELINE_TRIGGER": "none",
    }.items():
        monkeypatch.setenv(name, value)  # run_stage reads its settings from the environment
    monkeypatch.setattr(reading, "BATCH_BYTES", SMALL_BATCHES)  # as in the child
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    police = get_agreement(settings.contracts_dir, "police-sv")
    approve_for_development(settings, engine, [police])
    yield Hub(settings, engine, init_keyring(settings), police)
    engine.dispose()


def _extract(bad: bool = False) -> bytes:
    """The small police fixture repeated to about 2,000 rows (many batches); ``bad`` puts an
    offence date in 2099 (critical: not_in_future) in its last row."""
    header, *rows = [r for r in (FIXTURES / "police-sv-small.csv").read_bytes().split(b"\n") if r]
    body = [header, *(rows * (2000 // len(rows) + 1))]
    if bad:
        body[-1] = body[-1].replace(b",2026-01-", b",2099-01-", 1)  # the offence date
        assert b",2099-01-" in body[-1]
    return b"\n".join(body) + b"\n"


def _digests(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def _nothing_half_written_is_visible(hub: Hub, extract_id: str) -> None:
    assert hub.record(extract_id).status == "processing"  # neither staged nor quarantined
    for path in hub.outputs(extract_id):
        if path.exists():  # renamed into place only once complete: its footer and rows read
            assert pq.read_table(path).num_rows > 1000
    for zone in ("staging", "linkage", "landing", "quarantine"):
        for path in hub.settings.zone(zone).rglob("*"):
            if path.is_file():
                assert CANARY not in path.read_bytes(), path


@pytest.mark.parametrize("point", ["writing", "validating", "between-renames", "before-staged"])
def test_a_task_killed_between_steps_leaves_nothing_half_written_and_reruns_the_same(
    hub: Hub, point: str
) -> None:
    extract_id = hub.receive(_extract())
    hub.crash(point, extract_id)
    _nothing_half_written_is_visible(hub, extract_id)

    assert run_stage("police-sv", extract_id)["status"] == "staged"  # the DAG's retry
    record = hub.record(extract_id)
    assert record.status == "staged" and record.rows and record.rows > 1000
    after_crash, report = _digests(hub.outputs(extract_id)), record.report
    assert run_stage("police-sv", extract_id)["status"] == "staged"  # and once more
    assert _digests(hub.outputs(extract_id)) == after_crash
    assert hub.record(extract_id).report == report
    leftovers = [p for z in ("staging", "linkage") for p in hub.settings.zone(z).rglob(".*")]
    assert leftovers == []


def test_a_task_killed_while_quarantining_quarantines_when_run_again(hub: Hub) -> None:
    extract_id = hub.receive(_extract(bad=True))
    hub.crash("quarantining", extract_id)  # the sealed file moved, the move not recorded
    record = hub.record(extract_id)
    assert record.status == "processing" and (record.landing_path or "").startswith("landing/")
    assert list(hub.settings.zone("quarantine").rglob("*.sealed"))
    _nothing_half_written_is_visible(hub, extract_id)

    assert run_stage("police-sv", extract_id)["status"] == "quarantined"
    record = hub.record(extract_id)
    assert record.status == "quarantined"
    assert (record.landing_path or "").startswith("quarantine/police-sv/")
    assert (hub.settings.data_dir / (record.landing_path or "")).is_file()
    assert not any(p.exists() for p in hub.outputs(extract_id))
    critical: list[dict[str, object]] = (record.report or {})["critical"]  # type: ignore[assignment]
    assert [(c["column"], c["rule"]) for c in critical] == [("offence_date", "not_in_future")]
