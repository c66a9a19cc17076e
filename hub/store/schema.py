"""Tables of the hub's metadata store (SQLAlchemy 2). Changes go through Alembic migrations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Extract(Base):
    """One file a partner delivered under an agreement, and where it is in the pipeline."""

    __tablename__ = "extract"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(String(100), index=True)
    agreement_version: Mapped[int] = mapped_column(Integer)
    sender_org: Mapped[str] = mapped_column(String(100))
    source_name: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    landing_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    staged_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    report: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)


class Release(Base):
    """One published, immutable release of the linked one picture."""

    __tablename__ = "release"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    path: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    people: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(BigInteger)


class ReleaseInput(Base):
    """Which extracts went into a release."""

    __tablename__ = "release_input"

    release_id: Mapped[str] = mapped_column(ForeignKey("release.id"), primary_key=True)
    extract_id: Mapped[str] = mapped_column(ForeignKey("extract.id"), primary_key=True)
