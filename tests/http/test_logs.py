"""Structured log lines (SPEC §1 RINGBACK_LOG_FORMAT)."""

from __future__ import annotations

import json
import logging

from ringback.http.logs import ConsoleFormatter, JsonFormatter, RequestIdFilter, request_id_var


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("ringback.test", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    RequestIdFilter().filter(record)
    return record


def test_json_line_carries_the_request_id_of_the_current_request() -> None:
    token = request_id_var.set("req-123")
    try:
        line = JsonFormatter().format(_record("sent message %s", message_id=7))
    finally:
        request_id_var.reset(token)
    event = json.loads(line)
    assert "\n" not in line
    assert event["message"] == "sent message %s"
    assert event["request_id"] == "req-123"
    assert event["level"] == "info"
    assert event["logger"] == "ringback.test"
    assert event["message_id"] == 7


def test_json_line_outside_a_request_has_a_null_request_id() -> None:
    event = json.loads(JsonFormatter().format(_record("worker tick")))
    assert event["request_id"] is None


def test_console_line_shows_the_request_id_in_brackets() -> None:
    token = request_id_var.set("abc")
    try:
        line = ConsoleFormatter().format(_record("hello"))
    finally:
        request_id_var.reset(token)
    assert "ringback.test [abc] hello" in line
