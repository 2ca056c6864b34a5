"""The opaque page cursors of the ops API: the calls list (``CursorCodec``) and any other list
walked by (time, id) keyset (``KeysetCursor``, the conversations' inbox)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import struct

from ringback.http.errors import validation_error
from ringback.http.formats import as_utc
from ringback.ops.model import Position

_CURSOR = struct.Struct(">qq")
_MAC_BYTES = 12
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CALLS = b"ringback ops cursor"


class KeysetCursor:
    """``base64url(time µs, id, HMAC)``: opaque to clients, bound to one restaurant and to one
    list (``purpose`` keys it), and a changed byte is refused (422) rather than read."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_secrets(cls, material: str, purpose: bytes = CALLS) -> KeysetCursor:
        """The key derived from secrets every server process shares, so a cursor issued by one
        process reads in another."""
        return cls(cursor_key(material, purpose))

    def _mac(self, restaurant_id: int, payload: bytes) -> bytes:
        message = str(restaurant_id).encode() + b"|" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode_at(self, restaurant_id: int, at: dt.datetime, row_id: int) -> str:
        # a stored time may be a naive -infinity/infinity (older code): as_utc reads it as UTC,
        # and decode() gives it back aware, which asyncpg writes as the same infinity
        delta = as_utc(at) - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        payload = _CURSOR.pack(micros, row_id)
        raw = payload + self._mac(restaurant_id, payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode_at(self, restaurant_id: int, cursor: str | None) -> tuple[dt.datetime, int] | None:
        if cursor is None or cursor == "":
            return None
        bad = validation_error([{"field": "query.cursor", "message": "not a cursor we issued"}])
        if len(cursor) > 64:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        if len(raw) != _CURSOR.size + _MAC_BYTES:
            raise bad
        payload, mac = raw[: _CURSOR.size], raw[_CURSOR.size :]
        if not hmac.compare_digest(mac, self._mac(restaurant_id, payload)):
            raise bad
        micros, row_id = _CURSOR.unpack(payload)
        try:
            at = _EPOCH + dt.timedelta(microseconds=micros)
        except OverflowError:
            raise bad from None
        return at, row_id


class CursorCodec(KeysetCursor):
    """The calls list's cursor: its position is (occurred_at, call id)."""

    @classmethod
    def from_secrets(cls, material: str, purpose: bytes = CALLS) -> CursorCodec:
        return cls(cursor_key(material, purpose))

    def encode(self, restaurant_id: int, position: Position) -> str:
        return self.encode_at(restaurant_id, position.occurred_at, position.call_id)

    def decode(self, restaurant_id: int, cursor: str | None) -> Position | None:
        found = self.decode_at(restaurant_id, cursor)
        return None if found is None else Position(*found)


def cursor_key(material: str, purpose: bytes = CALLS) -> bytes:
    return hmac.new(material.encode(), purpose, hashlib.sha256).digest()
