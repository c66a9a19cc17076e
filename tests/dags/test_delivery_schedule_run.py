"""A run of an agreement's DAG on its delivery schedule (real Airflow, ``dag.test()``): the period
that just ended is checked, a late feed is audited, and an extract whose trigger was missed is
staged; with nothing waiting, the run stages nothing and succeeds."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from croniter import croniter

from hub import audit
from hub.agreements import get_agreement
from hub.pipeline.airflow_env import airflow_environment
from hub.pipeline.dags import agreement_dag_id, build_agreement_dag
from hub.pipeline.landing import receive_extract
from hub.pipeline.process import process_extract
from hub.pipeline.tasks import MISSED_TRIGGER_AFTER, run_delivery_check, still_waiting
from hub.store import Extract, session_scope
from tests.api_hub import ApiHub, make_api_hub, write_postcode_lookup

pytestmark = pytest.mark.airflow
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extracts" / "police-sv-small.csv"


@pytest.fixture
def hub(airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHub]:
    hub = make_api_hub(tmp_path)
    write_postcode_lookup(hub.settings)
    for key, value in airflow_environment(hub.settings).items():
        if key.startswith("HUB_"):  # the tasks read the hub's settings from the environment
            monkeypatch.setenv(key, value)
    yield hub
    hub.engine.dispose()


def _due_times_after_now(schedule: str, count: int) -> datetime:
    """The ``count``-th due time from now (UTC)."""
    times = croniter(schedule, datetime.now(UTC))
    due = times.get_next(datetime)
    for _ in range(count - 1):
        due = times.get_next(datetime)
    return due


def test_a_schedule_run_audits_a_late_feed_and_stages_what_waits(hub: ApiHub) -> None:
    police = get_agreement(hub.settings.contracts_dir, "police-sv")
    record = receive_extract(
        hub.settings,
        hub.engine,
        hub.keyring,
        police,
        sender_org="merseyvale-police",
        source=io.BytesIO(FIXTURE.read_bytes()),
        source_name="missed-trigger.csv",
    )
    # today's extract counts for the period under way; three due times ahead, the period that
    # just ended has had none, and it is past its lateness: the feed is late
    due = _due_times_after_now(police.delivery.schedule, 3)
    run = build_agreement_dag(police).test(logical_date=due)
    assert str(run.state).endswith("success")
    with session_scope(hub.engine) as session:
        staged = session.get(Extract, record.id)
        assert staged is not None and staged.status == "staged"
    (late,) = [e for e in audit.entries(hub.engine) if e.action == "delivery.late"]
    assert late.subject == "agreement:police-sv"
    assert late.detail["state"] == "late"
    assert agreement_dag_id("police-sv") == run.dag_id


def test_a_schedule_run_with_nothing_waiting_stages_nothing(hub: ApiHub) -> None:
    police = get_agreement(hub.settings.contracts_dir, "police-sv")
    due = _due_times_after_now(police.delivery.schedule, 1)
    run = build_agreement_dag(police).test(logical_date=due)
    assert str(run.state).endswith("success")
    assert hub.extracts() == 0


def test_a_schedule_run_leaves_a_just_received_extract_to_its_landing_event(hub: ApiHub) -> None:
    """On two workers a scheduled run and the landing event's run would otherwise stage the same
    extract at once; the scheduled run takes only extracts whose trigger was missed, and the
    event's run only extracts still waiting."""
    police = get_agreement(hub.settings.contracts_dir, "police-sv")
    record = receive_extract(
        hub.settings,
        hub.engine,
        hub.keyring,
        police,
        sender_org="merseyvale-police",
        source=io.BytesIO(FIXTURE.read_bytes()),
        source_name="just-now.csv",
    )
    received = record.received_at.replace(tzinfo=UTC)
    assert run_delivery_check("police-sv", received + timedelta(minutes=1)) == []
    missed = received + MISSED_TRIGGER_AFTER + timedelta(seconds=1)
    assert run_delivery_check("police-sv", missed) == [record.id]

    assert still_waiting([record.id, "ext-unknown"]) == [record.id]
    process_extract(hub.settings, hub.engine, hub.keyring, police, record.id)
    assert still_waiting([record.id]) == []  # staged meanwhile by another run: not again
    assert run_delivery_check("police-sv", missed) == []
