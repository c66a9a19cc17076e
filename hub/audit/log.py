"""An append-only, hash-chained audit log in the metadata store.

Each entry carries the SHA-256 of the previous entry's hash and its own canonical content, so
editing or deleting any entry breaks the chain from that point on; ``verify`` walks the chain and
names the first entry that does not fit. The database refuses UPDATE and DELETE on the table
(triggers from migration 0002), so tampering needs a privileged user who drops them first.

Entries name actors, actions, agreements and reasons; never row values or identifiers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from hub.errors import InfrastructureError
from hub.store import AuditEntry, session_scope
from hub.times import as_utc

GENESIS = "0" * 64
_ATTEMPTS = 20


def entry_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": as_utc(at).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + "\n" + body).encode("utf-8")).hexdigest()


def record(
    engine: Engine,
    *,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry. Concurrent writers race for the next sequence number; the loser
    (primary-key conflict) reads the new head and tries again."""
    detail = json.loads(json.dumps(detail or {}, sort_keys=True))
    when = as_utc(at or datetime.now(UTC))
    for _ in range(_ATTEMPTS):
        try:
            with session_scope(engine) as session:
                head = session.execute(
                    select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
                ).first()
                seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
                entry = AuditEntry(
                    seq=seq,
                    at=when,
                    actor=actor[:255],
                    action=action,
                    subject=subject[:255],
                    detail=detail,
                    prev_hash=prev,
                    hash=entry_hash(prev, seq, when, actor[:255], action, subject[:255], detail),
                )
                session.add(entry)
            return entry
        except SQLIntegrityError:
            continue
    raise InfrastructureError("could not append to the audit log: too many concurrent writers")


def entries(
    engine: Engine, *, subject: str | None = None, limit: int | None = None
) -> list[AuditEntry]:
    """Entries, newest first; optionally only those about one subject."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc())
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    if limit is not None:
        query = query.limit(limit)
    with session_scope(engine) as session:
        return list(session.scalars(query).all())


@dataclass(frozen=True)
class AuditVerification:
    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine, *, batch: int = 5000) -> AuditVerification:
    """Walk the whole chain; report every entry whose hash or link does not fit.

    An edited entry fails its own hash; a deleted entry leaves a gap in the sequence and a
    broken link in the next one. (Cutting entries off the end leaves a shorter valid chain:
    compare ``head_seq``/``head_hash`` with a copy kept elsewhere to catch that.)
    """
    problems: list[str] = []
    prev_seq, prev_hash, count = 0, GENESIS, 0
    with session_scope(engine) as session:
        total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
        while count < total:
            rows = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq > prev_seq)
                .order_by(AuditEntry.seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                count += 1
                if row.seq != prev_seq + 1:
                    problems.append(
                        f"entries {prev_seq + 1}-{row.seq - 1} are missing (deleted)"
                        if row.seq > prev_seq + 1
                        else f"entry {row.seq} is out of order"
                    )
                if row.prev_hash != prev_hash:
                    problems.append(f"entry {row.seq} does not follow entry {prev_seq}")
                expected = entry_hash(
                    row.prev_hash,
                    row.seq,
                    row.at,
                    row.actor,
                    row.action,
                    row.subject,
                    dict(row.detail),
                )
                if expected != row.hash:
                    problems.append(f"entry {row.seq} was altered after it was written")
                prev_seq, prev_hash = row.seq, row.hash
    return AuditVerification(count, prev_seq, prev_hash, tuple(problems))
