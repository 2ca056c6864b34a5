"""Operations (migration 0004): dashboard sessions and the indexes of the ops queries."""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import BigInteger, Boolean, Identity, Index, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ringback.adapters.outbound.db.tables import TZ, Base, call, message


class OpsSessionRow(Base):
    """A dashboard sign-in. The cookie carries a random id; only its hash is stored, beside the
    hash of the token that signed in (an ops token's row, or the admin token), which is checked
    again on every request: revoking the token ends its sessions."""

    __tablename__ = "ops_session"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        TZ, nullable=False, server_default=text("now()")
    )
    expires_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False, index=True)


ops_session = cast(Table, OpsSessionRow.__table__)

# The list is ordered by (occurred_at DESC, id DESC) inside one restaurant
# (ix_call_ops_time, migration 0005). A filter on a column with rare values
# would walk much of that index to fill a page, so each filterable column gets an index in the
# list's order; phone numbers use ix_call_restaurant_id_caller_phone_number_occurred_at (0001).
CALL_FILTER_INDEXES = (
    Index(
        "ix_call_ops_outcome", call.c.restaurant_id, call.c.outcome, call.c.occurred_at, call.c.id
    ),
    Index(
        "ix_call_ops_disposition",
        call.c.restaurant_id,
        call.c.disposition,
        call.c.occurred_at,
        call.c.id,
    ),
    Index("ix_call_ops_source", call.c.restaurant_id, call.c.source, call.c.occurred_at, call.c.id),
    Index(
        "ix_call_ops_direction",
        call.c.restaurant_id,
        call.c.direction,
        call.c.occurred_at,
        call.c.id,
    ),
    Index(
        "ix_call_ops_recovered",
        call.c.restaurant_id,
        call.c.occurred_at,
        call.c.id,
        postgresql_where=call.c.recovered_at.isnot(None),
    ),
)
# Statistics read (occurred_at, disposition, outcome, recovered_at) of a time range and each
# call's message status, both index-only: through ix_call_ops_time and ux_message_call_id
# (tables.py), whose INCLUDE columns are there for them.
# Messages by status within a restaurant (the message_status filter starts from the messages).
MESSAGE_STATUS_INDEX = Index(
    "ix_message_ops_status", message.c.restaurant_id, message.c.status, message.c.call_id
)
