"""``hub backup``: back up and restore the metadata store and the keyring (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import out, settings
from hub.cli.errors import handle_errors

app = typer.Typer(
    help="Back up and restore the metadata store and the keyring.", no_args_is_help=True
)


@app.command("create")
@handle_errors
def create(
    folder: Annotated[Path, typer.Argument(help="A new folder to write the backup to")],
) -> None:
    """Write every table of the metadata store and the wrapped keyring to FOLDER."""
    from hub.store import make_engine
    from hub.store.backup import create_backup

    s = settings()
    summary = create_backup(make_engine(s.metadata_url), s.key_dir, folder)
    out.print(
        f"backed up {sum(summary.rows.values()):,} rows in {len(summary.rows)} tables and the "
        f"keyring to {folder} (schema {summary.revision}); the master key is not in it"
    )


@app.command("restore")
@handle_errors
def restore(
    folder: Annotated[Path, typer.Argument(help="A folder written by hub backup create")],
) -> None:
    """Restore FOLDER into an empty metadata store and a key folder without a keyring; then
    check that the keyring opens with this installation's master key."""
    from hub.privacy.keys import PURPOSES, open_keyring
    from hub.store import make_engine
    from hub.store.backup import restore_backup

    s = settings()
    summary = restore_backup(make_engine(s.metadata_url), s.key_dir, folder)
    ring = open_keyring(s)
    versions = ", ".join(f"{p} v{ring.current(p).version}" for p in PURPOSES)
    out.print(
        f"restored {sum(summary.rows.values()):,} rows and the keyring from {folder}; the audit "
        f"log verifies and the keyring opens ({versions})"
    )
