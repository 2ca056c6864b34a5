"""api_token and restaurant NOTIFY ringback_tenancy on every change, for the token caches

Each server process keeps the tokens it authenticated (tenancy/token_cache.py); SPEC §9 lets it
only if a revoked token stops working everywhere within one second. A trigger, not the code that
writes, sends the notification: every writer (the admin API, `ringback demo`, a psql session) is
caught, and the NOTIFY is part of the writing transaction, delivered when it commits. Payloads:
`t:<token hash>` for a token updated or deleted, `r:<restaurant id>` for a restaurant (its
settings are cached with its tokens), `*` for a TRUNCATE of either. Inserts notify nothing: a new
row is in no cache.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION ringback_tenancy_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_LEVEL = 'STATEMENT' THEN
                PERFORM pg_notify('ringback_tenancy', '*');
            ELSIF TG_TABLE_NAME = 'api_token' THEN
                PERFORM pg_notify('ringback_tenancy', 't:' || OLD.token_hash);
            ELSE
                PERFORM pg_notify('ringback_tenancy', 'r:' || OLD.id);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    for table in ("api_token", "restaurant"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_changed AFTER UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ringback_tenancy_changed()"
        )
        op.execute(f"DROP TRIGGER IF EXISTS {table}_truncated ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_truncated AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ringback_tenancy_changed()"
        )


def downgrade() -> None:
    for table in ("api_token", "restaurant"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_truncated ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ringback_tenancy_changed()")
