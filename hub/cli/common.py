"""What the command modules share: settings, the console, and the metadata store."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import Engine

from hub.settings import Settings

out = Console(highlight=False)


def settings() -> Settings:
    return Settings()


def store(s: Settings) -> Engine:
    """The metadata store, migrated to the latest schema (safe to repeat)."""
    from hub.store import make_engine, upgrade

    engine = make_engine(s.metadata_url)
    upgrade(engine)
    return engine
