"""Phone numbers, parsed once at the boundary into E.164 (SPEC §3, normalization; rules 3-5)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

WITHHELD_WORDS = frozenset({"anonymous", "private", "unknown", "restricted", "unavailable"})

# Only characters a human writes in a phone number; letters (vanity numbers, "ext.") are refused.
_ALLOWED = re.compile(r"^\+?[0-9\s.\-()/]+$")

_REACHABLE_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER,
    }
)


class NumberVerdict(StrEnum):
    REACHABLE = "reachable"
    HIDDEN = "hidden"
    INVALID = "invalid"
    NOT_MOBILE = "not_mobile"


@dataclass(frozen=True, slots=True)
class PhoneReading:
    """A raw number as the relay reads it.

    ``e164`` is set whenever the number is valid (reachable or not); ``display`` is what replies and
    the call record show: E.164 when valid, else the trimmed raw string.
    """

    verdict: NumberVerdict
    display: str
    e164: str | None = None


def _prepare(raw: str) -> str:
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    return text


def is_withheld(raw: str) -> bool:
    text = raw.strip()
    if not text or text.lower() in WITHHELD_WORDS:
        return True
    digits = re.sub(r"\D", "", text)
    return bool(digits) and set(digits) == {"0"} and _ALLOWED.match(text) is not None


def _parse(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    text = _prepare(raw)
    if not _ALLOWED.match(text):
        return None
    try:
        return phonenumbers.parse(text, None if text.startswith("+") else region.upper())
    except NumberParseException:
        return None


def read_number(raw: str, region: str) -> PhoneReading:
    """Read a reported number with the restaurant's country for national formats."""
    trimmed = raw.strip()
    if is_withheld(raw):
        return PhoneReading(NumberVerdict.HIDDEN, trimmed)
    parsed = _parse(raw, region)
    if parsed is None:
        return PhoneReading(NumberVerdict.INVALID, trimmed)
    # number_type is UNKNOWN exactly when is_valid_number is false: both find the number's
    # region, then match its national number against that region's types, so asking for the
    # type alone reads the number once where asking both read it twice (every report;
    # tests/relay/test_phone.py checks the equivalence on numbers of every region)
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        return PhoneReading(NumberVerdict.INVALID, trimmed)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if kind not in _REACHABLE_TYPES:
        return PhoneReading(NumberVerdict.NOT_MOBILE, e164, e164)
    return PhoneReading(NumberVerdict.REACHABLE, e164, e164)


def normalize(raw: str, region: str) -> str | None:
    """E.164 for a valid number (any type), else None."""
    return read_number(raw, region).e164


def is_possible(raw: str, region: str) -> bool:
    """Whether phonenumbers parses the number and its length is possible (CCAI well-formed)."""
    parsed = _parse(raw, region)
    return parsed is not None and phonenumbers.is_possible_number(parsed)


_WA_ID = re.compile(r"^\+?[0-9]{6,15}$")


def whatsapp_sender(wa_id: str) -> str | None:
    """E.164 of a WhatsApp sender (``messages[].from``: international digits, no ``+``).

    A number phonenumbers does not know as valid (a range newer than its metadata) is still a
    WhatsApp account that wrote to us: read as ``+`` and its digits when it has 6 to 15 of
    them, so no customer's message is dropped for it; anything else is not a number (None).
    """
    text = wa_id.strip()
    if not _WA_ID.match(text):
        return None
    digits = text.lstrip("+")
    return normalize("+" + digits, "ZZ") or "+" + digits
