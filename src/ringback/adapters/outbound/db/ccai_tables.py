"""The CCAI door's own state of a call (SPEC §6), beside the relay's ``call`` row it extends."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import BigInteger, ForeignKey, Index, Table, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ringback.adapters.outbound.db.tables import TZ, Base


class CcaiCallRow(Base):
    """One CCAI call; ``call_id`` is the relay's call row (source ``ccai``, external id = id)."""

    __tablename__ = "ccai_call"
    __table_args__ = (Index(None, "restaurant_id", "call_id"),)

    call_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("call.id", ondelete="CASCADE"), primary_key=True
    )
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), nullable=False
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("call.id"))
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    lang: Mapped[str] = mapped_column(Text, nullable=False)
    menu: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    agent: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    end_user_number: Mapped[str | None] = mapped_column(Text)
    out_ticket_id: Mapped[str | None] = mapped_column(Text)
    outbound_number: Mapped[str | None] = mapped_column(Text)
    fail_reason: Mapped[str] = mapped_column(Text, nullable=False, server_default="nothing")
    deflection: Mapped[str] = mapped_column(Text, nullable=False, server_default="no_deflection")
    voicemail_reason: Mapped[str] = mapped_column(
        Text, nullable=False, server_default="not_voicemail"
    )
    queued_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    connected_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    ends_at: Mapped[dt.datetime | None] = mapped_column(TZ)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(TZ)


ccai_call = cast(Table, CcaiCallRow.__table__)
