"""Pointing Airflow at the hub's folders before Airflow is imported, and migrating its database.

Airflow reads its configuration from the environment when first imported, so every entry point
that runs DAGs in-process calls ``configure_airflow`` first.
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from hub.settings import PROJECT_ROOT, Settings

DAGS_FOLDER = PROJECT_ROOT / "dags"


def airflow_environment(settings: Settings) -> dict[str, str]:
    """The environment Airflow needs for the embedded default (SQLite, in-process runs)."""
    home = settings.airflow_dir.resolve()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # The hub's own settings travel to the tasks through the same environment.
        "HUB_DATA_DIR": str(settings.data_dir.resolve()),
        "HUB_KEY_DIR": str(settings.key_dir.resolve()),
        "HUB_CONTRACTS_DIR": str(settings.contracts_dir.resolve()),
        "HUB_ENV": settings.env,
        **({"HUB_DATABASE_URL": settings.database_url} if settings.database_url else {}),
        **(
            {"HUB_MASTER_KEY_FILE": str(settings.master_key_file.resolve())}
            if settings.master_key_file
            else {}
        ),
        **_storage_environment(settings),
    }


def _storage_environment(settings: Settings) -> dict[str, str]:
    """Where the zones are, for tasks to read and write the same ones."""
    if settings.storage == "local":
        return {"HUB_STORAGE": "local"}
    values = {
        "HUB_STORAGE": settings.storage,
        "HUB_S3_BUCKET_PREFIX": settings.s3_bucket_prefix,
        "HUB_S3_REGION": settings.s3_region,
        "HUB_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "HUB_S3_ACCESS_KEY_ID": settings.s3_access_key_id,
        "HUB_S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key,
    }
    return {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in values.items()
        if value is not None
    }


def configure_airflow(settings: Settings) -> None:
    settings.airflow_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.update(airflow_environment(settings))


def migrate_airflow_db() -> None:
    """Create or upgrade Airflow's metadata database (idempotent)."""
    from airflow.utils import db

    db.upgradedb()
