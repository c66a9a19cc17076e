"""What an analyst does, in one place for the pages, the API and the command line: list their
projects, see a project's releases, run a query, read a measure. Every query is written to the
audit log, run or refused.

The audit entry names the analyst, the project, the release, the mode and the outcome (rows or
cells returned, how many suppressed, seconds, or the refusal), and keeps the query itself with
its quoted text blanked (``'…'``): an analyst may type a value into a ``WHERE``, and values are
not written to logs. Its SHA-256 identifies the exact text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import Engine

from hub import audit
from hub.agreements.loader import load_agreements_leniently
from hub.agreements.model import Agreement
from hub.agreements.registry import AgreementRegistry
from hub.analysis.access import ReleaseView, release_view, visible_releases
from hub.analysis.measures import MeasureInfo, MeasureTable, available_measures, measure_table
from hub.analysis.outputs import COUNT, CountOutput, control_counts
from hub.analysis.projects import (
    Approval,
    Project,
    approval,
    load_projects,
    project_for,
    projects_of,
)
from hub.analysis.sandbox import (
    QueryLimits,
    QueryRefusedError,
    QueryResult,
    Sandbox,
    blank,
    quoted,
)
from hub.errors import NotFoundError, UserError
from hub.settings import Settings

Mode = Literal["counts", "rows"]
MAX_CELLS = 50_000  # combinations an aggregate query may count


@dataclass(frozen=True)
class QueryOutput:
    """A query's answer: a controlled table of counts, or (row-level projects) rows."""

    project: str
    release_id: str
    mode: Mode
    sql: str
    counts: CountOutput | None
    rows: QueryResult | None
    seconds: float


@dataclass(frozen=True)
class Analysis:
    """An analyst's access: the hub's settings, store and registry, and who is asking."""

    settings: Settings
    engine: Engine
    registry: AgreementRegistry
    email: str
    today: date | None = None

    @property
    def actor(self) -> str:
        return f"user:{self.email}"

    def agreements(self) -> dict[str, Agreement]:
        """The agreements that load from the contracts folder."""
        agreements, _ = load_agreements_leniently(self.settings.contracts_dir)
        return agreements

    def projects(self) -> list[Approval]:
        """The analyst's projects, each with its standing today."""
        agreements = self.agreements()
        day = self.today or date.today()
        return [
            approval(p, agreements, self.registry, day)
            for p in projects_of(load_projects(self.settings.contracts_dir), self.email)
        ]

    def approval(self, project: str) -> tuple[Approval, dict[str, Agreement]]:
        found: Project = project_for(
            load_projects(self.settings.contracts_dir), project, self.email
        )
        agreements = self.agreements()
        return approval(found, agreements, self.registry, self.today or date.today()), agreements

    def releases(self, project: str) -> list[ReleaseView]:
        standing, agreements = self.approval(project)
        return visible_releases(self.settings, self.engine, standing, agreements)

    def release(self, project: str, release_id: str | None = None) -> ReleaseView:
        standing, agreements = self.approval(project)
        return release_view(self.settings, self.engine, standing, agreements, release_id)

    def measures(self, project: str, release_id: str | None = None) -> list[MeasureInfo]:
        return available_measures(self.release(project, release_id))

    def measure(self, project: str, measure: str, release_id: str | None = None) -> MeasureTable:
        view = self.release(project, release_id)
        table = measure_table(view, measure)
        audit.record(
            self.engine,
            actor=self.actor,
            action="analysis.measure",
            subject=f"project:{project}",
            detail={"release": view.release_id, "measure": measure},
        )
        return table

    def export(self, project: str, table: str, release_id: str | None = None) -> QueryOutput:
        """A whole table of the project's view as rows, for a row-level project only (R,
        Power BI or Python then read the Parquet file); audited like a query."""
        view = self.release(project, release_id)
        if table not in view.tables:
            raise NotFoundError(f"no table {table!r} in your project's view")
        return self.query(
            project,
            f"SELECT * FROM {quoted(table)}",
            release_id=view.release_id,
            mode="rows",
            limits=export_limits(),
        )

    def query(
        self,
        project: str,
        sql: str,
        *,
        release_id: str | None = None,
        mode: Mode = "counts",
        limits: QueryLimits | None = None,
    ) -> QueryOutput:
        """Run ``sql`` for ``project`` and record it in the audit log, run or refused."""
        detail: dict[str, object] = {
            "release": release_id,
            "mode": mode,
            "sql": blank(sql)[:4000],
            "sql_sha256": hashlib.sha256(sql.encode("utf-8")).hexdigest(),
        }
        try:
            output = self._query(project, sql, release_id, mode, limits)
        except UserError as refused:
            detail["refused"] = refused.message
            audit.record(
                self.engine,
                actor=self.actor,
                action="analysis.query_refused",
                subject=f"project:{project}",
                detail=detail,
            )
            raise
        detail["release"] = output.release_id
        detail["seconds"] = round(output.seconds, 3)
        if output.counts is not None:
            detail["cells"] = output.counts.long().num_rows
            detail["suppressed"] = output.counts.suppressed
        elif output.rows is not None:
            detail["rows"] = output.rows.table.num_rows
            detail["truncated"] = output.rows.truncated
        audit.record(
            self.engine,
            actor=self.actor,
            action="analysis.query",
            subject=f"project:{project}",
            detail=detail,
        )
        return output

    def _query(
        self,
        project: str,
        sql: str,
        release_id: str | None,
        mode: Mode,
        limits: QueryLimits | None,
    ) -> QueryOutput:
        if mode not in ("counts", "rows"):
            raise QueryRefusedError(
                f"unknown mode {mode!r}", hint="a query's mode is counts or rows"
            )
        view = self.release(project, release_id)
        if mode == "rows" and not view.row_level:
            raise QueryRefusedError(
                f"project {project} may take away tables of counts only, not rows",
                hint="run the query as counts: the hub counts its rows by every column it "
                "returns and controls the counts",
            )
        limits = limits or QueryLimits()
        with Sandbox(view.path, view.views, limits if mode == "rows" else _cells(limits)) as box:
            if mode == "rows":
                result = box.run(sql)
                return QueryOutput(
                    project, view.release_id, mode, sql, None, result, result.seconds
                )
            statement = box.select_only(sql)
            counted = box.run(
                f"SELECT *, count(*) AS {COUNT} FROM ({statement}) AS analyst_query GROUP BY ALL"
            )
        if counted.truncated:
            raise QueryRefusedError(
                f"the query gives more than {MAX_CELLS:,} combinations to count",
                hint="count by fewer columns, or by coarser ones (month rather than week, "
                "local authority rather than LSOA)",
            )
        if COUNT in counted.table.column_names[:-1]:
            raise QueryRefusedError(
                f"a column of the query is named {COUNT}, which the hub uses for the counts",
                hint="rename it, or leave out the count: the hub counts the rows itself",
            )
        output = control_counts(counted.table, COUNT, view.rule)
        return QueryOutput(project, view.release_id, mode, sql, output, None, counted.seconds)


def export_limits() -> QueryLimits:
    """A whole table of a row-level project's view: no row limit worth the name."""
    return QueryLimits(rows=2_000_000_000, seconds=600.0)


def _cells(limits: QueryLimits) -> QueryLimits:
    return QueryLimits(rows=MAX_CELLS, seconds=limits.seconds, memory=limits.memory)
