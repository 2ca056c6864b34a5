"""Only ASCII digits are numbers (SPEC §2): the one parser of ids and counts, and the places outside
the HTTP routes that read a number a client or an operator wrote (issue 13, item 2)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from nacl.signing import SigningKey
from pydantic import TypeAdapter, ValidationError
from starlette.types import Message

from ringback.cli import build_parser
from ringback.doors.telnyx.auth import check_signature
from ringback.doors.whatsapp.schemas import WebhookIn
from ringback.doors.whatsapp.wire import to_changes
from ringback.http.errors import ApiError
from ringback.http.inputs import BIGINT_MAX, BodyInt, parse_id
from ringback.http.middleware import EdgeMiddleware
from ringback.tenancy.model import Restaurant

ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))

# Each looks like a number to str.isdigit() or to int(), and none is ASCII decimal digits.
NOT_ASCII_DIGITS = [
    "\u00b9",  # superscript one: isdigit() is true, int() raises
    "\u0661",  # Arabic-Indic one: int() reads 1
    "\uff11",  # fullwidth one: int() reads 1
    "+1",
    "-1",
    " 1",
    "1 ",
    "1\n",
    "1_0",
    "1.0",
    "0x1",
    "",
]


@pytest.mark.parametrize("raw", NOT_ASCII_DIGITS)
def test_only_ascii_digits_are_an_id(raw: str) -> None:
    assert parse_id(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", 0), ("7", 7), ("007", 7), (str(BIGINT_MAX), BIGINT_MAX)]
)
def test_ascii_digits_up_to_bigint_are_an_id(raw: str, expected: int) -> None:
    assert parse_id(raw) == expected


@pytest.mark.parametrize("raw", [str(BIGINT_MAX + 1), "9" * 20, "9" * 5000])
def test_a_number_beyond_bigint_is_no_id_and_no_error(raw: str) -> None:
    assert parse_id(raw) is None


BODY_INT = TypeAdapter(BodyInt)


@pytest.mark.parametrize(
    "raw", ['"+7"', '" 7"', '"1_0"', '"7.0"', '"\u0661"', '"9223372036854775808"']
)
def test_a_body_integer_given_as_a_string_must_be_ascii_digits(raw: str) -> None:
    with pytest.raises(ValidationError):
        BODY_INT.validate_json(raw)


@pytest.mark.parametrize(("raw", "expected"), [("7", 7), ('"7"', 7), ("7.0", 7)])
def test_a_body_integer_is_a_json_number_or_a_string_of_digits(raw: str, expected: int) -> None:
    assert BODY_INT.validate_json(raw) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["tokens", "create", "--restaurant", "\u0661", "--kind", "ops"],
        ["tokens", "create", "--restaurant", "\u00b9", "--kind", "ops"],
        ["tokens", "create", "--restaurant", "+1", "--kind", "ops"],
        ["serve", "--workers", "\u0662"],
        ["serve", "--port", "8000".translate(ARABIC_INDIC)],
        ["serve", "--port", "8_000"],
        ["serve", "--port", "70000"],
    ],
)
def test_the_cli_reads_ids_counts_and_ports_in_ascii_digits_only(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)


def test_the_cli_still_reads_ascii_numbers() -> None:
    args = build_parser().parse_args(["serve", "--port", "8080", "--workers", "2"])
    assert (args.port, args.workers) == (8080, 2)


async def test_a_content_length_too_long_for_int_is_a_413_not_a_crash() -> None:
    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the body limit answers first")

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/partner/v1/missed-calls",
        "raw_path": b"/api/partner/v1/missed-calls",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "server": ("test", 80),
        "headers": [(b"host", b"test"), (b"content-length", b"9" * 5000)],
    }
    await EdgeMiddleware(endpoint, max_body_bytes=256 * 1024)(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413


def test_a_telnyx_timestamp_in_other_digits_is_refused_even_when_signed() -> None:
    key = SigningKey.generate()
    restaurant = Restaurant(
        id=1,
        slug="r",
        name="R",
        country="FR",
        timezone="Europe/Paris",
        telnyx_public_key=base64.b64encode(bytes(key.verify_key)).decode(),
    )
    now = dt.datetime.now(dt.UTC)
    body = b'{"data": {}}'
    ascii_stamp = str(int(now.timestamp()))

    def signed(stamp: str) -> str:
        return base64.b64encode(key.sign(stamp.encode() + b"|" + body).signature).decode()

    assert check_signature(restaurant, body, signed(ascii_stamp), ascii_stamp, now) is restaurant
    other = ascii_stamp.translate(ARABIC_INDIC)
    with pytest.raises(ApiError) as refused:
        check_signature(restaurant, body, signed(other), other, now)
    assert refused.value.status == 401


def test_a_whatsapp_timestamp_in_other_digits_reads_as_the_time_received() -> None:
    received = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    body = WebhookIn.model_validate(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "metadata": {"phone_number_id": "123"},
                                "statuses": [
                                    {
                                        "id": "wamid.1",
                                        "status": "delivered",
                                        "timestamp": "1700000000".translate(ARABIC_INDIC),
                                    }
                                ],
                            }
                        }
                    ]
                }
            ],
        }
    )
    (change,) = to_changes(body, received)
    assert change.receipts[0].reported_at == received
