"""ringback_record_sends: a send whose reply is the outcome its decision stored reads no call row

Migration 0011's function ran, for every send a request waits for, ``UPDATE call … WHERE
outcome IS DISTINCT FROM`` the reply. A send made inline has its call stored ``SENT`` by its
decision (``RelayService._with_lease``), and a send that moves replies ``SENT``: the guard kept
the row as it was, but the statement still ran — a primary-key probe of ``call`` and an executor
start-up for every report, about 15 µs of PostgreSQL's CPU per record out of 200 (issue 15,
docs/PERFORMANCE.md). The function now takes that outcome (``p_decided_outcome``) and writes the
call only when the reply differs from it: a lost lease's ``p_lost_outcome`` (``QUEUED``) is
written as before, still guarded, so a call already saying it is not rewritten. Nothing else
changes; 0011's docstring says what the function does.

Revision ID: 0012
Revises: 0011
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREVIOUS_SIGNATURE = (
    "ringback_record_sends(bigint[], uuid[], text[], text[], bigint[], text[], text[], text,"
    " text, text)"
)
_SIGNATURE = _PREVIOUS_SIGNATURE.removesuffix(")") + ", text)"  # and p_decided_outcome


def upgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {_PREVIOUS_SIGNATURE}")
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
            p_lost_outcome text,
            p_decided_outcome text
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
                    IF v_outcome IS DISTINCT FROM p_decided_outcome THEN
                        UPDATE call AS c SET outcome = v_outcome, updated_at = now()
                        WHERE c.id = p_call_ids[i] AND c.outcome IS DISTINCT FROM v_outcome;
                    END IF;
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
    op.execute(f"DROP FUNCTION IF EXISTS {_SIGNATURE}")
    # 0011's own function, from 0011's own text (one writing of it)
    path = Path(__file__).with_name("0011_record_sends_function.py")
    spec = importlib.util.spec_from_file_location("ringback_migration_0011", path)
    assert spec is not None
    assert spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    previous.upgrade()
