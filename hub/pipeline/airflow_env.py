"""Pointing Airflow at the hub's folders before Airflow is imported, and migrating its database.

Airflow reads its configuration from the environment when first imported, so every entry point
that runs DAGs in-process calls ``configure_airflow`` first.
"""

from __future__ import annotations

import os

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
    }


def configure_airflow(settings: Settings) -> None:
    settings.airflow_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.update(airflow_environment(settings))


def migrate_airflow_db() -> None:
    """Create or upgrade Airflow's metadata database (idempotent)."""
    from airflow.utils import db

    db.upgradedb()
