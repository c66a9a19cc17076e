"""Receiving an extract: check the agreement allows it, seal it into the landing zone, record it.

The landing zone is the only place raw identifiers rest, and only encrypted. An upload is sealed
as it arrives into a hidden partial file under the hub's local work folder
(``work/landing/<agreement>/``), then put whole into the landing zone (``hub.storage``: a rename
on a local disk, an upload to object storage). Receiving the same bytes under the same agreement
twice gives the same extract id and stores the file once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from hub.agreements.model import Agreement
from hub.agreements.registry import AgreementRegistry
from hub.errors import AgreementError
from hub.privacy.keys import Keyring
from hub.privacy.sealed import PARTIAL, SEGMENT_SIZE, SealWriter
from hub.settings import Settings
from hub.storage import zone_store
from hub.store import Extract, session_scope

log = logging.getLogger(__name__)


def extract_id_for(agreement: Agreement, sha256: str) -> str:
    """Deterministic extract id: the same file under the same agreement version is one extract."""
    digest = hashlib.sha256(f"{agreement.id}:{agreement.version}:{sha256}".encode()).hexdigest()
    return f"ext-{digest[:24]}"


def check_may_send(
    settings: Settings,
    engine: Engine,
    agreement: Agreement,
    sender_org: str,
    today: date | None = None,
) -> None:
    """Raise ``AgreementError`` unless ``sender_org`` may send under ``agreement`` today."""
    decision = AgreementRegistry.open(settings, engine).may_send(
        agreement, sender_org, today, step="upload"
    )
    if not decision:
        log.warning("refused extract for agreement %s from %s", agreement.id, sender_org)
        raise AgreementError(f"refused: {decision.reason}", hint="ask your data protection lead")


@dataclass(frozen=True)
class Landed:
    """An extract in the landing zone, and whether these bytes had been received before."""

    record: Extract
    repeat: bool


def partials_dir(settings: Settings) -> Path:
    """Where uploads are sealed until ``land`` puts them into the landing zone (ciphertext only;
    ``hub.privacy.sealed.sweep_partials`` removes what a crash left)."""
    return settings.work_dir / "landing"


def open_landing(settings: Settings, keyring: Keyring, agreement: Agreement) -> SealWriter:
    """A sealed file to stream an extract into; ``land`` puts it into ``landing/<agreement>/``
    and records it. Until then it is a hidden partial file that nothing reads."""
    folder = partials_dir(settings) / agreement.id
    return SealWriter(
        folder / "incoming.sealed", keyring, context=f"{agreement.id}:{agreement.version}"
    )


def land(
    settings: Settings,
    engine: Engine,
    agreement: Agreement,
    writer: SealWriter,
    *,
    sender_org: str,
    source_name: str,
    file_format: str | None = None,
    today: date | None = None,
) -> Landed:
    """Check once more that ``sender_org`` may send under ``agreement``, then put the sealed
    file into the landing zone as ``<agreement>/<extract id>.sealed`` and record it as received.
    The same bytes received before (or at the same moment by another upload) give the existing
    record and are stored once."""
    landing = zone_store(settings, "landing")
    try:
        check_may_send(settings, engine, agreement, sender_org, today)
        extract_id = extract_id_for(agreement, writer.sha256)
        final = f"{agreement.id}/{extract_id}.sealed"
        with session_scope(engine) as session:
            existing = session.get(Extract, extract_id)
        if existing is not None and landing.exists(final):
            writer.abort()
            log.info("extract %s already received; receipt repeated", extract_id)
            return Landed(existing, repeat=True)
        # a name of this upload's own (two uploads may seal the same bytes) that the sweep of
        # partial files still removes if a crash leaves it
        finished = writer.partial.with_name(
            f"{writer.partial.name.removesuffix(PARTIAL)}.landing{PARTIAL}"
        )
        info = writer.commit(finished)
        try:
            landing.put_file(final, finished)
        finally:
            finished.unlink(missing_ok=True)
    except BaseException:
        writer.abort()
        raise
    now = datetime.now(UTC)
    try:
        with session_scope(engine) as session:
            # found: received before, or by another upload of the same bytes since the check
            found = session.get(Extract, extract_id)
            record = found or Extract(
                id=extract_id,
                agreement_id=agreement.id,
                agreement_version=agreement.version,
                sender_org=sender_org,
                source_name=Path(source_name).name[:255],
                file_format=file_format or agreement.delivery.format,
                sha256=info.sha256,
                size_bytes=info.size,
                status="received",
                received_at=now,
            )
            record.updated_at = now
            record.landing_path = f"landing/{final}"
            session.add(record)
    except SQLIntegrityError:
        # the same bytes arrived at the same moment and the other upload recorded them first;
        # both sealed the same plaintext to the same name, so the file stands either way
        with session_scope(engine) as session:
            existing = session.get(Extract, extract_id)
        if existing is None:
            raise
        return Landed(existing, repeat=True)
    log.info("received extract %s for agreement %s (%d bytes)", extract_id, agreement.id, info.size)
    return Landed(record, repeat=found is not None)


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
    """Seal ``source`` into ``landing/<agreement>/`` and record it as received (the agreement is
    checked before reading and again before recording)."""
    check_may_send(settings, engine, agreement, sender_org, today)
    with open_landing(settings, keyring, agreement) as writer:
        while chunk := source.read(SEGMENT_SIZE):
            writer.write(chunk)
        return land(
            settings,
            engine,
            agreement,
            writer,
            sender_org=sender_org,
            source_name=source_name,
            today=today,
        ).record
