"""WhatsApp webhook authenticity: the handshake's verify token and ``X-Hub-Signature-256``."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from ringback.http.errors import ApiError

SIGNATURE_PREFIX = "sha256="


def forbidden() -> ApiError:
    return ApiError(403, "FORBIDDEN", "Webhook verification failed")


def bad_signature() -> ApiError:
    return ApiError(401, "UNAUTHORIZED", "Missing or invalid X-Hub-Signature-256")


def check_handshake(
    mode: str | None, token: str | None, challenge: str | None, expected: SecretStr | None
) -> str:
    """The challenge to echo when Meta's subscription request carries our verify token."""
    if expected is None or mode != "subscribe" or token is None or challenge is None:
        raise forbidden()
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise forbidden()
    return challenge


def check_signature(raw_body: bytes, header: str | None, secret: SecretStr | None) -> None:
    """HMAC-SHA256 of the raw bytes with the app secret, compared in constant time."""
    if secret is None or header is None or not header.startswith(SIGNATURE_PREFIX):
        raise bad_signature()
    given = header[len(SIGNATURE_PREFIX) :].strip().lower().encode("ascii", "replace")
    expected = hmac.new(secret.get_secret_value().encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given, expected.encode()):
        raise bad_signature()
