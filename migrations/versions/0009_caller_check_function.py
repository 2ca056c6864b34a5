"""ringback_caller_check: the caller's decision lock, then rules 8 and 9 on a fresh snapshot

A missed report is decided by one statement on an autocommit connection (issue 15): no BEGIN, no
COMMIT, no transaction held across round trips. The statement calls this function before it
writes the call row. The function takes the caller's transaction-scoped advisory lock (per
restaurant and E.164 number, held until the statement's transaction ends), then — being
VOLATILE PL/pgSQL, each of its queries takes a fresh snapshot (READ COMMITTED) — it reads what
every decision committed before the lock was granted:

- rule 8 again: the customer's row is read ``FOR SHARE``, so an opt-out or a bad-actor flag
  (each writes that row) either committed before and is seen here, or waits until this decision
  has committed (and then cancels the message it finds queued, or the send-time claim does);
- rule 9: a message of the same caller, not failed or cancelled, for a call within the window.

It returns ``suppressed``, ``cooled`` or ``clear``. The window is written as row comparisons
on (caller_phone_number, occurred_at): only the index whose columns run restaurant_id,
caller_phone_number, occurred_at can take them as bounds, so the probe reads the caller's own
calls whatever the statistics say (a generic plan made on an empty table included). It writes
nothing but the row lock.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION ringback_caller_check(
            p_lock_key text,
            p_restaurant_id bigint,
            p_customer_id bigint,
            p_phone_number text,
            p_earliest timestamptz,
            p_latest timestamptz
        ) RETURNS text
        LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
        AS $$
        DECLARE
            v_suppressed boolean;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended(p_lock_key, 0));
            SELECT c.opted_out_at IS NOT NULL OR c.bad_actor INTO v_suppressed
            FROM customer AS c
            WHERE c.id = p_customer_id AND c.restaurant_id = p_restaurant_id
            FOR SHARE;
            IF v_suppressed THEN
                RETURN 'suppressed';
            END IF;
            IF EXISTS (
                SELECT 1
                FROM call AS k JOIN message AS m ON m.call_id = k.id
                WHERE k.restaurant_id = p_restaurant_id
                  AND k.caller_phone_number = p_phone_number
                  AND (k.caller_phone_number, k.occurred_at) > (p_phone_number, p_earliest)
                  AND (k.caller_phone_number, k.occurred_at) < (p_phone_number, p_latest)
                  AND m.status NOT IN ('failed', 'cancelled')
            ) THEN
                RETURN 'cooled';
            END IF;
            RETURN 'clear';
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS ringback_caller_check(text, bigint, bigint, text, timestamptz,"
        " timestamptz)"
    )
