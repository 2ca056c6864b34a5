"""ringback_receipt_kept: a look for kept receipts on a snapshot taken after the id's lock

The statement that records a send's provider message id takes the id's advisory lock (the one a
status webhook takes before it keeps a receipt for an id not yet committed), then looks for kept
receipts in the same statement, saving a round trip per send. The statement's own snapshot is
taken before it waits for the lock, so it may miss a receipt kept by the transaction that held
the lock. A VOLATILE function takes a fresh snapshot for each query it runs (READ COMMITTED):
called after the lock is granted, it sees every receipt committed before. PL/pgSQL, so it is
never inlined into the calling statement (and its snapshot). It only reads.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION ringback_receipt_kept(
            p_provider_message_id text, p_phone_number_id text
        ) RETURNS boolean
        LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
        AS $$
        DECLARE
            kept boolean;
        BEGIN
            SELECT EXISTS (
                SELECT 1 FROM pending_receipt
                WHERE provider_message_id = p_provider_message_id
                  AND phone_number_id = p_phone_number_id
            ) INTO kept;
            RETURN kept;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS ringback_receipt_kept(text, text)")
