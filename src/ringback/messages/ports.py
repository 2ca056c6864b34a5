"""What crosses the outbox's edges: the message a decision enqueues (from the relay) and the
sender port (the Graph API client, or a test's fake) with the message it sends and its answer."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ringback.relay.model import TemplateType
from ringback.tenancy.model import Template


@dataclass(frozen=True, slots=True)
class NewMessage:
    restaurant_id: int
    customer_id: int | None
    """None for a customer the decision statement creates (it writes that id)."""
    to_phone_number: str
    template_type: TemplateType
    template: Template
    parameters: Sequence[str]
    due_at: dt.datetime
    inline_lease: InlineLease | None = None
    """Set when the request sends the message itself: it is written already leased to it."""


@dataclass(frozen=True, slots=True)
class NewText:
    """A free-form text to a customer (a staff reply, SPEC §10): no call, no template."""

    restaurant_id: int
    customer_id: int
    to_phone_number: str
    body: str
    due_at: dt.datetime
    inline_lease: InlineLease | None = None
    """Set when the request sends the text itself: it is written already leased to it."""


@dataclass(frozen=True, slots=True)
class InlineLease:
    token: uuid.UUID
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message a dispatcher holds under lease, with what the provider call needs."""

    id: int
    lease_token: uuid.UUID
    attempts: int
    phone_number_id: str
    access_token: str
    to_phone_number: str
    template_name: str
    template_language: str
    parameters: Sequence[str]
    text: str | None = None
    """The body of a free-form text; None for a template (then the template fields are set)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider's answer: accepted (with its message id) or refused, transiently or for good."""

    provider_message_id: str | None = None
    error: str | None = None
    transient: bool = False

    @property
    def accepted(self) -> bool:
        return self.provider_message_id is not None


class MessageSender(Protocol):
    async def send(self, message: ClaimedMessage) -> SendResult: ...
