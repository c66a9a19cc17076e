"""The analysts' pages: the catalogue, the query page and the measures dashboard.

Only analysts use them (anyone else is refused, and the refusal is audited). Each page shows one
of the analyst's projects at a time, through ``hub.analysis.service.Analysis``: a project, release,
table or column outside their projects is not found, never "forbidden". Outputs are controlled
before they reach the page; a suppressed count shows as ``[c]``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from hub.accounts.users import Role
from hub.analysis import catalogue
from hub.analysis.measures import AREA, MONTH, VALUE, MeasureTable
from hub.analysis.outputs import COUNT, SUPPRESSED, CountOutput
from hub.analysis.service import Analysis, Mode, QueryOutput
from hub.errors import UserError
from hub.web.analysis_api import csv_download
from hub.web.charts import bar_chart
from hub.web.signin import SignedIn, Viewer, check_csrf, hub_of, refuse, render

router = APIRouter()

ProjectName = Annotated[str, PathParam(pattern=r"^[a-z][a-z0-9-]*$", max_length=60)]
ReleaseId = Annotated[str, PathParam(pattern=r"^rel-[0-9]{8}-[0-9a-f]{12}$")]
MeasureId = Annotated[str, PathParam(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]
MAX_SQL = 20_000
EXAMPLE_SQL = (
    "SELECT event_month, coalesce(local_authority, home_local_authority) AS area\n"
    "FROM event\n"
    "WHERE event_type = 'ed_assault_attendance' AND flag_knife"
)


def _analysis(request: Request, viewer: Viewer, page: str) -> Analysis:
    """The signed-in analyst's access; anyone else is refused (and the refusal audited)."""
    hub = hub_of(request)
    if viewer.role is not Role.ANALYST:
        raise refuse(
            hub,
            viewer,
            "The catalogue, queries and measures are for analysts. You are signed in as "
            f"{viewer.role_words} of {viewer.org}.",
            subject=f"page:{page}",
            detail={"org": viewer.org, "role": viewer.user.role, "page": page},
            hint="Ask the hub's administrator for an analyst account on a project.",
        )
    return Analysis(hub.settings, hub.engine, hub.registry, viewer.email)


@router.get("/catalogue")
def catalogue_page(request: Request, viewer: SignedIn) -> Response:
    analysis = _analysis(request, viewer, "catalogue")
    projects = []
    for standing in analysis.projects():
        releases = analysis.releases(standing.project.name) if standing.usable else []
        projects.append({"standing": standing, "releases": releases})
    return render(request, "catalogue.html", {"projects": projects}, viewer=viewer)


@router.get("/catalogue/{project}")
def project_page(request: Request, viewer: SignedIn, project: ProjectName) -> Response:
    analysis = _analysis(request, viewer, "catalogue")
    hub = hub_of(request)
    standing, agreements = analysis.approval(project)
    releases = analysis.releases(project) if standing.usable else []
    newest = releases[0] if releases else None
    context = {
        "standing": standing,
        "releases": releases,
        "freshness": catalogue.freshness(hub.engine, newest, standing.sources, agreements),
        "quality": catalogue.quality_history(hub.engine, standing.sources),
        "linkage": catalogue.linkage_quality(newest) if newest else {},
        "newest": newest,
    }
    return render(request, "project.html", context, viewer=viewer)


@router.get("/catalogue/{project}/releases/{release_id}")
def release_page(
    request: Request, viewer: SignedIn, project: ProjectName, release_id: ReleaseId
) -> Response:
    analysis = _analysis(request, viewer, "catalogue")
    view = analysis.release(project, release_id)
    agreements = analysis.agreements()
    inputs = [
        i
        for i in view.manifest.get("inputs", [])  # type: ignore[attr-defined]
        if isinstance(i, dict) and i.get("agreement_id") in view.sources
    ]
    context = {
        "project": project,
        "view": view,
        "columns": catalogue.columns(view, agreements),
        "inputs": inputs,
        "linkage": catalogue.linkage_quality(view),
    }
    return render(request, "release.html", context, viewer=viewer)


@router.get("/catalogue/{project}/dictionary")
def dictionary_page(request: Request, viewer: SignedIn, project: ProjectName) -> Response:
    analysis = _analysis(request, viewer, "catalogue")
    standing, agreements = analysis.approval(project)
    view = analysis.release(project) if standing.usable else None
    sources = [
        {"agreement": agreements[a], "basis": catalogue.lawful_basis(agreements[a])}
        for a in standing.sources
    ]
    context = {
        "project": project,
        "sources": sources,
        "columns": catalogue.columns(view, agreements) if view else [],
        "view": view,
    }
    return render(request, "dictionary.html", context, viewer=viewer)


# -- queries ------------------------------------------------------------------------------------


def _query_context(
    analysis: Analysis,
    project: str | None,
    release: str | None,
    sql: str,
    mode: str,
) -> dict[str, Any]:
    projects = [s for s in analysis.projects() if s.usable]
    chosen = project or (projects[0].project.name if projects else None)
    tables: dict[str, list[str]] = {}
    releases = []
    row_level = False
    if chosen is not None and any(s.project.name == chosen for s in projects):
        releases = analysis.releases(chosen)
        if releases:
            view = next((r for r in releases if r.release_id == release), releases[0])
            tables, row_level = view.tables, view.row_level
    return {
        "projects": projects,
        "project": chosen,
        "releases": releases,
        "release": release,
        "sql": sql,
        "mode": mode,
        "tables": tables,
        "row_level": row_level,
        "output": None,
        "error": None,
    }


@router.get("/query")
def query_page(
    request: Request,
    viewer: SignedIn,
    project: Annotated[str | None, Query(max_length=60)] = None,
    release: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    analysis = _analysis(request, viewer, "query")
    context = _query_context(analysis, project, release, EXAMPLE_SQL, "counts")
    return render(request, "query.html", context, viewer=viewer)


def _run(
    request: Request,
    viewer: Viewer,
    csrf: str,
    project: str,
    release: str,
    sql: str,
    mode: str,
) -> tuple[Analysis, QueryOutput]:
    hub = hub_of(request)
    check_csrf(hub, viewer, csrf, request)
    analysis = _analysis(request, viewer, "query")
    if len(sql) > MAX_SQL:
        raise UserError(f"the query is longer than {MAX_SQL:,} characters")
    chosen: Mode = "rows" if mode == "rows" else "counts"
    output = analysis.query(project, sql, release_id=release or None, mode=chosen)
    return analysis, output


@router.post("/query")
def run_query(
    request: Request,
    viewer: SignedIn,
    csrf: Annotated[str, Form()] = "",
    project: Annotated[str, Form(max_length=60)] = "",
    release: Annotated[str, Form(max_length=40)] = "",
    sql: Annotated[str, Form()] = "",
    mode: Annotated[str, Form(max_length=10)] = "counts",
) -> Response:
    analysis = _analysis(request, viewer, "query")
    context = _query_context(analysis, project, release or None, sql, mode)
    try:
        _, output = _run(request, viewer, csrf, project, release, sql, mode)
    except UserError as refused:
        context["error"] = refused
        return render(request, "query.html", context, viewer=viewer, status_code=422)
    context["output"] = _shown(output)
    return render(request, "query.html", context, viewer=viewer)


@router.post("/query.csv")
def download_query(
    request: Request,
    viewer: SignedIn,
    csrf: Annotated[str, Form()] = "",
    project: Annotated[str, Form(max_length=60)] = "",
    release: Annotated[str, Form(max_length=40)] = "",
    sql: Annotated[str, Form()] = "",
    mode: Annotated[str, Form(max_length=10)] = "counts",
) -> Response:
    try:
        _, output = _run(request, viewer, csrf, project, release, sql, mode)
    except UserError as refused:  # the form again, with the reason, as for "Run query"
        analysis = _analysis(request, viewer, "query")
        context = _query_context(analysis, project, release or None, sql, mode)
        context["error"] = refused
        return render(request, "query.html", context, viewer=viewer, status_code=422)
    table = output.counts.long() if output.counts is not None else output.rows.table  # type: ignore[union-attr]
    return csv_download(table, f"{project}-{output.release_id}.csv", (COUNT, VALUE))


def _shown(output: QueryOutput) -> dict[str, Any]:
    """What the results part of the page shows."""
    if output.counts is not None:
        counts: CountOutput = output.counts
        long = counts.long()
        return {
            "kind": "counts",
            "release_id": output.release_id,
            "columns": long.column_names,
            "rows": [
                [SUPPRESSED if v is None and k == COUNT else v for k, v in row.items()]
                for row in long.to_pylist()
            ],
            "suppressed": counts.suppressed,
            "rule": counts.rule,
            "seconds": output.seconds,
            "layers": counts.layers,
            "dimensions": counts.dimensions,
        }
    rows = output.rows
    assert rows is not None
    return {
        "kind": "rows",
        "release_id": output.release_id,
        "columns": rows.table.column_names,
        "rows": [list(r.values()) for r in rows.table.slice(0, 1000).to_pylist()],
        "shown": min(rows.table.num_rows, 1000),
        "total": rows.table.num_rows,
        "truncated": rows.truncated,
        "seconds": output.seconds,
    }


# -- measures -----------------------------------------------------------------------------------


@router.get("/measures/{project}")
def measures_page(
    request: Request,
    viewer: SignedIn,
    project: ProjectName,
    measure: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    analysis = _analysis(request, viewer, "measures")
    view = analysis.release(project)
    measures = analysis.measures(project, view.release_id)
    chosen = measure or (measures[0].id if measures else None)
    table = analysis.measure(project, chosen, view.release_id) if chosen else None
    context = {
        "project": project,
        "view": view,
        "measures": measures,
        "chosen": chosen,
        "measure": table,
        "charts": _charts(table) if table else [],
        "grid": _grid(table) if table else None,
    }
    return render(request, "measures.html", context, viewer=viewer)


@router.get("/measures/{project}/{measure}.csv")
def measure_csv(
    request: Request, viewer: SignedIn, project: ProjectName, measure: MeasureId
) -> Response:
    analysis = _analysis(request, viewer, "measures")
    table = analysis.measure(project, measure)
    cells = table.table.cells
    return csv_download(
        cells.select([AREA, MONTH, VALUE]),
        f"{project}-{measure}-{table.release_id}.csv",
        (COUNT, VALUE),
    )


def _charts(table: MeasureTable) -> list[Any]:
    controlled = table.table
    charts = []
    if controlled.column_totals is not None:
        months = controlled.column_totals
        charts.append(
            bar_chart(
                f"{table.info.title}, by month (all areas)",
                [str(m)[:7] for m in months.column(MONTH).to_pylist()],
                months.column(VALUE).to_pylist(),
            )
        )
    if controlled.row_totals is not None:
        areas = controlled.row_totals
        charts.append(
            bar_chart(
                f"{table.info.title}, by area (all months)",
                [str(a) for a in areas.column(AREA).to_pylist()],
                areas.column(VALUE).to_pylist(),
            )
        )
    return charts


def _grid(table: MeasureTable) -> dict[str, Any]:
    """The area-by-month cells as rows of a table, with the controlled totals."""
    controlled = table.table
    cells = controlled.cells.to_pylist()
    months = sorted({str(c[MONTH]) for c in cells})
    areas = sorted({str(c[AREA]) for c in cells})
    value = {(str(c[AREA]), str(c[MONTH])): c[VALUE] for c in cells}
    row_totals = (
        dict(
            zip(*(controlled.row_totals.column(n).to_pylist() for n in (AREA, VALUE)), strict=True)
        )
        if controlled.row_totals is not None
        else {}
    )
    column_totals = (
        dict(
            zip(
                *(controlled.column_totals.column(n).to_pylist() for n in (MONTH, VALUE)),
                strict=True,
            )
        )
        if controlled.column_totals is not None
        else {}
    )
    return {
        "months": months,
        "rows": [
            (area, [value.get((area, m)) for m in months], row_totals.get(area)) for area in areas
        ],
        "totals": [column_totals.get(m) for m in months],
        "grand": controlled.grand_total,
    }
