"""Wire models of the WhatsApp Cloud API webhook (``object: whatsapp_business_account``).

Only what Ringback reads is declared; everything else Meta sends is ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Metadata(_Wire):
    display_phone_number: str | None = None
    phone_number_id: str | None = None


class StatusError(_Wire):
    code: int | str | None = None
    title: str | None = None
    message: str | None = None


class Status(_Wire):
    id: str = Field(min_length=1, max_length=512)
    status: str
    timestamp: str | None = None
    recipient_id: str | None = None
    errors: list[StatusError] = Field(default_factory=list)


class Text(_Wire):
    body: str = ""


class Button(_Wire):
    text: str = ""
    payload: str | None = None


class InboundMessage(_Wire):
    from_: str = Field(alias="from", min_length=1, max_length=64)
    id: str | None = None
    timestamp: str | None = None
    type: str | None = None
    text: Text | None = None
    button: Button | None = None


class Value(_Wire):
    messaging_product: str | None = None
    metadata: Metadata | None = None
    statuses: list[Status] = Field(default_factory=list)
    messages: list[InboundMessage] = Field(default_factory=list)


class Change(_Wire):
    field: str | None = None
    value: Value | None = None


class Entry(_Wire):
    id: str | None = None
    changes: list[Change] = Field(default_factory=list)


class WebhookIn(_Wire):
    object: str | None = None
    entry: list[Entry] = Field(default_factory=list)
