"""The state store's tables (SQLModel): links, runs, per-user issues, pending creates and history.

This module is the schema as the code sees it; ``migrations/versions/`` is the same schema
as the database gets it, and a test checks the two agree. No column may hold a password, a
secret or a token: syncd never needs one after it has written an account.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Dialect, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

#: Long enough for any email (RFC 5321 caps a path at 256 octets) with room to spare.
KEY_LENGTH = 320


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps.

    SQLite has no time zone type: values go in as naive UTC and come back marked UTC, so
    comparisons never mix naive and aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LinkRow(SQLModel, table=True):
    """One link: a WHMCS client paired with a WordPress user, and what both last agreed on."""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("whmcs_id", name="uq_links_whmcs_id"),
        UniqueConstraint("wp_id", name="uq_links_wp_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    whmcs_id: int = Field(sa_type=Integer, nullable=False)
    owner_user_id: int | None = Field(default=None, sa_type=Integer, nullable=True)
    wp_id: int = Field(sa_type=Integer, nullable=False)
    # Field name → value both sides agreed on at the last successful sync.
    base: dict[str, str] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    # Side (or any key the engine chooses) → digest of what was last seen or written there.
    digests: dict[str, str] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    # One column per side rather than a list, so `syncd status` can count them in SQL.
    gone_whmcs: bool = Field(default=False, sa_type=Boolean, nullable=False)
    gone_wordpress: bool = Field(default=False, sa_type=Boolean, nullable=False)
    deactivated_whmcs: bool = Field(default=False, sa_type=Boolean, nullable=False)
    deactivated_wordpress: bool = Field(default=False, sa_type=Boolean, nullable=False)
    saved_roles: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    dummy_fields: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class RunRow(SQLModel, table=True):
    """One run: when, which way, how it ended, and what it did."""

    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)
    direction: str = Field(sa_type=String(16), nullable=False)
    # Not "full": that word is reserved in PostgreSQL and every hand-written query would need quotes.
    full_run: bool = Field(default=False, sa_type=Boolean, nullable=False)
    outcome: str = Field(sa_type=String(16), nullable=False)
    counts: dict[str, int] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    errors: int = Field(default=0, sa_type=Integer, nullable=False)
    conflicts: int = Field(default=0, sa_type=Integer, nullable=False)
    message: str = Field(default="", sa_type=Text, nullable=False)
    # The key of a one-user run (``syncd sync --user``); NULL for a run over everyone. Not "user":
    # that word is reserved in PostgreSQL, like "full".
    user_key: str | None = Field(default=None, sa_type=String(KEY_LENGTH), nullable=True)


class IssueRow(SQLModel, table=True):
    """A user in error or in conflict; open until ``resolved_at`` is set."""

    __tablename__ = "issues"
    __table_args__ = (Index("ix_issues_key", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=String(KEY_LENGTH), nullable=False)
    side: str = Field(sa_type=String(16), nullable=False)
    kind: str = Field(sa_type=String(16), nullable=False)
    message: str = Field(sa_type=Text, nullable=False)
    first_seen: datetime = Field(sa_type=UtcDateTime, nullable=False)
    last_seen: datetime = Field(sa_type=UtcDateTime, nullable=False)
    run_id: int = Field(sa_column_args=[ForeignKey("runs.id", name="fk_issues_run_id")], sa_type=Integer,
                        nullable=False)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime, nullable=True)


class PendingCreateRow(SQLModel, table=True):
    """A create that was sent but not confirmed: settle it by a lookup before any retry."""

    __tablename__ = "pending_creates"

    side: str = Field(sa_type=String(16), primary_key=True)
    key: str = Field(sa_type=String(KEY_LENGTH), primary_key=True)
    since: datetime = Field(sa_type=UtcDateTime, nullable=False)


class HistoryRow(SQLModel, table=True):
    """One field syncd changed for one person (``syncd history``): never a password or a secret.

    ``run_id`` is not a foreign key: the rows of a run are pruned with it (``_prune``) and a
    change made by hand outside any run has none.
    """

    __tablename__ = "history"
    __table_args__ = (
        Index("ix_history_key", "key"),
        Index("ix_history_whmcs_id", "whmcs_id"),
        Index("ix_history_wp_id", "wp_id"),
        Index("ix_history_run_id", "run_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, sa_type=Integer, nullable=True)
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    key: str = Field(sa_type=String(KEY_LENGTH), nullable=False)
    whmcs_id: int | None = Field(default=None, sa_type=Integer, nullable=True)
    wp_id: int | None = Field(default=None, sa_type=Integer, nullable=True)
    side: str = Field(sa_type=String(16), nullable=False)
    kind: str = Field(sa_type=String(16), nullable=False)
    # Not "field", "before", "after": keywords in SQL dialects, which hand-written queries would have to quote.
    field_name: str = Field(sa_type=String(64), nullable=False)
    old_value: str = Field(sa_type=Text, nullable=False)
    new_value: str = Field(sa_type=Text, nullable=False)


#: The tables of this module, for the migrations' comparison and for dumps.
TABLES = ("links", "runs", "issues", "pending_creates", "history")
