"""The state store: links, runs, per-user issues and history (SQLModel; SQLite or PostgreSQL).

``store.SqlStateStore`` is the store (``SqlStateStore.open(url)``); ``tables`` its schema;
``migrate`` and ``migrations/`` the versioned schema changes (alembic); ``url`` parses the
``state_url`` setting; ``example`` builds ``state.db.example``. The run lock that guards a
run lives in ``syncd.service.lock``.
"""
