"""Serving an extract's Data Docs: the file under its own folder, or nothing."""

from __future__ import annotations

from pathlib import Path

from hub.errors import NotFoundError
from hub.settings import Settings

QUALITY_DIR = "quality"  # under the data directory: <agreement>/<extract>/docs/


def docs_dir(settings: Settings, agreement_id: str, extract_id: str) -> Path:
    return settings.data_dir / QUALITY_DIR / agreement_id / extract_id / "docs"


def data_docs_file(settings: Settings, agreement_id: str, extract_id: str, path: str) -> Path:
    """The Data Docs file ``path`` of one extract (``index.html`` when empty); never a file
    outside that extract's folder."""
    base = docs_dir(settings, agreement_id, extract_id).resolve()
    target = (base / (path or "index.html")).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        raise NotFoundError(
            f"extract {extract_id} has no Data Docs page {path or 'index.html'}",
            hint="Data Docs are built when the extract is validated",
        )
    return target
