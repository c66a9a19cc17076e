"""A synthetic partnership received and staged into an isolated hub by calling the pipeline
functions directly (no Airflow): the starting point of tests that need staged extracts."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import Engine

from hub.agreements import load_agreements
from hub.agreements.development import approve_for_development
from hub.agreements.model import Agreement
from hub.pipeline.landing import receive_extract
from hub.pipeline.stage import stage_extract
from hub.privacy.keys import Keyring, init_keyring
from hub.settings import Settings
from hub.store import make_engine, upgrade
from hub.synth import SynthSummary, generate_partnership
from tests.conftest import make_settings


def receive_and_stage(
    settings: Settings, engine: Engine, ring: Keyring, agreement: Agreement, path: Path
) -> str:
    """Receive ``path`` from the agreement's provider and stage it; the extract id."""
    with path.open("rb") as source:
        extract = receive_extract(
            settings, engine, ring, agreement,
            sender_org=agreement.provider, source=source, source_name=path.name,
        )  # fmt: skip
    stage_extract(settings, engine, ring, agreement, extract.id)
    return extract.id


def stage_partnership(
    base: Path, rows: int, contracts_dir: Path | None = None, settings: Settings | None = None
) -> tuple[Settings, Engine, Keyring, SynthSummary]:
    """A hub under ``base`` with every example agreement approved and a synthetic partnership of
    ``rows`` rows (files and ground truth under ``base/partners``) received and staged; the
    agreements of ``contracts_dir`` instead of the repository's when given, the hub of
    ``settings`` (its data directory under ``base``) instead of a local one when given."""
    if settings is None:
        settings = make_settings(
            base, **({"contracts_dir": contracts_dir} if contracts_dir else {})
        )
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    ring = init_keyring(settings)
    agreements = load_agreements(settings.contracts_dir)
    summary = generate_partnership(base / "partners", rows=rows)
    settings.reference_dir.mkdir(parents=True)
    shutil.copyfile(
        base / "partners" / "reference" / "postcode_lsoa.csv",
        settings.reference_dir / "postcode_lsoa.csv",
    )
    approve_for_development(settings, engine, agreements.values())
    for agreement_id, agreement in agreements.items():
        receive_and_stage(settings, engine, ring, agreement, summary.files[agreement_id])
    return settings, engine, ring, summary
