"""Late and missing deliveries: which feeds are due, received or overdue.

Each agreement's ``delivery.schedule`` (cron, in ``delivery.timezone``) says when an extract is
expected by; ``late_after_hours`` says how long after that a missing extract is late. For the
most recent due time ``D`` (with ``P`` the one before it), the delivery counts as received when
an extract arrived after ``P``; otherwise it is *due* until ``D + late_after_hours`` and *late*
after that. Only agreements in force are checked; the others are listed as such.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Engine, func, select

from hub.agreements.model import Agreement
from hub.agreements.registry import AgreementRegistry
from hub.store import Extract, session_scope
from hub.times import as_utc


class DeliveryState(StrEnum):
    RECEIVED = "received"  # an extract arrived for the latest due time
    DUE = "due"  # not yet, but still within the agreed lateness
    LATE = "late"  # not arrived and past the agreed lateness
    NOT_IN_FORCE = "not_in_force"  # nothing is expected under this agreement today


@dataclass(frozen=True)
class DeliveryStatus:
    agreement_id: str
    provider: str
    state: DeliveryState
    due_at: datetime | None  # the latest time an extract was expected by (UTC)
    late_at: datetime | None  # when a missing extract became (or becomes) late (UTC)
    last_received_at: datetime | None
    reason: str

    def to_json(self) -> dict[str, object]:
        def iso(at: datetime | None) -> str | None:
            return None if at is None else at.isoformat(timespec="seconds")

        return {
            "agreement_id": self.agreement_id,
            "provider": self.provider,
            "state": self.state.value,
            "due_at": iso(self.due_at),
            "late_at": iso(self.late_at),
            "last_received_at": iso(self.last_received_at),
            "reason": self.reason,
        }


def due_times(agreement: Agreement, now: datetime) -> tuple[datetime, datetime]:
    """The latest due time at or before ``now`` and the one before it, in UTC."""
    local = as_utc(now).astimezone(ZoneInfo(agreement.delivery.timezone))
    schedule = croniter(agreement.delivery.schedule, local)
    latest = schedule.get_prev(datetime)
    before = schedule.get_prev(datetime)
    return as_utc(latest), as_utc(before)


def _last_received(engine: Engine, agreement_ids: Iterable[str]) -> dict[str, datetime]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Extract.agreement_id, func.max(Extract.received_at))
            .where(Extract.agreement_id.in_(list(agreement_ids)))
            .group_by(Extract.agreement_id)
        ).all()
    return {agreement_id: as_utc(at) for agreement_id, at in rows if at is not None}


def delivery_status(
    agreement: Agreement,
    last_received: datetime | None,
    now: datetime,
    *,
    in_force: bool,
) -> DeliveryStatus:
    """Where one agreement's feed stands at ``now``."""
    now = as_utc(now)
    if not in_force:
        return DeliveryStatus(
            agreement.id,
            agreement.provider,
            DeliveryState.NOT_IN_FORCE,
            None,
            None,
            last_received,
            f"agreement {agreement.id} is not in force, so nothing is expected",
        )
    due, previous = due_times(agreement, now)
    late_at = due + timedelta(hours=agreement.delivery.late_after_hours)
    if last_received is not None and last_received > previous:
        state, reason = DeliveryState.RECEIVED, "the latest extract arrived for this period"
    elif now < late_at:
        state = DeliveryState.DUE
        reason = f"expected by {due:%Y-%m-%d %H:%M} UTC; late from {late_at:%Y-%m-%d %H:%M} UTC"
    else:
        state = DeliveryState.LATE
        reason = f"expected by {due:%Y-%m-%d %H:%M} UTC and late since {late_at:%Y-%m-%d %H:%M} UTC"
    return DeliveryStatus(
        agreement.id, agreement.provider, state, due, late_at, last_received, reason
    )


def deliveries(
    agreements: Iterable[Agreement],
    registry: AgreementRegistry,
    now: datetime | None = None,
    *,
    provider: str | None = None,
) -> list[DeliveryStatus]:
    """Every feed of the partnership (or of one provider), late ones first."""
    now = as_utc(now or datetime.now(UTC))
    chosen = [a for a in agreements if provider is None or a.provider == provider]
    received = _last_received(registry.engine, (a.id for a in chosen))
    order = {DeliveryState.LATE: 0, DeliveryState.DUE: 1, DeliveryState.RECEIVED: 2}
    found = [
        delivery_status(
            a,
            received.get(a.id),
            now,
            in_force=registry.status(a, now.date()).in_force,
        )
        for a in chosen
    ]
    return sorted(found, key=lambda d: (order.get(d.state, 3), d.agreement_id))
