"""The ``hub`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.cli import agreements, audit, signers, users
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
app.add_typer(users.app, name="users")
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
def publish() -> None:
    """Link every staged extract in force and publish a release (the one-picture DAG's task)."""
    from hub.pipeline.tasks import run_publish

    out.print(json.dumps(run_publish()))


def main() -> None:
    app()
