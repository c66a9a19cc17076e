"""``hub projects``: the analysts' projects of contracts/projects/ and where each stands today."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from hub.cli.common import out, settings, store
from hub.cli.errors import handle_errors

app = typer.Typer(help="Analysts' projects (contracts/projects/).", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_() -> None:
    """Every project, its analysts, and which of its agreements it may draw on today."""
    from hub.agreements.loader import load_agreements_leniently
    from hub.agreements.registry import AgreementRegistry
    from hub.analysis.projects import approval, load_projects

    s = settings()
    engine = store(s)
    registry = AgreementRegistry.open(s, engine)
    agreements, _ = load_agreements_leniently(s.contracts_dir)
    projects = load_projects(s.contracts_dir)
    if not projects:
        out.print(f"no project files in {s.contracts_dir / 'projects'}")
        return
    table = Table("project", "outputs", "analysts", "agreements today")
    for name, project in projects.items():
        standing = approval(project, agreements, registry, date.today())
        lines = [
            f"{'uses' if c.usable else 'not'} {c.agreement_id}: {c.reason}" for c in standing.checks
        ]
        if standing.expired:
            lines.insert(0, f"approval ended {project.until}: sees nothing")
        table.add_row(
            f"{name}\n{project.title}",
            "rows and counts" if project.row_level else "counts only",
            "\n".join(project.analysts) or "none",
            "\n".join(lines),
        )
    out.print(table)
