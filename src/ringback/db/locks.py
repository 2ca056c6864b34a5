"""Transaction-scoped advisory locks, keyed by text: the caller's decision lock and the receipts'
per-message-id lock both take theirs this way, inside the statement that needs it."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func


def xact_lock(key: ColumnElement[str]) -> ColumnElement[bool]:
    """Waits for the lock on ``key`` and holds it until the transaction ends; always true, so it
    can stand in a WHERE clause or a select list."""
    return func.pg_advisory_xact_lock(func.hashtextextended(key, 0)).is_not(None)
