"""``hub partners ...``: API credentials of partner systems (police, hospital, council feeds)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hub.agreements.registry import cli_actor
from hub.cli.common import out, settings, store
from hub.cli.errors import handle_errors

app = typer.Typer(help="API credentials of partner systems.", no_args_is_help=True)


@app.command("issue")
@handle_errors
def issue(
    org: Annotated[str, typer.Option(help="Organisation (as named in the agreements)")],
    name: Annotated[str, typer.Option(help="The partner system, e.g. 'Niche RMS nightly'")],
) -> None:
    """Issue a credential; the token is shown once and only its hash is kept."""
    from hub.agreements.loader import load_agreements_leniently
    from hub.ingestion.credentials import issue_credential

    s = settings()
    credential_id, token = issue_credential(store(s), org, name, actor=cli_actor())
    out.print(f"issued credential {credential_id} for {name} ({org})")
    agreements, _ = load_agreements_leniently(s.contracts_dir)
    provided = sorted(a.id for a in agreements.values() if a.provider == org)
    if provided:
        out.print(f"{org} provides data under: {', '.join(provided)}")
    else:
        out.print(
            f"[yellow]note:[/] no agreement in {s.contracts_dir} names {org} as its provider, "
            "so every upload with this credential is refused until one does",
            soft_wrap=True,
        )
    out.print("token (shown once; give it to the partner's IT team over a secure channel):")
    out.print(token, soft_wrap=True)


@app.command("list")
@handle_errors
def list_(
    org: Annotated[str | None, typer.Option(help="Only this organisation's credentials")] = None,
) -> None:
    """Every credential (never a token)."""
    from hub.ingestion.credentials import list_credentials

    table = Table("id", "organisation", "name", "issued", "revoked")
    for credential in list_credentials(store(settings()), org):
        revoked = credential.revoked_at.date().isoformat() if credential.revoked_at else ""
        table.add_row(
            credential.id,
            credential.org,
            credential.name,
            credential.created_at.date().isoformat(),
            revoked,
        )
    out.print(table)


@app.command("revoke")
@handle_errors
def revoke(credential_id: str) -> None:
    """Stop a credential working at once."""
    from hub.ingestion.credentials import revoke_credential

    credential = revoke_credential(store(settings()), credential_id, actor=cli_actor())
    out.print(f"revoked credential {credential.id} ({credential.name}, {credential.org})")
