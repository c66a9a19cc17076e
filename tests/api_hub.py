"""A hub set up for the partner API tests: the agreements police-sv and ed-assaults approved for
development, a keyring, and a partner credential for each provider.

``make_api_hub(base)`` builds it under ``base`` (a test's ``tmp_path``); the caller disposes of
``hub.engine``. Serve it with ``tests.live_server.live_server(create_app(hub.settings))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from hub.agreements import get_agreement
from hub.agreements.development import approve_for_development
from hub.ingestion.credentials import issue_credential
from hub.pipeline.landing import partials_dir
from hub.privacy.keys import Keyring, init_keyring
from hub.settings import Settings
from hub.store import Extract, make_engine, session_scope, upgrade
from tests.conftest import make_settings

AGREEMENTS = ("police-sv", "ed-assaults")


@dataclass
class ApiHub:
    settings: Settings
    engine: Engine
    keyring: Keyring
    police: str  # token of merseyvale-police (provider of police-sv)
    hospitals: str  # token of merseyvale-hospitals (provider of ed-assaults)
    police_id: str

    def landing_files(self) -> list[Path]:
        return sorted(p for p in self.settings.zone("landing").rglob("*") if p.is_file())

    def extracts(self) -> int:
        with session_scope(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(Extract)) or 0)

    def spooled(self) -> list[Path]:
        """Unfinished (partial) sealed files, and finished ones not yet put into the zone."""
        return sorted(partials_dir(self.settings).rglob(".*.partial"))

    def assert_nothing_stored(self) -> None:
        assert self.landing_files() == []
        assert self.extracts() == 0
        assert self.spooled() == []


def make_api_hub(base: Path) -> ApiHub:
    """An isolated hub under ``base`` with AGREEMENTS approved and a credential per provider."""
    settings = make_settings(base)
    settings.ensure_dirs()
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    keyring = init_keyring(settings)
    agreements = [get_agreement(settings.contracts_dir, a) for a in AGREEMENTS]
    approve_for_development(settings, engine, agreements)
    police_id, police = issue_credential(engine, "merseyvale-police", "Niche RMS")
    _, hospitals = issue_credential(engine, "merseyvale-hospitals", "ED system")
    return ApiHub(settings, engine, keyring, police, hospitals, police_id)


def write_postcode_lookup(settings: Settings) -> None:
    """police-sv generalises home postcodes to LSOA, so staging needs the partnership's lookup
    (the fixture's postcodes are outside it, so they become null)."""
    settings.reference_dir.mkdir(parents=True, exist_ok=True)
    (settings.reference_dir / "postcode_lsoa.csv").write_text(
        "postcode,lsoa_code\nL1 8JQ,E01006512\n", encoding="utf-8"
    )
