"""Extracts, releases and their inputs.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extract",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("agreement_id", sa.String(100), nullable=False, index=True),
        sa.Column("agreement_version", sa.Integer, nullable=False),
        sa.Column("sender_org", sa.String(100), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("file_format", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=True),
        sa.Column("landing_path", sa.Text, nullable=True),
        sa.Column("staged_path", sa.Text, nullable=True),
        sa.Column("report", sa.JSON, nullable=True),
    )
    op.create_table(
        "release",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("people", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "release_input",
        sa.Column("release_id", sa.String(64), sa.ForeignKey("release.id"), primary_key=True),
        sa.Column("extract_id", sa.String(40), sa.ForeignKey("extract.id"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("release_input")
    op.drop_table("release")
    op.drop_table("extract")
