"""An extract's Data Docs in the ``quality`` zone: placed there once built, served from there.

Great Expectations renders the site into a local folder (``hub.quality.datadocs``);
``place_data_docs`` builds it under ``settings.work_dir`` and puts its files into the quality
zone under ``<agreement>/<extract>/docs/`` (a folder locally, a bucket on object storage), and
``data_docs_file`` reads one of them back, never a file outside that extract's docs.
"""

from __future__ import annotations

import mimetypes
import shutil
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from hub.errors import NotFoundError, UserError
from hub.quality.datadocs import build_data_docs
from hub.settings import Settings
from hub.storage import zone_store

QUALITY_ZONE = "quality"
INDEX = "index.html"


@dataclass(frozen=True)
class DocsFile:
    """One file of an extract's Data Docs, to send as it is."""

    content: bytes
    media_type: str


def docs_prefix(agreement_id: str, extract_id: str) -> str:
    """Where an extract's Data Docs are inside the quality zone."""
    return f"{agreement_id}/{extract_id}/docs"


def place_data_docs(
    settings: Settings,
    agreement_id: str,
    extract_id: str,
    result: dict[str, Any],
    suite: dict[str, Any],
) -> str:
    """Build the Data Docs of one validation ``result`` (``build_data_docs``) in the work folder
    and move them into the quality zone, replacing the extract's earlier ones; return where its
    index is, as the metadata records paths (``quality/<agreement>/<extract>/docs/index.html``).

    The pages go first and the index last, so the index never links to a page not there yet;
    files of an earlier build that this one does not have are deleted after."""
    site = settings.work_dir / "data-docs" / f"{extract_id}-{uuid.uuid4().hex}"
    try:
        build_data_docs(result, suite, site)
        store = zone_store(settings, QUALITY_ZONE)
        prefix = docs_prefix(agreement_id, extract_id)
        placed = set(store.put_tree(prefix, site, last=INDEX))
        for stale in store.list(prefix):
            if stale not in placed:
                store.delete(stale)
    finally:
        shutil.rmtree(site, ignore_errors=True)
    return f"{QUALITY_ZONE}/{prefix}/{INDEX}"


def _inside(path: str) -> str | None:
    """``path`` as a relative path inside the docs folder, or None when it would leave it."""
    if not path:
        return INDEX
    pure = PurePosixPath(path)
    if "\\" in path or "\x00" in path or pure.is_absolute() or ".." in pure.parts:
        return None
    return str(pure)


def data_docs_file(settings: Settings, agreement_id: str, extract_id: str, path: str) -> DocsFile:
    """The Data Docs file ``path`` of one extract (``index.html`` when empty), from the quality
    zone; never a file outside that extract's docs."""
    missing = NotFoundError(
        f"extract {extract_id} has no Data Docs page {path or INDEX}",
        hint="Data Docs are built when the extract is validated",
    )
    inside = _inside(path)
    if inside is None:
        raise missing
    store = zone_store(settings, QUALITY_ZONE)
    try:
        full = f"{docs_prefix(agreement_id, extract_id)}/{inside}"
        if not store.exists(full):
            raise missing
        content = store.read_bytes(full)
    except UserError:  # a name the zone refuses, or a file gone since
        raise missing from None
    media_type = mimetypes.guess_type(PurePosixPath(inside).name)[0] or "application/octet-stream"
    return DocsFile(content, media_type)
