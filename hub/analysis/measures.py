"""The measures a project sees: the Home Office measures and the partnership's local ones, by
area and month, controlled.

A release keeps the raw counts behind every event-level measure by source, area and month
(``measure_counts.parquet``, ``hub.publication.measures.measure_counts``). A project's measure is
the sum over the sources it may draw on, controlled as one two-way table of area by month
(``control_crosstab`` with ``totals="controlled"``): the monthly and area totals are the real
totals, rounded and suppressed like any count, and secondary suppression keeps every hidden cell
from being worked out from them. The time series and the area chart of the measures page are
those totals. Reading a few thousand pre-aggregated rows instead of every event is what keeps a
measure under 2 s on a national release of 100 million events (bench/query.py).

A measure none of the project's sources contributes to is not shown (not shown as zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from hub.analysis.access import ReleaseView
from hub.errors import NotFoundError
from hub.privacy.disclosure import ControlledTable, DisclosureRule, control_crosstab
from hub.publication.measures import DESCRIPTIONS, HOME_OFFICE
from hub.publication.release import MEASURE_COUNTS

AREA = "area_code"
MONTH = "event_month"
VALUE = "events"


@dataclass(frozen=True)
class MeasureInfo:
    id: str
    title: str
    home_office: bool


@dataclass(frozen=True)
class MeasureTable:
    """One measure for one project and release: area by month, controlled."""

    info: MeasureInfo
    table: ControlledTable
    release_id: str


def _titles(view: ReleaseView) -> dict[str, str]:
    titles = dict(DESCRIPTIONS)
    definitions = view.manifest.get("serious_violence_definitions")
    if isinstance(definitions, dict):
        for entry in definitions.get("definitions", []):
            if isinstance(entry, dict) and "column" in entry:
                titles[str(entry["column"])] = f"Serious violence ({entry.get('title', '')})"
    return titles


def _counts(view: ReleaseView, measure: str | None = None) -> pa.Table:
    """The release's raw counts for the project's sources (and one measure, when given)."""
    dataset = ds.dataset(view.path / MEASURE_COUNTS, format="parquet")
    wanted = pc.field("source").isin(list(view.sources))
    if measure is not None:
        wanted = wanted & (pc.field("measure") == measure)
    return dataset.to_table(columns=["measure", AREA, MONTH, VALUE], filter=wanted)


def available_measures(view: ReleaseView) -> list[MeasureInfo]:
    """The measures the project's sources contribute to: the Home Office ones first."""
    present = set(pc.unique(_counts(view).column("measure")).to_pylist())
    titles = _titles(view)
    order = [m for m in titles if m in present]
    return [
        MeasureInfo(m, titles[m], _home_office(m))
        for m in sorted(order, key=lambda m: not _home_office(m))
    ]


def _home_office(measure: str) -> bool:
    return any(measure.startswith(h) for h in HOME_OFFICE)


def measure_table(view: ReleaseView, measure: str) -> MeasureTable:
    """One measure by area and month for the project, controlled as one output."""
    titles = _titles(view)
    counts = _counts(view, measure) if measure in titles else None
    if counts is None or counts.num_rows == 0:
        raise NotFoundError(
            f"no measure {measure!r} for this project",
            hint="the measures page lists the measures your project's agreements feed",
        )
    info = MeasureInfo(measure, titles[measure], _home_office(measure))
    return MeasureTable(info, control_measure(counts, view.rule), view.release_id)


def control_measure(counts: pa.Table, rule: DisclosureRule) -> ControlledTable:
    """Raw counts (``area_code``, ``event_month``, ``events``; several rows per cell, one per
    source) summed per cell and controlled with real, controlled totals."""
    cells = counts.group_by([AREA, MONTH], use_threads=False).aggregate([(VALUE, "sum")])
    cells = pa.table(
        {
            AREA: cells.column(AREA),
            MONTH: pc.cast(cells.column(MONTH), pa.string()),
            VALUE: cells.column(f"{VALUE}_sum"),
        }
    )
    return control_crosstab(cells, AREA, MONTH, VALUE, rule, totals="controlled")
