"""Telnyx webhook authenticity: Ed25519 over ``"{telnyx-timestamp}|{raw body}"``."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from ringback.http.errors import ApiError
from ringback.http.inputs import parse_id
from ringback.tenancy.model import Restaurant

TOLERANCE_SECONDS = 300
log = logging.getLogger("ringback.webhooks.telnyx")


def bad_signature() -> ApiError:
    return ApiError(401, "UNAUTHORIZED", "Missing or invalid Telnyx signature")


def _b64(value: str) -> bytes:
    return base64.b64decode(value.strip(), validate=True)


def check_signature(
    restaurant: Restaurant | None,
    raw_body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: dt.datetime,
) -> Restaurant:
    """The restaurant whose public key signed this body within the tolerance, else 401.

    An unknown slug, a restaurant without a key, a stale or future timestamp and a bad signature
    all answer the same.
    """
    key = restaurant.telnyx_public_key if restaurant else None
    if restaurant is None or not key or not signature or not timestamp:
        raise bad_signature()
    sent_at = parse_id(timestamp.strip())
    if sent_at is None or abs(now.timestamp() - sent_at) > TOLERANCE_SECONDS:
        raise bad_signature()
    try:
        verify_key = VerifyKey(_b64(key))
    except (binascii.Error, ValueError, TypeError, CryptoError):
        log.warning("restaurant %s has an unreadable telnyx_public_key", restaurant.id)
        raise bad_signature() from None
    try:
        verify_key.verify(timestamp.strip().encode() + b"|" + raw_body, _b64(signature))
    except (binascii.Error, ValueError, TypeError, CryptoError):
        raise bad_signature() from None
    return restaurant
