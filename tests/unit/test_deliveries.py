"""Late and missing deliveries: due times from each agreement's schedule, in its time zone, and
the agreed lateness."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.agreements import get_agreement
from hub.ingestion.deliveries import DeliveryState, delivery_status, due_times
from tests.conftest import CONTRACTS

POLICE = get_agreement(CONTRACTS, "police-sv")  # "0 5 2 * *" Europe/London, late after 48 h


def test_due_times_follow_the_schedule_in_local_time() -> None:
    latest, before = due_times(POLICE, datetime(2026, 11, 21, 12, tzinfo=UTC))
    assert latest == datetime(2026, 11, 2, 5, tzinfo=UTC)  # GMT in November
    assert before == datetime(2026, 10, 2, 4, tzinfo=UTC)  # 05:00 BST is 04:00 UTC


@pytest.mark.parametrize(
    ("now", "last", "state"),
    [
        # received after the previous due time: this period's extract is in
        (datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), "received"),
        # nothing since October, but within 48 hours of the 2 November due time
        (datetime(2026, 11, 3, 12, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC), "due"),
        # nothing since October and past the lateness
        (datetime(2026, 11, 4, 6, tzinfo=UTC), datetime(2026, 9, 30, tzinfo=UTC), "late"),
        # never delivered at all
        (datetime(2026, 11, 21, tzinfo=UTC), None, "late"),
    ],
)
def test_state_of_a_feed(now: datetime, last: datetime | None, state: str) -> None:
    status = delivery_status(POLICE, last, now, in_force=True)
    assert status.state is DeliveryState(state)
    assert status.due_at == datetime(2026, 11, 2, 5, tzinfo=UTC)
    assert status.late_at == datetime(2026, 11, 4, 5, tzinfo=UTC)
    if state == "late":
        assert "late since 2026-11-04 05:00 UTC" in status.reason


def test_nothing_is_expected_under_an_agreement_not_in_force() -> None:
    status = delivery_status(POLICE, None, datetime(2026, 11, 21, tzinfo=UTC), in_force=False)
    assert status.state is DeliveryState.NOT_IN_FORCE
    assert status.to_json()["due_at"] is None
