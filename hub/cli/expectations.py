"""``hub expectations ...``: write the GX suites generated from the agreements, or check them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from hub.cli.common import out, settings
from hub.cli.errors import handle_errors

app = typer.Typer(
    help="Great Expectations suites generated from the agreements (expectations/).",
    no_args_is_help=True,
)

ContractsOption = Annotated[
    Path | None,
    typer.Option("--contracts", help="Agreement folder (default: the hub's contracts/)"),
]
DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="Suite folder (default: expectations/ beside the contracts)"),
]


def _folders(contracts: Path | None, folder: Path | None) -> tuple[Path, Path]:
    from hub.quality.suites import expectations_dir_for

    contracts = contracts or settings().contracts_dir
    return contracts, folder or expectations_dir_for(contracts)


@app.command("write")
@handle_errors
def write(contracts: ContractsOption = None, folder: DirOption = None) -> None:
    """Write <agreement>.json for every agreement: generated rules plus <agreement>.extra.json."""
    from hub.quality.suites import check_suites, write_suites

    contracts_dir, expectations_dir = _folders(contracts, folder)
    changed = write_suites(contracts_dir, expectations_dir)
    for path in changed:
        out.print(f"wrote {escape(str(path))}")
    if not changed:
        out.print(f"unchanged: every suite in {escape(str(expectations_dir))} is up to date")
    for drift in check_suites(contracts_dir, expectations_dir):
        out.print(f"[yellow]{escape(str(drift))}[/]: no agreement has this id; remove it if unused")


@app.command("check")
@handle_errors
def check(contracts: ContractsOption = None, folder: DirOption = None) -> None:
    """Fail (exit 1) when a suite is missing, stale or has no agreement."""
    from hub.quality.suites import check_suites

    contracts_dir, expectations_dir = _folders(contracts, folder)
    drift = check_suites(contracts_dir, expectations_dir)
    for problem in drift:
        out.print(f"[red]{escape(str(problem))}[/]")
    if drift:
        out.print("run `hub expectations write` and commit the result")
        raise typer.Exit(1)
    out.print(f"[green]ok[/] every suite in {escape(str(expectations_dir))} is up to date")
