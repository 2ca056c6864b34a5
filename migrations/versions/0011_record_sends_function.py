"""ringback_record_sends: the records of sends in one statement and one commit

A send's record (``SqlOutbox.mark_sent``) was one statement and one commit per send, and under
load its statement, round trip and commit cost the server and PostgreSQL more than the rows it
writes (issue 15, docs/PERFORMANCE.md). The process now groups the records made at the same time
(``outbox._SentRecords``; a record alone is a group of one) and writes each group with one call of
this function, which does for each send:

- first, every send's receipt lock (``p_lock_keys``, the key a status webhook locks before it
  keeps a receipt for an id not yet committed), in the arrays' order: the caller sorts them by
  provider id, the order a webhook takes its locks in (``receipts.apply_statuses``), so the two
  never wait on each other in a cycle;
- then, send by send: the move ``p_from`` → ``p_to`` (``states.MARK_SENT``, given by the caller)
  of the message held under ``p_tokens``'s lease (a lost lease moves nothing), the call's outcome
  when a request waits for it (``p_outcomes``: the reply when the message moved, else
  ``p_lost_outcome``; written only when it changes), the timeline's event of the move, and, for a
  moved message, the look for receipts kept for its provider id (``ringback_receipt_kept``,
  migration 0007: VOLATILE, so on a snapshot taken after the lock — it sees every receipt kept by
  a transaction that held the lock before).

It returns one row per send: ``id``, ``moved``, ``kept``. Every statement it runs names its row
by primary key, so no plan depends on statistics or on the table's size when it was made; the
status guard is written through ``coalesce`` so that no partial index of ``message`` matches it.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION ringback_record_sends(
            p_ids bigint[],
            p_tokens uuid[],
            p_provider_ids text[],
            p_phone_number_ids text[],
            p_call_ids bigint[],
            p_outcomes text[],
            p_lock_keys text[],
            p_from text,
            p_to text,
            p_lost_outcome text
        ) RETURNS TABLE (id bigint, moved boolean, kept boolean)
        LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
        AS $$
        DECLARE
            v_key text;
            v_id bigint;
            v_attempts integer;
            v_outcome text;
        BEGIN
            FOREACH v_key IN ARRAY p_lock_keys LOOP
                PERFORM pg_advisory_xact_lock(hashtextextended(v_key, 0));
            END LOOP;
            FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
                v_id := p_ids[i];
                UPDATE message AS m
                SET status = p_to, lease_token = NULL, lease_expires_at = NULL,
                    provider_message_id = p_provider_ids[i], last_error = NULL,
                    updated_at = now()
                WHERE m.id = v_id
                  AND coalesce(m.status, '') = p_from
                  AND m.lease_token = p_tokens[i]
                RETURNING m.attempts INTO v_attempts;
                moved := FOUND;
                IF p_call_ids[i] IS NOT NULL THEN
                    v_outcome := CASE WHEN moved THEN p_outcomes[i] ELSE p_lost_outcome END;
                    UPDATE call AS c SET outcome = v_outcome, updated_at = now()
                    WHERE c.id = p_call_ids[i] AND c.outcome IS DISTINCT FROM v_outcome;
                END IF;
                IF moved THEN
                    INSERT INTO message_event (message_id, status, attempt, detail)
                    VALUES (v_id, p_to, v_attempts, p_provider_ids[i]);
                END IF;
                id := v_id;
                kept := moved AND ringback_receipt_kept(p_provider_ids[i], p_phone_number_ids[i]);
                RETURN NEXT;
            END LOOP;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS ringback_record_sends(bigint[], uuid[], text[], text[], bigint[],"
        " text[], text[], text, text, text)"
    )
