"""The ``hub`` command line."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.cli import (
    agreements,
    audit,
    backup,
    deliveries,
    expectations,
    partners,
    projects,
    query,
    retention,
    signers,
    users,
)
from hub.cli.errors import handle_errors
from hub.settings import Settings

app = typer.Typer(
    help="Serious Violence Duty data-sharing hub: agreements, pseudonymisation, linkage, release.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The hub's metadata store.", no_args_is_help=True)
keys_app = typer.Typer(
    help="The keyring of data keys (wrapped under the master key).", no_args_is_help=True
)
extract_app = typer.Typer(help="Partner extracts: receive and stage.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(agreements.app, name="agreement")
app.add_typer(signers.app, name="signers")
app.add_typer(audit.app, name="audit")
app.add_typer(backup.app, name="backup")
app.add_typer(users.app, name="users")
app.add_typer(partners.app, name="partners")
app.add_typer(projects.app, name="projects")
app.add_typer(expectations.app, name="expectations")
app.command("deliveries")(deliveries.deliveries)
app.command("retention")(retention.retention)
app.command("query")(query.query)
app.add_typer(extract_app, name="extract")
out = Console(highlight=False)


def _settings() -> Settings:
    return Settings()


@app.command()
@handle_errors
def demo(
    rows: Annotated[
        int | None,
        typer.Option(help="Total synthetic rows (1,000-10,000,000); default: one partnership-year"),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the synthetic partnership")] = None,
) -> None:
    """Run the whole job on a synthetic partnership: upload, stage (Airflow), link, publish."""
    from hub.cli.demo import run_demo

    run_demo(_settings(), rows=rows, seed=seed, console=out)


@app.command()
@handle_errors
def synth(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write the partners' files to")
    ] = Path("var/partners"),
    rows: Annotated[int | None, typer.Option(help="Total rows (1,000-10,000,000)")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed; the same seed gives the same files")
    ] = None,
    noise: Annotated[float, typer.Option(help="Multiplier of the identifier noise rates")] = 1.0,
) -> None:
    """Write a synthetic partnership's extracts, reference lookup and ground truth."""
    from hub.synth import DEFAULT_SEED, generate_partnership

    summary = generate_partnership(
        out_dir, seed=DEFAULT_SEED if seed is None else seed, rows=rows, noise=noise
    )
    for agreement_id, n in summary.rows.items():
        out.print(f"{agreement_id:<20} {n:>10,} rows")
    out.print(f"written to {out_dir}")


@db_app.command("upgrade")
@handle_errors
def db_upgrade() -> None:
    """Create or migrate the metadata store to the latest schema (safe to repeat)."""
    from hub.store import make_engine, upgrade

    settings = _settings()
    upgrade(make_engine(settings.metadata_url))
    out.print("metadata store is up to date")


@keys_app.command("init")
@handle_errors
def keys_init() -> None:
    """Create the keyring (once per installation; refuses to replace an existing one)."""
    from hub.privacy.keys import init_keyring

    ring = init_keyring(_settings())
    out.print(f"keyring created at {ring.path}")


class KeyPurpose(StrEnum):
    PSEUDONYMISATION = "pseudonymisation"
    RELEASE = "release"
    LANDING = "landing"
    ENCODING = "encoding"


@keys_app.command("rotate")
@handle_errors
def keys_rotate(
    purpose: Annotated[
        KeyPurpose,
        typer.Option(
            help="pseudonymisation: re-key every tokens file and name encodings' tokens (no raw "
            "data needed); landing: new sealed files use the new key; release: new releases use "
            "the new key; encoding: new name encodings use the new key and the old ones are "
            "deleted (they cannot be re-keyed; links already made are kept)"
        ),
    ] = KeyPurpose.PSEUDONYMISATION,
) -> None:
    """Add a new key version (old ones are kept). Run it again after a crash to finish."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from hub.agreements.registry import cli_actor
    from hub.cli.common import store
    from hub.logs import configure_logging
    from hub.privacy.keys import open_keyring
    from hub.privacy.rotation import rotate_keys

    settings = _settings()
    configure_logging(settings)
    engine = store(settings)
    keyring = open_keyring(settings)
    with Progress(
        TextColumn("re-keying tokens files"), BarColumn(), MofNCompleteColumn(), console=out
    ) as bar:
        task = bar.add_task("rekey", total=None)
        result = rotate_keys(
            settings,
            engine,
            keyring,
            purpose.value,
            actor=cli_actor(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    engine.dispose()
    if result.resumed:
        out.print(
            f"finished the interrupted rotation to {purpose.value} key version {result.version}"
        )
    else:
        out.print(f"{purpose.value} key rotated to version {result.version}")
    if result.purpose == "pseudonymisation":
        out.print(
            f"tokens files re-keyed: {result.rekeyed}; already at version {result.version}: "
            f"{result.skipped} ({result.seconds:.1f} s)"
        )
        if result.resumed:
            out.print("run `hub keys rotate` again to add another version")
    if result.purpose == "encoding":
        out.print(
            f"name encodings deleted: {result.encodings_dropped} (their extracts now link on "
            "exact tokens only; staging them again encodes them under the new key)"
        )


@keys_app.command("status")
@handle_errors
def keys_status() -> None:
    """Key versions per purpose (never key material), and tokens files per key version."""
    from collections import Counter

    from hub.privacy.keys import PURPOSES, open_keyring
    from hub.privacy.rotation import token_file_version, token_files
    from hub.storage import zone_store

    settings = _settings()
    keyring = open_keyring(settings)
    for purpose in PURPOSES:
        for version in keyring.versions(purpose):
            key = keyring.get(purpose, version)
            created = keyring.created_at(key) or "unknown"
            current = " (current)" if version == keyring.current(purpose).version else ""
            out.print(f"{key.label:<22} created {created}{current}")
    linkage = zone_store(settings, "linkage")
    counts = Counter(token_file_version(linkage, p) for p in token_files(linkage))
    for version, n in sorted(counts.items()):
        out.print(f"tokens files at pseudonymisation/v{version}: {n}")
    if len(counts) > 1:
        out.print("[yellow]a rotation has not finished[/]: run `hub keys rotate` to finish it")


@extract_app.command("receive")
@handle_errors
def extract_receive(
    agreement_id: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    sender: Annotated[str, typer.Option(help="Organisation sending the file")],
) -> None:
    """Seal a partner file into the landing zone under an agreement."""
    from hub.agreements import get_agreement
    from hub.pipeline.landing import receive_extract
    from hub.privacy.keys import open_keyring
    from hub.store import make_engine, upgrade

    settings = _settings()
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    agreement = get_agreement(settings.contracts_dir, agreement_id)
    with file.open("rb") as source:
        extract = receive_extract(
            settings,
            engine,
            open_keyring(settings),
            agreement,
            sender_org=sender,
            source=source,
            source_name=file.name,
        )
    out.print(
        json.dumps({"extract_id": extract.id, "sha256": extract.sha256, "status": extract.status})
    )


@extract_app.command("stage")
@handle_errors
def extract_stage(agreement_id: str, extract_id: str) -> None:
    """Stage a received extract directly (the agreement's DAG does the same)."""
    from hub.pipeline.tasks import run_stage

    out.print(json.dumps(run_stage(agreement_id, extract_id)))


@app.command()
@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Serve the hub's web pages and API (uvicorn)."""
    import uvicorn

    from hub.web.app import create_app

    uvicorn.run(create_app(_settings()), host=host, port=port, proxy_headers=True)


@app.command()
@handle_errors
def publish(
    full_relink: Annotated[
        bool,
        typer.Option(
            "--full-relink",
            help="score every pair of records again with a newly trained linkage model, "
            "instead of linking only extracts new since the last run",
        ),
    ] = False,
) -> None:
    """Link every staged extract in force and publish a release (the one-picture DAG's task)."""
    from hub.pipeline.tasks import run_publish

    out.print(json.dumps(run_publish(full_relink=full_relink)))


def main() -> None:
    app()
