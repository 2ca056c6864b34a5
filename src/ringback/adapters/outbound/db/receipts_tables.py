"""Rows of the WhatsApp webhooks: receipts kept until their message id is committed (SPEC §3)."""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import BigInteger, Identity, Index, Table, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ringback.adapters.outbound.db.tables import TZ, Base, RestaurantRow


class PendingReceiptRow(Base):
    """A receipt for a provider message id no message carries yet; applied at ``mark_sent``."""

    __tablename__ = "pending_receipt"
    __table_args__ = (UniqueConstraint("provider_message_id", "status"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    provider_message_id: Mapped[str] = mapped_column(Text, nullable=False)
    phone_number_id: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(TZ, nullable=False, server_default=func.now())


pending_receipt = cast(Table, PendingReceiptRow.__table__)

# A status webhook names the business number (phone_number_id): its restaurants are found by it.
WHATSAPP_NUMBER_INDEX = Index(
    "ix_restaurant_whatsapp_phone_number_id",
    cast(Table, RestaurantRow.__table__).c.whatsapp["phone_number_id"].astext,
)
