"""call.occurred_at_rank: how surely the stored occurred_at is the call's time

A call's notifications may come in any order (a Telnyx call.answered before call.initiated, a
hangup before either); each replaces the call's time only with a surer one (domain TimeRank), so
the row must remember how sure the time it holds is. Existing rows get 0 (a received time): any
time a later notification states replaces theirs, as it did before.

Adding a column with a constant default rewrites nothing (PostgreSQL 11+); it still takes an
exclusive lock on call, however briefly: behind a long reader it would hold up every call written
meanwhile, so it fails instead. Every step may be repeated (a database stamped back to an
earlier revision runs it again).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column(
        "call",
        sa.Column(
            "occurred_at_rank", sa.SmallInteger(), server_default=sa.text("0"), nullable=False
        ),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_column("call", "occurred_at_rank", if_exists=True)
