"""Datetimes as the hub compares them: aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive value (as SQLite gives back a stored one) is taken to be UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
