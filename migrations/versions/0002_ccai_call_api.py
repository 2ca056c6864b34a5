"""ccai call api: the CCAI door's state of each call (ccai_call, keyed by the relay's call id)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ccai_call",
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("lang", sa.Text(), nullable=False),
        sa.Column("menu", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("agent", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("end_user_number", sa.Text(), nullable=True),
        sa.Column("out_ticket_id", sa.Text(), nullable=True),
        sa.Column("outbound_number", sa.Text(), nullable=True),
        sa.Column("fail_reason", sa.Text(), server_default="nothing", nullable=False),
        sa.Column("deflection", sa.Text(), server_default="no_deflection", nullable=False),
        sa.Column("voicemail_reason", sa.Text(), server_default="not_voicemail", nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_ccai_call_call_id_call"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurant.id"],
            name=op.f("fk_ccai_call_restaurant_id_restaurant"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["call.id"], name=op.f("fk_ccai_call_parent_id_call")
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_ccai_call")),
    )
    op.create_index(
        op.f("ix_ccai_call_restaurant_id_call_id"),
        "ccai_call",
        ["restaurant_id", "call_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ccai_call_restaurant_id_call_id"), table_name="ccai_call")
    op.drop_table("ccai_call")
