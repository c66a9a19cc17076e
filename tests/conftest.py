"""Shared fixtures: an isolated hub installation per test, and Airflow once per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from hub.settings import Settings
from hub.store import make_engine

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONTRACTS = ROOT / "contracts"


def make_settings(base: Path, **overrides: object) -> Settings:
    """Settings of an isolated hub under ``base``. Accepted extracts start nothing
    (``pipeline_trigger="none"``) unless a test passes another trigger, so no background staging
    outlives a test's temporary folders."""
    values: dict[str, object] = {
        "env": "test",
        "pipeline_trigger": "none",
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
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server, one process for the whole session."""
    from tests.s3_server import s3_server

    with s3_server() as url:
        yield url


@pytest.fixture
def s3_settings(tmp_path: Path, s3_endpoint: str) -> Iterator[Settings]:
    """Settings of an isolated hub whose zones are buckets of their own on the S3 server
    (``HUB_STORAGE=s3``); the buckets are emptied and removed afterwards."""
    from hub.settings import ZONES
    from tests.s3_server import ACCESS_KEY, SECRET_KEY, drop_buckets, make_buckets

    prefix = f"t{uuid.uuid4().hex[:12]}"
    buckets = [f"{prefix}-{zone}" for zone in ZONES]
    make_buckets(s3_endpoint, buckets)
    s = make_settings(
        tmp_path,
        storage="s3",
        s3_endpoint_url=s3_endpoint,
        s3_bucket_prefix=prefix,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
    )
    s.ensure_dirs()
    yield s
    drop_buckets(s3_endpoint, buckets)


PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The metadata store on SQLite and, when HUB_TEST_DATABASE_URL is set, on PostgreSQL in a
    schema of its own that is dropped afterwards."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
        yield eng
        eng.dispose()
        return
    if not PG_URL:
        pytest.skip("HUB_TEST_DATABASE_URL is not set")
    schema = f"hub_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield eng
    eng.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


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
