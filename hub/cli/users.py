"""``hub users ...``: people who sign in to the web pages (leads, analysts, admins)."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.table import Table

from hub import audit
from hub.agreements.registry import cli_actor
from hub.cli.common import out, settings, store
from hub.cli.errors import handle_errors

app = typer.Typer(help="Web sign-in accounts.", no_args_is_help=True)


@app.command("add")
@handle_errors
def add(
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    org: Annotated[str, typer.Option(help="Organisation (as named in the agreements)")],
    role: Annotated[str, typer.Option(help="data_protection_lead, analyst or admin")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Create an account; the password is asked for (or read from stdin), stored as scrypt."""
    from hub.accounts.users import Role, add_user
    from hub.errors import UserError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password (12+ characters): ")
        if getpass.getpass("Repeat it: ") != password:
            raise UserError("the passwords differ")
    try:
        chosen = Role(role)
    except ValueError:
        raise UserError(
            f"unknown role {role!r}", hint="roles: " + ", ".join(r.value for r in Role)
        ) from None
    engine = store(settings())
    user = add_user(engine, email=email, name=name, org=org, role=chosen, password=password)
    audit.record(
        engine,
        actor=cli_actor(),
        action="user.added",
        subject=f"user:{user.email}",
        detail={"org": user.org, "role": user.role},
    )
    out.print(f"added {user.email} ({user.role} of {user.org})")


@app.command("list")
@handle_errors
def list_() -> None:
    """Every account."""
    from hub.accounts.users import list_users

    table = Table("email", "name", "organisation", "role", "disabled")
    for user in list_users(store(settings())):
        disabled = user.disabled_at.date().isoformat() if user.disabled_at else ""
        table.add_row(user.email, user.name, user.org, user.role, disabled)
    out.print(table)


@app.command("disable")
@handle_errors
def disable(email: str) -> None:
    """Stop an account signing in (its sessions end at once)."""
    from hub.accounts.users import disable_user

    engine = store(settings())
    user = disable_user(engine, email)
    audit.record(engine, actor=cli_actor(), action="user.disabled", subject=f"user:{user.email}")
    out.print(f"disabled {email}")


@app.command("token")
@handle_errors
def token(
    email: str,
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'laptop: hub query'")],
    days: Annotated[int, typer.Option(help="How long it lasts (1-365 days)")] = 90,
) -> None:
    """Issue an API token acting as this user (for hub query and scripts); shown once."""
    from hub.accounts.tokens import issue_token

    token_id, secret, expires = issue_token(
        store(settings()), email, name, actor=cli_actor(), days=days
    )
    out.print(f"token {token_id} for {email}, valid until {expires:%d %b %Y}:")
    out.print(secret, soft_wrap=True)
    out.print("It is shown once; keep it like a password (export HUB_TOKEN=...).")


@app.command("revoke-token")
@handle_errors
def revoke_token(token_id: str) -> None:
    """Stop an API token working at once."""
    from hub.accounts.tokens import revoke_token as revoke

    revoke(store(settings()), token_id, actor=cli_actor())
    out.print(f"revoked token {token_id}")
