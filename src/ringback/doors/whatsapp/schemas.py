"""Wire models of the WhatsApp Cloud API webhook (``object: whatsapp_business_account``).

Only what Ringback reads is declared; everything else Meta sends is ignored. The body is read as
a whole first (``WebhookIn``), its ``statuses[]``, ``messages[]`` and ``contacts[]`` as raw items;
each item is then read on its own (``Status``, ``InboundMessage``), so one malformed item is
skipped and logged without refusing the rest of the batch (``wire.py``).
"""

from __future__ import annotations

from typing import Any

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


class Profile(_Wire):
    name: str | None = None


class Contact(_Wire):
    wa_id: str | None = None
    profile: Profile | None = None


class Text(_Wire):
    body: str = ""


class Button(_Wire):
    text: str = ""
    payload: str | None = None


class Reply(_Wire):
    """An interactive ``button_reply`` or ``list_reply``."""

    id: str | None = None
    title: str | None = None
    description: str | None = None


class FlowReply(_Wire):
    """An interactive ``nfm_reply``: a WhatsApp Flow's answer."""

    name: str | None = None
    body: str | None = None
    response_json: str | None = None


class Interactive(_Wire):
    type: str | None = None
    button_reply: Reply | None = None
    list_reply: Reply | None = None
    nfm_reply: FlowReply | None = None


class Media(_Wire):
    """``image``, ``audio``, ``video``, ``document`` and ``sticker`` alike: a media id to fetch
    from the Graph API (Ringback does not download it) and what describes it."""

    id: str | None = Field(default=None, max_length=512)
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None
    animated: bool | None = None


class Location(_Wire):
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    url: str | None = None


class Reaction(_Wire):
    message_id: str | None = None
    emoji: str | None = None


class Context(_Wire):
    """What a message replies to (``id``), or that it was forwarded."""

    id: str | None = Field(default=None, max_length=512)
    from_: str | None = Field(default=None, alias="from")
    forwarded: bool | None = None
    frequently_forwarded: bool | None = None


class InboundMessage(_Wire):
    from_: str = Field(alias="from", min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=512)
    timestamp: str | None = None
    type: str | None = None
    context: Context | None = None
    text: Text | None = None
    button: Button | None = None
    interactive: Interactive | None = None
    image: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    location: Location | None = None
    contacts: list[dict[str, Any]] | None = None
    reaction: Reaction | None = None
    errors: list[StatusError] = Field(default_factory=list)


class Value(_Wire):
    messaging_product: str | None = None
    metadata: Metadata | None = None
    statuses: list[Any] = Field(default_factory=list)
    messages: list[Any] = Field(default_factory=list)
    contacts: list[Any] = Field(default_factory=list)


class Change(_Wire):
    field: str | None = None
    value: Value | None = None


class Entry(_Wire):
    id: str | None = None
    changes: list[Change] = Field(default_factory=list)


class WebhookIn(_Wire):
    object: str | None = None
    entry: list[Entry] = Field(default_factory=list)
