"""The partnership's feeds against the metadata store: a received extract counts for its period,
the others are due or late; one partner sees its own feeds; the CLI can fail a monitoring job."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.agreements import load_agreements
from hub.agreements.development import approve_for_development
from hub.agreements.registry import AgreementRegistry
from hub.cli.app import app
from hub.ingestion.deliveries import DeliveryState, deliveries
from hub.pipeline.landing import receive_extract
from hub.privacy.keys import init_keyring
from hub.settings import Settings
from hub.store import make_engine, upgrade
from tests.conftest import CONTRACTS

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def test_a_received_extract_counts_and_the_rest_are_late(settings: Settings) -> None:
    engine = make_engine(settings.metadata_url)
    upgrade(engine)
    agreements = load_agreements(CONTRACTS)
    approve_for_development(settings, engine, agreements.values())
    police = agreements["police-sv"]
    receive_extract(
        settings,
        engine,
        init_keyring(settings),
        police,
        sender_org=police.provider,
        source=io.BytesIO(b"any bytes: receiving does not parse"),
        source_name="police.csv",
        today=date(2026, 11, 20),
    )
    registry = AgreementRegistry.open(settings, engine)
    found = {d.agreement_id: d for d in deliveries(agreements.values(), registry, NOW)}
    assert found["police-sv"].state is DeliveryState.RECEIVED
    others = {found[a].state for a in found if a != "police-sv"}
    assert DeliveryState.RECEIVED not in others
    assert DeliveryState.LATE in others
    mine = deliveries(agreements.values(), registry, NOW, provider="merseyvale-hospitals")
    assert [d.agreement_id for d in mine] == ["ed-assaults"]
    engine.dispose()


def test_the_cli_fails_a_monitoring_job_when_a_feed_is_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(tmp_path / "var"),
        "HUB_KEY_DIR": str(tmp_path / "keys"),
        "HUB_CONTRACTS_DIR": str(CONTRACTS),
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    calm = runner.invoke(app, ["deliveries"])
    assert calm.exit_code == 0, calm.output
    assert "not_in_force" in calm.output  # nothing is approved in a new installation
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'hub.db'}")
    approve_for_development(
        Settings(env="test", data_dir=tmp_path / "var", key_dir=tmp_path / "keys"),
        engine,
        load_agreements(CONTRACTS).values(),
    )
    engine.dispose()
    late = runner.invoke(app, ["deliveries", "--partner", "merseyvale-police", "--fail-on-late"])
    assert late.exit_code == 1
    assert "late" in late.output and "police-sv" in late.output
