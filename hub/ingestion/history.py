"""An agreement's quality history: per delivery period, what arrived, when, and how good it was.

For each of the agreement's recent due times ``D`` (its ``delivery.schedule``), the extracts of
that period are those received after the previous due time's lateness window closed and up to
``D + late_after_hours``: one received by ``D`` is ``on_time``, one after ``D`` is ``after_due``
(within the agreed lateness, by the hours between), and a period with none is ``missing`` (or
``open`` while its lateness window has not closed). Each extract contributes its rows, its
status, the pass rate of every rule in its quality report (1 - failing rows / rows) and the
completeness of every field when the report carries it. Counts and rates only: never a value.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Engine, select

from hub.agreements.model import Agreement
from hub.store import Extract, session_scope
from hub.times import as_utc

PERIODS = 12


@dataclass(frozen=True)
class ExtractQuality:
    extract_id: str
    received_at: datetime
    status: str
    rows: int | None
    findings: int  # failing rows summed over every rule
    critical: int  # failing rows of critical rules
    pass_rates: dict[str, float]  # "column:rule" -> share of rows passing
    completeness: dict[str, float]  # field -> share of rows with a value
    data_docs: bool = False  # Great Expectations Data Docs were built for it


@dataclass(frozen=True)
class Period:
    due_at: datetime
    late_at: datetime
    state: str  # on_time, after_due, missing, open (its lateness window has not closed yet)
    hours_late: float | None
    extracts: tuple[ExtractQuality, ...] = ()

    @property
    def rows(self) -> int:
        return sum(e.rows or 0 for e in self.extracts)


@dataclass(frozen=True)
class QualityHistory:
    agreement_id: str
    checked_at: datetime
    periods: tuple[Period, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        def iso(at: datetime) -> str:
            return at.isoformat(timespec="seconds")

        return {
            "agreement_id": self.agreement_id,
            "checked_at": iso(self.checked_at),
            "periods": [
                {
                    "due_at": iso(p.due_at),
                    "late_at": iso(p.late_at),
                    "state": p.state,
                    "hours_late": p.hours_late,
                    "rows": p.rows,
                    "extracts": [
                        {
                            "extract_id": e.extract_id,
                            "received_at": iso(e.received_at),
                            "status": e.status,
                            "rows": e.rows,
                            "findings": e.findings,
                            "critical": e.critical,
                            "pass_rates": e.pass_rates,
                            "completeness": e.completeness,
                            "data_docs": e.data_docs,
                        }
                        for e in p.extracts
                    ],
                }
                for p in self.periods
            ],
        }


def _quality(record: Extract) -> ExtractQuality:
    report = record.report or {}
    rows = record.rows or 0
    items = report.get("findings", [])
    findings = items if isinstance(items, list) else []
    rates: dict[str, float] = {}
    failing = critical = 0
    for item in findings:
        if not isinstance(item, dict):
            continue
        count = int(item.get("count", 0))
        failing += count
        if item.get("severity") == "critical":
            critical += count
        if rows:
            key = f"{item.get('column')}:{item.get('rule')}"
            rates[key] = round(max(0.0, 1 - count / rows), 4)
    completeness = report.get("completeness", {})
    return ExtractQuality(
        extract_id=record.id,
        received_at=as_utc(record.received_at),
        status=record.status,
        rows=record.rows,
        findings=failing,
        critical=critical,
        pass_rates=dict(sorted(rates.items())),
        completeness=dict(completeness) if isinstance(completeness, dict) else {},
        data_docs=bool(report.get("data_docs")),
    )


def due_times_before(agreement: Agreement, now: datetime, count: int) -> list[datetime]:
    """The agreement's ``count`` latest due times at or before ``now`` (UTC), oldest first,
    plus the one before them (the first period's lower bound)."""
    local = as_utc(now).astimezone(ZoneInfo(agreement.delivery.timezone))
    schedule = croniter(agreement.delivery.schedule, local)
    times = [as_utc(schedule.get_prev(datetime)) for _ in range(count + 1)]
    return sorted(times)


def quality_history(
    engine: Engine, agreement: Agreement, now: datetime | None = None, periods: int = PERIODS
) -> QualityHistory:
    """The last ``periods`` delivery periods of ``agreement`` at ``now``, oldest first; the
    last is the one whose due time comes next."""
    now = as_utc(now or datetime.now(UTC))
    lateness = timedelta(hours=agreement.delivery.late_after_hours)
    # up to the next due time: extracts sent early for it are already in its (open) period
    local = now.astimezone(ZoneInfo(agreement.delivery.timezone))
    upcoming = as_utc(croniter(agreement.delivery.schedule, local).get_next(datetime))
    dues = due_times_before(agreement, upcoming + timedelta(seconds=1), periods)
    with session_scope(engine) as session:
        records = session.scalars(
            select(Extract)
            .where(Extract.agreement_id == agreement.id, Extract.received_at > dues[0] + lateness)
            .order_by(Extract.received_at)
        ).all()
    extracts = [_quality(r) for r in records]
    found = []
    for previous, due in itertools.pairwise(dues):
        window = [e for e in extracts if previous + lateness < e.received_at <= due + lateness]
        late_at = due + lateness
        if window:
            first = window[0].received_at
            hours = (first - due).total_seconds() / 3600
            state = "on_time" if hours <= 0 else "after_due"
            found.append(Period(due, late_at, state, max(hours, 0.0), tuple(window)))
        else:
            found.append(Period(due, late_at, "open" if now < late_at else "missing", None))
    return QualityHistory(agreement.id, now, tuple(found))


@dataclass(frozen=True)
class Bar:
    """One period in the page's chart (an SVG drawn by the template, no script)."""

    x: float
    y: float
    width: float
    height: float
    state: str
    label: str  # for the bar's <title>: the period, rows and state, no value
    pass_y: float | None  # where the period's lowest rule pass rate sits (None: no rows)


CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 600.0, 160.0, 8.0


def chart(history: QualityHistory) -> list[Bar]:
    """Bars of rows per period, coloured by timeliness, with the lowest pass rate marked."""
    periods = history.periods
    if not periods:
        return []
    tallest = max((p.rows for p in periods), default=0) or 1
    width = (CHART_WIDTH - CHART_GAP * (len(periods) - 1)) / len(periods)
    bars = []
    for n, period in enumerate(periods):
        height = CHART_HEIGHT * period.rows / tallest
        rates = [r for e in period.extracts for r in e.pass_rates.values()]
        lowest = min(rates) if rates else (1.0 if period.rows else None)
        bars.append(
            Bar(
                x=round(n * (width + CHART_GAP), 1),
                y=round(CHART_HEIGHT - height, 1),
                width=round(width, 1),
                height=round(height, 1),
                state=period.state,
                label=f"due {period.due_at:%Y-%m-%d %H:%M} UTC: {period.rows:,} rows, "
                f"{period.state.replace('_', ' ')}",
                pass_y=None if lowest is None else round(CHART_HEIGHT * (1 - lowest), 1),
            )
        )
    return bars
