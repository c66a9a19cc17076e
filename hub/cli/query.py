"""``hub query``: an analyst's SQL over a release, through the hub's analysis API.

The command is a client: it holds no key and reads no file of the hub. It sends the query with
the analyst's API token (``HUB_TOKEN``, from ``hub users token``) to the hub at ``HUB_URL``, so
the answer is exactly what the query page would show, controlled, and audited under the
analyst's name. docs/analysts.md walks through it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli.common import out
from hub.cli.errors import handle_errors
from hub.errors import InfrastructureError, UserError

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 120.0
FORMATS = ("table", "csv", "json", "arrow")


def _client(url: str, token: str | None) -> Any:
    import httpx

    if not token:
        raise UserError(
            "no API token: set HUB_TOKEN or pass --token",
            hint="an administrator issues one with: hub users token YOUR_EMAIL --name 'hub query'",
        )
    return httpx.Client(
        base_url=url.rstrip("/") + "/api/v1/analysis",
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_SECONDS,
    )


def _call(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise InfrastructureError(
            f"cannot reach the hub at {client.base_url}: {type(exc).__name__}",
            hint="check HUB_URL (or --url) and that the hub is running (hub serve)",
        ) from None
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        detail = str(problem.get("detail") or f"the hub answered {response.status_code}")
        raise UserError(detail, hint=problem.get("hint"))
    return response


def _show(document: dict[str, Any]) -> None:
    table = Table(*document["columns"], title=f"{document['release_id']}")
    for row in document["rows"]:
        table.add_row(*(escape("[c]" if v is None else f"{v}") for v in row))
    out.print(table)
    if "suppressed" in document:
        rule = document["disclosure_control"]
        out.print(
            f"{len(document['rows']):,} cells, {document['suppressed']:,} suppressed (\\[c]: "
            f"{rule['suppress_at_or_below']} or fewer, or hidden to protect one); counts rounded "
            f"to the nearest {rule['round_to']}."
        )
    elif document.get("truncated"):
        out.print("The row limit cut the result.")


@handle_errors
def query(
    sql: Annotated[
        str | None, typer.Argument(help="One SELECT; '-' reads it from stdin; see also --file")
    ] = None,
    project: Annotated[str | None, typer.Option("--project", "-p", help="Your project")] = None,
    release: Annotated[
        str | None, typer.Option(help="A release id (default: the project's current release)")
    ] = None,
    rows: Annotated[
        bool,
        typer.Option("--rows", help="Pseudonymised rows instead of counts (row-level projects)"),
    ] = False,
    measure: Annotated[
        str | None, typer.Option(help="A measure by area and month instead of a query")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the SQL from a file")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table (default), csv, json or arrow")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the result to this file")
    ] = None,
    list_projects: Annotated[
        bool, typer.Option("--list", help="List your projects, their releases and measures")
    ] = False,
    url: Annotated[str, typer.Option(envvar="HUB_URL", help="The hub's address")] = DEFAULT_URL,
    token: Annotated[
        str | None, typer.Option(envvar="HUB_TOKEN", help="Your API token", show_default=False)
    ] = None,
) -> None:
    """Run SQL over your project's view of a release and get a controlled table of counts:
    the hub counts the query's rows by every column it returns, suppresses counts of 7 or fewer
    and rounds the rest to 5. --rows gives rows instead, for row-level projects only."""
    if output_format not in FORMATS:
        raise UserError(
            f"unknown format {output_format!r}", hint=f"use one of {', '.join(FORMATS)}"
        )
    if output_format == "arrow" and output is None:
        raise UserError("an Arrow result is binary: give a file with --out")
    with _client(url, token) as client:
        if list_projects:
            _list(client)
            return
        if project is None:
            raise UserError("name your project with --project", hint="hub query --list shows them")
        fmt = {"table": "json"}.get(output_format, output_format)
        if measure is not None:
            response = _call(
                client, "GET", f"/projects/{project}/measures/{measure}", params={"format": fmt}
            )
        else:
            text = _sql(sql, file)
            body = {"sql": text, "release": release, "mode": "rows" if rows else "counts"}
            response = _call(
                client, "POST", f"/projects/{project}/query", params={"format": fmt}, json=body
            )
    if output is not None:
        output.write_bytes(response.content)
        out.print(f"wrote {output}")
    elif output_format == "table":
        _show(response.json())
    else:
        sys.stdout.write(response.text)


def _sql(sql: str | None, file: Path | None) -> str:
    if file is not None:
        if not file.is_file():
            raise UserError(f"no file {file}")
        return file.read_text(encoding="utf-8")
    if sql == "-":
        return sys.stdin.read()
    if not sql:
        raise UserError("give the SQL as an argument, with --file, or '-' for stdin")
    return sql


def _list(client: Any) -> None:
    projects = _call(client, "GET", "/projects").json()["projects"]
    if not projects:
        out.print("You are on no project yet.")
    for p in projects:
        out.print(
            f"[bold]{p['name']}[/]: {p['title']}" + (" (row-level)" if p["row_level"] else "")
        )
        for a in p["agreements"]:
            out.print(
                f"  {'uses' if a['available'] else 'not available'}: {a['id']} ({a['reason']})"
            )
        out.print(f"  releases: {', '.join(p['releases']) or 'none yet'}")
        if p["releases"]:
            measures = _call(client, "GET", f"/projects/{p['name']}/measures").json()["measures"]
            out.print("  measures: " + ", ".join(m["id"] for m in measures))
