"""one index fewer on call and on message: the stats indexes merged into the ones they repeated

The call list's keyset index (restaurant_id, occurred_at, id) and the statistics' covering index
(restaurant_id, occurred_at) INCLUDE (...) led with the same columns: one index with the keyset's
columns and the statistics' INCLUDE serves both. Likewise message's unique call_id and the covering
(call_id) INCLUDE (status): one unique index with the INCLUDE. Every call and message written
maintains one index less.

Built CONCURRENTLY outside a transaction, so a live database keeps taking calls while it upgrades;
every step may be repeated, so a run that died half-way (leaving, say, an invalid index) is simply
run again, and message.call_id is never without its unique index on the way.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATS_COLUMNS = ["disposition", "outcome", "recovered_at"]


def _drop_if_invalid(name: str) -> None:
    """A CREATE INDEX CONCURRENTLY that died leaves an invalid index behind: drop that one only,
    never a valid index (which a re-run would otherwise rebuild for nothing, or, for the unique
    one, leave message.call_id without uniqueness while it does)."""
    invalid = op.get_bind().execute(
        sa.text(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name AND NOT i.indisvalid"
        ),
        {"name": name},
    )
    if invalid.first() is not None:
        op.drop_index(name, postgresql_concurrently=True, if_exists=True)


def upgrade() -> None:
    with op.get_context().autocommit_block():
        _drop_if_invalid("ix_call_ops_time")
        op.create_index(
            "ix_call_ops_time",
            "call",
            ["restaurant_id", "occurred_at", "id"],
            postgresql_include=_STATS_COLUMNS,
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        for name in ("ix_call_ops_stats", "ix_call_restaurant_id_occurred_at_id"):
            op.drop_index(name, table_name="call", postgresql_concurrently=True, if_exists=True)
        _drop_if_invalid("ux_message_call_id")
        op.create_index(
            "ux_message_call_id",
            "message",
            ["call_id"],
            unique=True,
            postgresql_include=["status"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )
    # Dropping the constraint takes an exclusive lock on message, however briefly: behind a long
    # reader it would hold up every message written meanwhile. Fail instead (the migration can
    # simply be run again).
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE message DROP CONSTRAINT IF EXISTS uq_message_call_id")
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_message_ops_call_status",
            table_name="message",
            postgresql_concurrently=True,
            if_exists=True,
        )


def downgrade() -> None:
    op.create_index(
        "ix_message_ops_call_status", "message", ["call_id"], postgresql_include=["status"]
    )
    op.create_unique_constraint("uq_message_call_id", "message", ["call_id"])
    op.drop_index("ux_message_call_id", table_name="message")
    op.create_index(
        "ix_call_restaurant_id_occurred_at_id", "call", ["restaurant_id", "occurred_at", "id"]
    )
    op.create_index(
        "ix_call_ops_stats",
        "call",
        ["restaurant_id", "occurred_at"],
        postgresql_include=[*_STATS_COLUMNS, "id"],
    )
    op.drop_index("ix_call_ops_time", table_name="call")
