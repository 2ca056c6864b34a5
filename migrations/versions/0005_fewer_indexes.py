"""one index fewer on call and on message: the stats indexes merged into the ones they repeated

The call list's keyset index (restaurant_id, occurred_at, id) and the statistics' covering index
(restaurant_id, occurred_at) INCLUDE (...) led with the same columns: one index with the keyset's
columns and the statistics' INCLUDE serves both. Likewise message's unique call_id and the covering
(call_id) INCLUDE (status): one unique index with the INCLUDE. Every call and message written
maintains one index less.

Built CONCURRENTLY outside a transaction, so a live database keeps taking calls while it upgrades;
every step may be repeated, so a run that died half-way (leaving, say, an invalid index) is
simply run again.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATS_COLUMNS = ["disposition", "outcome", "recovered_at"]


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_call_ops_time", table_name="call", postgresql_concurrently=True, if_exists=True
        )
        op.create_index(
            "ix_call_ops_time",
            "call",
            ["restaurant_id", "occurred_at", "id"],
            postgresql_include=_STATS_COLUMNS,
            postgresql_concurrently=True,
        )
        op.drop_index(
            "ix_call_ops_stats", table_name="call", postgresql_concurrently=True, if_exists=True
        )
        op.drop_index(
            "ix_call_restaurant_id_occurred_at_id",
            table_name="call",
            postgresql_concurrently=True,
            if_exists=True,
        )
        op.drop_index(
            "ux_message_call_id", table_name="message", postgresql_concurrently=True, if_exists=True
        )
        op.create_index(
            "ux_message_call_id",
            "message",
            ["call_id"],
            unique=True,
            postgresql_include=["status"],
            postgresql_concurrently=True,
        )
    op.drop_constraint("uq_message_call_id", "message", type_="unique")
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_message_ops_call_status", table_name="message", postgresql_concurrently=True
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
