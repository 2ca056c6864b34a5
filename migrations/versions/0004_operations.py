"""operations: dashboard sessions and the indexes of the ops queries

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CALL_FILTERS = ("outcome", "disposition", "source", "direction")


def upgrade() -> None:
    op.create_table(
        "ops_session",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("session_hash", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_session")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_ops_session_session_hash")),
    )
    op.create_index(op.f("ix_ops_session_expires_at"), "ops_session", ["expires_at"])
    for column in _CALL_FILTERS:
        op.create_index(
            f"ix_call_ops_{column}", "call", ["restaurant_id", column, "occurred_at", "id"]
        )
    op.create_index(
        "ix_call_ops_recovered",
        "call",
        ["restaurant_id", "occurred_at", "id"],
        postgresql_where=sa.text("recovered_at IS NOT NULL"),
    )
    op.create_index("ix_message_ops_status", "message", ["restaurant_id", "status", "call_id"])
    # Statistics read a time range of calls and each call's message status, both index-only.
    op.create_index(
        "ix_call_ops_stats",
        "call",
        ["restaurant_id", "occurred_at"],
        postgresql_include=["disposition", "outcome", "recovered_at", "id"],
    )
    op.create_index(
        "ix_message_ops_call_status", "message", ["call_id"], postgresql_include=["status"]
    )


def downgrade() -> None:
    op.drop_index("ix_message_ops_call_status", table_name="message")
    op.drop_index("ix_call_ops_stats", table_name="call")
    op.drop_index("ix_message_ops_status", table_name="message")
    op.drop_index("ix_call_ops_recovered", table_name="call")
    for column in reversed(_CALL_FILTERS):
        op.drop_index(f"ix_call_ops_{column}", table_name="call")
    op.drop_index(op.f("ix_ops_session_expires_at"), table_name="ops_session")
    op.drop_table("ops_session")
