"""The state store: links, runs, per-user issues (SQLModel; SQLite or PostgreSQL)."""
