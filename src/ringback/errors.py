"""The domain's exception tree; the HTTP edge maps each to a reply in one table."""

from __future__ import annotations


class RingbackError(Exception):
    """Base of every error the relay raises on purpose."""


class IdempotencyConflict(RingbackError):
    """The same external id was reported again with a different number."""

    def __init__(self, external_id: str, stored_number: str, new_number: str) -> None:
        super().__init__(f"external id {external_id!r} was already reported for another number")
        self.external_id = external_id
        self.stored_number = stored_number
        self.new_number = new_number


class NotFound(RingbackError):
    """The resource does not exist for this restaurant."""


class Conflict(RingbackError):
    """The resource is not in a state that allows the request."""


class WindowClosed(Conflict):
    """A free-form WhatsApp message outside the customer service window (SPEC §10)."""


class DatabaseUnavailable(RingbackError):
    """PostgreSQL cannot be reached or dropped the connection (lost, timed out, shutting down,
    starting up, pool exhausted): the request may be retried shortly."""


class UnstorableText(RingbackError):
    """Input text no database can hold: a NUL byte, or an unpaired surrogate from a JSON escape."""
