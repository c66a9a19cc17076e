"""The audit log is append-only and hash-chained, on SQLite and on PostgreSQL:
`hub audit verify` catches an edited or deleted entry."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

from hub import audit
from hub.store import upgrade


def _fill(engine: Engine, n: int = 5) -> None:
    upgrade(engine)
    for i in range(n):
        audit.record(
            engine,
            actor=f"user:lead{i}@example.org",
            action="agreement.signed",
            subject="agreement:police-sv",
            detail={"version": 1, "org": f"org-{i}"},
        )


def _without_guard(engine: Engine) -> None:
    """What a privileged insider would do first: drop the append-only triggers."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_entry_append_only ON audit_entry"))
        else:
            conn.execute(text("DROP TRIGGER audit_entry_no_update"))
            conn.execute(text("DROP TRIGGER audit_entry_no_delete"))


def test_an_intact_chain_verifies(engine: Engine) -> None:
    _fill(engine)
    result = audit.verify(engine)
    assert result.ok
    assert (result.entries, result.head_seq) == (5, 5)
    assert result.head_hash == audit.entries(engine, limit=1)[0].hash


def test_the_database_refuses_updates_and_deletes(engine: Engine) -> None:
    _fill(engine, 2)
    for statement in (
        "UPDATE audit_entry SET actor = 'someone' WHERE seq = 1",
        "DELETE FROM audit_entry WHERE seq = 2",
    ):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert audit.verify(engine).ok


def test_verify_catches_an_edited_entry(engine: Engine) -> None:
    _fill(engine)
    _without_guard(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET actor = 'user:mallory' WHERE seq = 3"))
    result = audit.verify(engine)
    assert not result.ok
    assert result.problems == ("entry 3 was altered after it was written",)


def test_verify_catches_an_edited_detail_even_with_its_hash_recomputed(engine: Engine) -> None:
    """Rewriting one entry and its own hash still breaks the link from the next entry."""
    _fill(engine)
    _without_guard(engine)
    entry = next(e for e in audit.entries(engine) if e.seq == 2)
    forged = {"version": 1, "org": "org-forged"}
    new_hash = audit.log.entry_hash(
        entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.subject, forged
    )
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entry SET detail = :d, hash = :h WHERE seq = 2"),
            {"d": '{"org": "org-forged", "version": 1}', "h": new_hash},
        )
    assert audit.verify(engine).problems == ("entry 3 does not follow entry 2",)


def test_verify_catches_a_deleted_entry(engine: Engine) -> None:
    _fill(engine)
    _without_guard(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq = 2"))
    problems = audit.verify(engine).problems
    assert "entries 2-2 are missing (deleted)" in problems
    assert "entry 3 does not follow entry 1" in problems
