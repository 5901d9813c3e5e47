"""Initial schema: links, runs, issues, pending_creates.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written with plain SQLAlchemy types (a migration must not change when the code's types
do); ``UtcDateTime`` in ``syncd.state.tables`` is a ``DateTime(timezone=True)`` here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("whmcs_id", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("wp_id", sa.Integer(), nullable=False),
        sa.Column("base", sa.JSON(), nullable=False),
        sa.Column("digests", sa.JSON(), nullable=False),
        sa.Column("gone_whmcs", sa.Boolean(), nullable=False),
        sa.Column("gone_wordpress", sa.Boolean(), nullable=False),
        sa.Column("deactivated_whmcs", sa.Boolean(), nullable=False),
        sa.Column("deactivated_wordpress", sa.Boolean(), nullable=False),
        sa.Column("saved_roles", sa.JSON(), nullable=False),
        sa.Column("dummy_fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("whmcs_id", name="uq_links_whmcs_id"),
        sa.UniqueConstraint("wp_id", name="uq_links_wp_id"),
    )
    op.create_table(
        "pending_creates",
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("side", "key"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("full_run", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_issues_run_id"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_issues_key", "issues", ["key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_issues_key", table_name="issues")
    op.drop_table("issues")
    op.drop_table("runs")
    op.drop_table("pending_creates")
    op.drop_table("links")
