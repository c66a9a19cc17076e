"""``hub retention``: apply each agreement's retention to the zones (the retention DAG's task)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from hub.cli.common import out, settings, store
from hub.cli.errors import handle_errors


@handle_errors
def retention(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing")
    ] = False,
) -> None:
    """Delete landed files, staged extracts, tokens and releases past their agreement's
    retention; every deletion is audited. Safe to repeat."""
    from hub.agreements.loader import load_agreements_leniently
    from hub.retention import apply_retention

    s = settings()
    agreements, _ = load_agreements_leniently(s.contracts_dir)
    run = apply_retention(s, store(s), agreements, now=datetime.now(UTC), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for deletion in run.deleted:
        out.print(
            f"{verb} {deletion.zone:<10} {deletion.subject} ({deletion.rule})", soft_wrap=True
        )
    for reason in run.kept:
        out.print(f"[yellow]kept[/] {reason}", soft_wrap=True)
    out.print(f"{len(run.deleted)} item(s) {verb}, {len(run.kept)} kept past their time")
