"""The analysts' API: the same projects, queries and measures as the pages, for programs.

Authentication is a user's API token (``hub users token``) as ``Authorization: Bearer``; the
token acts as its user, so an analyst's script sees exactly what the analyst sees, and every
query is in the audit log under their name. Refusals are RFC 9457 problem documents
(``hub.ingestion.problems``), as for the partner API.

Results come as JSON (default), CSV (``?format=csv``, suppressed counts as ``[c]``) or an Arrow
IPC stream (``?format=arrow``, suppressed counts as nulls): see docs/analysts.md.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from hub.accounts.tokens import authenticate_token
from hub.accounts.users import Role, role_of
from hub.analysis.measures import VALUE
from hub.analysis.outputs import COUNT, SUPPRESSED
from hub.analysis.service import Analysis, QueryOutput
from hub.ingestion.problems import ProblemError
from hub.store import User
from hub.web.signin import hub_of

log = logging.getLogger(__name__)
REALM = 'Bearer realm="svdhub-analysis"'
ARROW_STREAM = "application/vnd.apache.arrow.stream"

bearer = HTTPBearer(
    auto_error=False, description="An analyst's API token from `hub users token` (svdhub_at_...)."
)
ProjectName = Annotated[str, PathParam(pattern=r"^[a-z][a-z0-9-]*$", max_length=60)]
ReleaseId = Annotated[str, PathParam(pattern=r"^rel-[0-9]{8}-[0-9a-f]{12}$")]
Format = Literal["json", "csv", "arrow"]


class QueryRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=20_000, description="One SELECT over the project")
    release: str | None = Field(
        default=None, pattern=r"^rel-[0-9]{8}-[0-9a-f]{12}$", description="Default: current"
    )
    mode: Literal["counts", "rows"] = Field(
        default="counts",
        description="counts: the rows counted by every column and controlled; rows: row-level "
        "projects only",
    )


def analyst(
    request: Request, auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Analysis:
    """The analyst the token acts as, or a 401/403 problem."""
    hint = "send the token from `hub users token` as 'Authorization: Bearer <token>'"
    if auth is None:
        raise ProblemError(
            401,
            "unauthorised",
            "no API token was sent",
            hint=hint,
            headers={"WWW-Authenticate": REALM},
        )
    hub = hub_of(request)
    user: User | None = authenticate_token(hub.engine, auth.credentials)
    if user is None:
        log.warning("refused an analysis API request with an unknown, expired or revoked token")
        raise ProblemError(
            401,
            "unauthorised",
            "the token is not valid: unknown, mistyped, expired or revoked",
            hint=hint,
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    if role_of(user) is not Role.ANALYST:
        raise ProblemError(403, "not_an_analyst", "the analysis API is for analysts' tokens")
    return Analysis(hub.settings, hub.engine, hub.registry, user.email)


Analyst = Annotated[Analysis, Depends(analyst)]
router = APIRouter(prefix="/api/v1/analysis", tags=["analysis"])


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _table(output: QueryOutput) -> pa.Table:
    if output.counts is not None:
        return output.counts.long()
    assert output.rows is not None
    return output.rows.table


def csv_download(table: pa.Table, filename: str, counted: tuple[str, ...]) -> Response:
    """``table`` as a CSV attachment; a null in one of the ``counted`` columns is a suppressed
    count, written ``[c]``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow(
            SUPPRESSED if row[c] is None and c in counted else _plain(row[c])
            for c in table.column_names
        )
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _arrow(table: pa.Table) -> Response:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)


def _rows(table: pa.Table) -> list[list[object]]:
    return [[_plain(v) for v in row.values()] for row in table.to_pylist()]


@router.get("/projects")
def projects(analysis: Analyst) -> dict[str, Any]:
    """Your projects, the agreements each may draw on today, and their releases."""
    found = []
    for standing in analysis.projects():
        releases = analysis.releases(standing.project.name) if standing.usable else []
        found.append(
            {
                "name": standing.project.name,
                "title": standing.project.title,
                "row_level": standing.project.row_level,
                "agreements": [
                    {"id": c.agreement_id, "available": c.usable, "reason": c.reason}
                    for c in standing.checks
                ],
                "releases": [r.release_id for r in releases],
            }
        )
    return {"projects": found}


@router.get("/projects/{project}/releases/{release}")
def release(analysis: Analyst, project: ProjectName, release: ReleaseId) -> dict[str, Any]:
    """What the project sees of one release: its tables and columns."""
    view = analysis.release(project, release)
    return {
        "release_id": view.release_id,
        "created_at": view.created_at,
        "sources": list(view.sources),
        "tables": view.tables,
        "disclosure_control": view.rule.as_dict(),
    }


@router.post("/projects/{project}/query")
def query(
    analysis: Analyst,
    project: ProjectName,
    body: QueryRequest,
    format: Annotated[Format, Query(description="json, csv or arrow")] = "json",
) -> Response:
    """Run one SELECT for the project (audited). Counts come controlled."""
    output = analysis.query(project, body.sql, release_id=body.release, mode=body.mode)
    table = _table(output)
    if format == "csv":
        return csv_download(
            table, f"{project}-{output.release_id}.csv", (COUNT,) if output.counts else ()
        )
    if format == "arrow":
        return _arrow(table)
    document: dict[str, Any] = {
        "project": project,
        "release_id": output.release_id,
        "mode": output.mode,
        "columns": table.column_names,
        "rows": _rows(table),
        "seconds": round(output.seconds, 3),
    }
    if output.counts is not None:
        document["suppressed"] = output.counts.suppressed
        document["disclosure_control"] = output.counts.rule.as_dict()
    elif output.rows is not None:
        document["truncated"] = output.rows.truncated
    return JSONResponse(document)


@router.get("/projects/{project}/measures")
def measures(analysis: Analyst, project: ProjectName) -> dict[str, Any]:
    """The measures the project's sources feed, in the current release."""
    return {
        "measures": [
            {"id": m.id, "title": m.title, "home_office": m.home_office}
            for m in analysis.measures(project)
        ]
    }


@router.get("/projects/{project}/measures/{measure}")
def measure(
    analysis: Analyst,
    project: ProjectName,
    measure: Annotated[str, PathParam(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)],
    format: Annotated[Format, Query(description="json, csv or arrow")] = "json",
) -> Response:
    """One measure by area and month, controlled, with its controlled totals."""
    table = analysis.measure(project, measure)
    cells = table.table.cells
    if format == "csv":
        return csv_download(cells, f"{project}-{measure}-{table.release_id}.csv", (VALUE,))
    if format == "arrow":
        return _arrow(cells)
    controlled = table.table
    return JSONResponse(
        {
            "measure": measure,
            "title": table.info.title,
            "release_id": table.release_id,
            "columns": cells.column_names,
            "rows": _rows(cells),
            "by_area": _rows(controlled.row_totals) if controlled.row_totals else [],
            "by_month": _rows(controlled.column_totals) if controlled.column_totals else [],
            "total": controlled.grand_total,
            "disclosure_control": controlled.rule.as_dict(),
        }
    )


@router.get("/projects/{project}/releases/{release}/tables/{table}.parquet")
def table_file(
    analysis: Analyst,
    project: ProjectName,
    release: ReleaseId,
    table: Annotated[str, PathParam(pattern=r"^[a-z_]+$", max_length=40)],
) -> Response:
    """A whole table of the project's view as Parquet: row-level projects only (audited)."""
    output = analysis.export(project, table, release)
    assert output.rows is not None
    handle = tempfile.NamedTemporaryFile(suffix=".parquet", delete=False)  # noqa: SIM115
    handle.close()
    path = Path(handle.name)
    pq.write_table(output.rows.table, path, compression="zstd")
    return FileResponse(
        path,
        media_type="application/vnd.apache.parquet",
        filename=f"{project}-{release}-{table}.parquet",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
