"""``hub audit ...``: read and verify the hash-chained audit log."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hub.cli.common import out, settings, store
from hub.cli.errors import handle_errors

app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
@handle_errors
def verify() -> None:
    """Walk the whole chain; exit 1 if any entry was edited or deleted."""
    from hub import audit

    result = audit.verify(store(settings()))
    for problem in result.problems:
        out.print(f"[red]broken[/] {problem}")
    if not result.ok:
        out.print(f"[bold red]the audit log was tampered with[/] ({result.entries} entries)")
        raise typer.Exit(1)
    out.print(
        f"[green]intact[/]: {result.entries} entries; head {result.head_seq} "
        f"{result.head_hash} (keep a copy elsewhere to detect truncation)"
    )


@app.command("show")
@handle_errors
def show(
    subject: Annotated[str | None, typer.Option(help="e.g. agreement:police-sv")] = None,
    limit: Annotated[int, typer.Option(help="Newest entries to show")] = 50,
) -> None:
    """The newest entries, optionally about one subject."""
    from hub import audit

    for e in audit.entries(store(settings()), subject=subject, limit=limit):
        out.print(
            f"{e.seq:>7} {e.at.strftime('%Y-%m-%d %H:%M:%S')} {e.action:<20} {e.subject} "
            f"by {e.actor} {json.dumps(e.detail, sort_keys=True)}",
            soft_wrap=True,
        )
