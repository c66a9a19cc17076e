"""``hub signers ...``: data protection leads' signing keys."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.agreements import PASSPHRASE_ENV
from hub.cli.common import out, settings
from hub.cli.errors import handle_errors

app = typer.Typer(
    help="Data protection leads' Ed25519 signing keys (public keys under keys/public).",
    no_args_is_help=True,
)


@app.command("keygen")
@handle_errors
def keygen(
    org: Annotated[str, typer.Option(help="Your organisation (as in the agreements)")],
    name: Annotated[str, typer.Option(help="Your name")],
    email: Annotated[str, typer.Option(help="Your email (as the agreements name you)")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write your private key (not in the repo)")
    ],
) -> None:
    """Make a signing key pair on YOUR machine: the private key is written encrypted with your
    passphrase; send the .pub.json file beside it to the hub operator to register."""
    from hub.agreements.signing import (
        new_signer,
        public_record_path,
        save_private_key,
        write_public_record,
    )
    from hub.errors import UserError

    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = getpass.getpass("Choose a passphrase (12+ characters): ")
        if getpass.getpass("Repeat it: ") != passphrase:
            raise UserError("the passphrases differ")
    private, public = new_signer(org, name, email)
    save_private_key(private, out_file, passphrase)
    record = public_record_path(out_file)
    write_public_record(public, record)
    out.print(f"private key (encrypted): {out_file}")
    out.print(f"public key {public.key_id}: {record}")
    out.print("next: the hub operator runs `hub signers register` with the public key file")


@app.command("register")
@handle_errors
def register(
    public_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
) -> None:
    """Register a lead's public key under keys/public (done by the hub operator)."""
    from hub import audit
    from hub.agreements.registry import cli_actor
    from hub.agreements.signing import SignerDirectory, SignerKey
    from hub.cli.common import store

    s = settings()
    key = SignerKey.from_json(json.loads(public_file.read_text(encoding="utf-8")), str(public_file))
    path = SignerDirectory.load(s.key_dir / "public").register(key)
    audit.record(
        store(s),
        actor=cli_actor(),
        action="signer.registered",
        subject=f"signer:{key.email}",
        detail={"org": key.org, "key_id": key.key_id},
    )
    out.print(f"registered {key.key_id} for {key.email} of {key.org} at {path}")


@app.command("list")
@handle_errors
def list_() -> None:
    """The registered public keys."""
    from hub.agreements.signing import SignerDirectory

    s = settings()
    table = Table("key id", "organisation", "lead", "email", "registered")
    for key in SignerDirectory.load(*s.signer_dirs):
        table.add_row(key.key_id, key.org, key.name, key.email, key.registered)
    out.print(table)
