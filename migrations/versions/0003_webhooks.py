"""webhooks: receipts that arrive before their message id is committed; business-number lookup

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_receipt",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("provider_message_id", sa.Text(), nullable=False),
        sa.Column("phone_number_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_receipt")),
        sa.UniqueConstraint(
            "provider_message_id",
            "status",
            name=op.f("uq_pending_receipt_provider_message_id_status"),
        ),
    )
    op.create_index(
        "ix_restaurant_whatsapp_phone_number_id",
        "restaurant",
        [sa.text("(whatsapp ->> 'phone_number_id')")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_restaurant_whatsapp_phone_number_id", table_name="restaurant")
    op.drop_table("pending_receipt")
