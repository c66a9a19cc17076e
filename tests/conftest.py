"""Shared fixtures: an isolated hub installation per test, and Airflow once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONTRACTS = ROOT / "contracts"


def make_settings(base: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "data_dir": base / "var",
        "key_dir": base / "keys",
        "master_key_file": base / "secrets" / "master.key",
        "contracts_dir": CONTRACTS,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = make_settings(tmp_path)
    s.ensure_dirs()
    return s


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Airflow configured for the whole session (it reads its config once, at import)."""
    from hub.pipeline.airflow_env import airflow_environment, migrate_airflow_db

    base = tmp_path_factory.mktemp("airflow-session")
    env = airflow_environment(make_settings(base))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    migrate_airflow_db()
    yield base
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
