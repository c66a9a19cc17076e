"""Receiving an extract: check the agreement allows it, seal it into the landing zone, record it.

The landing zone is the only place raw identifiers rest, and only encrypted. Receiving the same
bytes under the same agreement twice gives the same extract id and stores the file once.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine

from hub.agreements.model import Agreement
from hub.agreements.registry import AgreementRegistry
from hub.errors import AgreementError
from hub.privacy.keys import Keyring
from hub.privacy.sealed import seal
from hub.settings import Settings
from hub.store import Extract, session_scope

log = logging.getLogger(__name__)


def extract_id_for(agreement: Agreement, sha256: str) -> str:
    """Deterministic extract id: the same file under the same agreement version is one extract."""
    digest = hashlib.sha256(f"{agreement.id}:{agreement.version}:{sha256}".encode()).hexdigest()
    return f"ext-{digest[:24]}"


def receive_extract(
    settings: Settings,
    engine: Engine,
    keyring: Keyring,
    agreement: Agreement,
    *,
    sender_org: str,
    source: BinaryIO,
    source_name: str,
    today: date | None = None,
) -> Extract:
    """Seal ``source`` into ``landing/<agreement>/`` and record it as received."""
    registry = AgreementRegistry.open(settings, engine)
    decision = registry.may_send(agreement, sender_org, today, step="upload")
    if not decision:
        log.warning("refused extract for agreement %s from %s", agreement.id, sender_org)
        raise AgreementError(f"refused: {decision.reason}", hint="ask your data protection lead")
    folder = settings.zone("landing") / agreement.id
    incoming = folder / f".incoming-{uuid.uuid4().hex}.sealed"
    info = seal(source, incoming, keyring, context=f"{agreement.id}:{agreement.version}")
    extract_id = extract_id_for(agreement, info.sha256)
    final = folder / f"{extract_id}.sealed"
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        existing = session.get(Extract, extract_id)
        if existing is not None and final.exists():
            incoming.unlink()
            log.info("extract %s already received; receipt repeated", extract_id)
            return existing
        incoming.replace(final)
        record = existing or Extract(
            id=extract_id,
            agreement_id=agreement.id,
            agreement_version=agreement.version,
            sender_org=sender_org,
            source_name=Path(source_name).name[:255],
            file_format=agreement.delivery.format,
            sha256=info.sha256,
            size_bytes=info.size,
            status="received",
            received_at=now,
        )
        record.updated_at = now
        record.landing_path = str(final.relative_to(settings.data_dir))
        session.add(record)
    log.info("received extract %s for agreement %s (%d bytes)", extract_id, agreement.id, info.size)
    return record
