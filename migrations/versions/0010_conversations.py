"""conversations: inbound WhatsApp messages, staff replies through the outbox, replied calls

SPEC §10. Two tables: ``conversation`` (one per restaurant and customer, with the inbox's last
message and unread count on the row) and ``conversation_message`` (every inbound message once per
restaurant, idempotent on the provider id, and every staff reply, whose outbox row it names).
``message`` learns a second kind: a free-form text with a ``body`` and no call, beside the
templates (body null); the template columns are null for a text. ``call.replied_at`` and a partial
index of replied calls serve the ``replied`` filter and the statistics.

Nothing here adds to what a report writes: the new message column and the new call column are
null in its rows (no default, no check, no index on them), and the one new index on ``call``
holds only replied calls. The
index is built CONCURRENTLY outside a transaction (a live database keeps taking calls), and every
step may be repeated (tests/db/test_migrations.py runs 0005 to head again on a database at head).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEMPLATE_COLUMNS = ("call_id", "template_type", "template_name", "template_language", "parameters")
_TZ = sa.DateTime(timezone=True)


def _drop_if_invalid(name: str) -> None:
    """A CREATE INDEX CONCURRENTLY that died leaves an invalid index behind: drop that one."""
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
    # each ALTER holds an exclusive lock on its table only for a catalog change; behind a long
    # reader it would hold up every report meanwhile, so it fails instead (run it again)
    op.execute("SET LOCAL lock_timeout = '5s'")
    for column in _TEMPLATE_COLUMNS:
        op.alter_column("message", column, nullable=True)
    op.execute("ALTER TABLE message ADD COLUMN IF NOT EXISTS body TEXT")
    op.execute("ALTER TABLE call ADD COLUMN IF NOT EXISTS replied_at TIMESTAMP WITH TIME ZONE")

    op.create_table(
        "conversation",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("profile_name", sa.Text(), nullable=True),
        sa.Column("last_direction", sa.Text(), nullable=True),
        sa.Column("last_type", sa.Text(), nullable=True),
        sa.Column("last_text", sa.Text(), nullable=True),
        sa.Column("last_at", _TZ, nullable=True),
        sa.Column("last_inbound_at", _TZ, nullable=True),
        sa.Column("unread_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("read_at", _TZ, nullable=True),
        sa.Column("created_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_conversation_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurant.id"],
            name=op.f("fk_conversation_restaurant_id_restaurant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
        sa.UniqueConstraint(
            "restaurant_id", "customer_id", name=op.f("uq_conversation_restaurant_id_customer_id")
        ),
        if_not_exists=True,
    )
    op.create_index(
        "ix_conversation_inbox",
        "conversation",
        ["restaurant_id", sa.text("updated_at DESC"), sa.text("id DESC")],
        if_not_exists=True,
    )
    op.create_index(
        "ix_conversation_unread",
        "conversation",
        ["restaurant_id", sa.text("updated_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("unread_count > 0"),
        if_not_exists=True,
    )
    op.create_table(
        "conversation_message",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("media_id", sa.Text(), nullable=True),
        sa.Column("media_mime_type", sa.Text(), nullable=True),
        sa.Column("context_id", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.Text(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("sent_at", _TZ, nullable=False),
        sa.Column("created_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_conversation_message_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
            name=op.f("fk_conversation_message_message_id_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurant.id"],
            name=op.f("fk_conversation_message_restaurant_id_restaurant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_conversation_message_message_id")),
        sa.UniqueConstraint(
            "restaurant_id",
            "provider_message_id",
            name=op.f("uq_conversation_message_restaurant_id_provider_message_id"),
        ),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_conversation_message_conversation_id_sent_at_id"),
        "conversation_message",
        ["conversation_id", "sent_at", "id"],
        if_not_exists=True,
    )
    with op.get_context().autocommit_block():
        _drop_if_invalid("ix_call_ops_replied")
        op.create_index(
            "ix_call_ops_replied",
            "call",
            ["restaurant_id", "occurred_at", "id"],
            postgresql_where=sa.text("replied_at IS NOT NULL"),
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_call_ops_replied", table_name="call", postgresql_concurrently=True, if_exists=True
        )
    op.drop_table("conversation_message", if_exists=True)
    op.drop_table("conversation", if_exists=True)
    op.execute("ALTER TABLE call DROP COLUMN IF EXISTS replied_at")
    # staff replies have no call and no template: they cannot be kept in the older shape
    op.execute("DELETE FROM message WHERE body IS NOT NULL")
    op.execute("ALTER TABLE message DROP COLUMN IF EXISTS body")
    for column in _TEMPLATE_COLUMNS:
        op.alter_column("message", column, nullable=False)
