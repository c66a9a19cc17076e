"""The metadata store migrates and works on SQLite (default) and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from hub.store import Extract, session_scope, upgrade
from hub.store.database import current_revision, downgrade, head_revision


def test_migrations_reach_head_and_are_idempotent(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_extracts_round_trip(engine: Engine) -> None:
    upgrade(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(
            Extract(
                id="ext-1",
                agreement_id="police-sv",
                agreement_version=1,
                sender_org="merseyvale-police",
                source_name="x.csv",
                file_format="csv",
                sha256="0" * 64,
                size_bytes=10,
                status="received",
                received_at=now,
                updated_at=now,
                report={"findings": []},
            )
        )
    with session_scope(engine) as session:
        got = session.get(Extract, "ext-1")
        assert got is not None and got.status == "received" and got.report == {"findings": []}


def test_a_failed_session_writes_nothing(engine: Engine) -> None:
    upgrade(engine)
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(
            Extract(
                id="ext-2",
                agreement_id="a",
                agreement_version=1,
                sender_org="o",
                source_name="x",
                file_format="csv",
                sha256="0" * 64,
                size_bytes=1,
                status="received",
                received_at=now,
                updated_at=now,
            )
        )
        session.flush()
        raise RuntimeError("boom")
    with session_scope(engine) as session:
        assert session.get(Extract, "ext-2") is None
