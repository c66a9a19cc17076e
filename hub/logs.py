"""Logging set-up. Log lines name agreements, extracts, counts and rules; never row values."""

from __future__ import annotations

import logging

from hub.settings import Settings


def configure_logging(settings: Settings, *, level: int = logging.INFO) -> None:
    """Send the hub's log records to ``<data_dir>/logs/hub.log``."""
    settings.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = logging.FileHandler(settings.log_dir / "hub.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("hub")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for noisy in ("great_expectations", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
