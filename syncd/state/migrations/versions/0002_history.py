"""Per-user history (``syncd history``) and the user of a one-user run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

Adds the ``history`` table (one row per field syncd changed, indexed by key, link ids and run)
and a nullable ``runs.user_key``. Existing rows are kept: a store of 0001 with links and runs
in it is upgraded in place, its runs having no user (they were runs over everyone).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite alters a table by copying it; PostgreSQL gets a plain ALTER TABLE.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("user_key", sa.String(length=320), nullable=True))
    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("whmcs_id", sa.Integer(), nullable=True),
        sa.Column("wp_id", sa.Integer(), nullable=True),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("field_name", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_history_key", "history", ["key"], unique=False)
    op.create_index("ix_history_whmcs_id", "history", ["whmcs_id"], unique=False)
    op.create_index("ix_history_wp_id", "history", ["wp_id"], unique=False)
    op.create_index("ix_history_run_id", "history", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_history_run_id", table_name="history")
    op.drop_index("ix_history_wp_id", table_name="history")
    op.drop_index("ix_history_whmcs_id", table_name="history")
    op.drop_index("ix_history_key", table_name="history")
    op.drop_table("history")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("user_key")
