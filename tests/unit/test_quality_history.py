"""An agreement's quality history: extracts grouped by delivery period (on time, after the due
time within the lateness, missing, still open), with pass rates and completeness, never values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.agreements import get_agreement
from hub.ingestion.history import chart, quality_history
from hub.store import Extract, make_engine, session_scope, upgrade
from tests.conftest import CONTRACTS

POLICE = get_agreement(CONTRACTS, "police-sv")  # due 05:00 on the 2nd, London; late after 48 h
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _extract(engine: Engine, n: int, at: datetime, rows: int, failing: int = 0) -> None:
    report = {
        "agreement": "police-sv",
        "rows": rows,
        "findings": [
            {"column": "sex", "rule": "allowed_values", "count": failing, "first_rows": [1]},
            {
                "column": "offence_date",
                "rule": "not_in_future",
                "severity": "critical",
                "count": 1,
                "first_rows": [2],
            },
        ],
        "completeness": {"sex": 0.98},
    }
    with session_scope(engine) as session:
        session.add(
            Extract(
                id=f"ext-{n:024d}",
                agreement_id="police-sv",
                agreement_version=1,
                sender_org="merseyvale-police",
                source_name="x.csv",
                file_format="csv",
                sha256="0" * 64,
                size_bytes=1,
                status="staged",
                received_at=at,
                updated_at=at,
                rows=rows,
                report=report,
            )
        )


def test_periods_are_on_time_after_due_missing_or_open(store: Engine) -> None:
    _extract(store, 1, datetime(2026, 11, 2, 4, 0, tzinfo=UTC), rows=100, failing=10)  # on time
    _extract(store, 2, datetime(2026, 10, 3, 10, 0, tzinfo=UTC), rows=50)  # 30 h after due
    history = quality_history(store, POLICE, NOW, periods=4)
    states = [(p.due_at.date().isoformat(), p.state) for p in history.periods]
    assert states == [
        ("2026-09-02", "missing"),
        ("2026-10-02", "after_due"),
        ("2026-11-02", "on_time"),
        ("2026-12-02", "open"),  # the next due time: nothing sent for it yet
    ]
    october, november = history.periods[1], history.periods[2]
    assert october.hours_late == pytest.approx(30.0)  # due 04:00 UTC (05:00 London, BST)
    assert november.rows == 100
    (extract,) = november.extracts
    assert extract.pass_rates == {"offence_date:not_in_future": 0.99, "sex:allowed_values": 0.9}
    assert (extract.findings, extract.critical) == (11, 1)
    assert extract.completeness == {"sex": 0.98}
    document = history.to_json()
    assert document["agreement_id"] == "police-sv"
    assert "Fixturewright" not in str(document)


def test_a_period_still_in_its_lateness_window_is_open(store: Engine) -> None:
    history = quality_history(store, POLICE, datetime(2026, 12, 3, 12, 0, tzinfo=UTC), periods=3)
    assert [p.state for p in history.periods] == ["missing", "open", "open"]
    history = quality_history(store, POLICE, datetime(2026, 12, 5, 12, 0, tzinfo=UTC), periods=3)
    assert [p.state for p in history.periods] == ["missing", "missing", "open"]


def test_an_extract_sent_early_counts_for_the_next_due_time(store: Engine) -> None:
    _extract(store, 1, datetime(2026, 11, 21, 9, 0, tzinfo=UTC), rows=10)
    history = quality_history(store, POLICE, NOW, periods=2)
    assert [p.state for p in history.periods] == ["missing", "on_time"]


def test_the_chart_scales_rows_and_marks_the_lowest_pass_rate(store: Engine) -> None:
    _extract(store, 1, datetime(2026, 11, 2, 4, 0, tzinfo=UTC), rows=100, failing=25)
    _extract(store, 2, datetime(2026, 10, 1, 10, 0, tzinfo=UTC), rows=50)
    bars = chart(quality_history(store, POLICE, NOW, periods=3))
    assert [b.state for b in bars] == ["on_time", "on_time", "open"]
    assert bars[1].height == 160.0 and bars[0].height == 80.0 and bars[2].height == 0.0
    assert bars[1].pass_y == pytest.approx(160 * 0.25)
    assert "rows" in bars[0].label
