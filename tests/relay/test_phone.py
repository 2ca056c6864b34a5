"""Reading reported numbers (SPEC §3 normalization and rules 3-5)."""

from __future__ import annotations

import phonenumbers
import pytest

from ringback.relay.phone import NumberVerdict, is_possible, read_number


@pytest.mark.parametrize(
    "raw",
    [
        "+33612345678",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "(06) 12 34 56 78",
        "0033612345678",
        "  +33 6 12 34 56 78  ",
    ],
)
def test_french_mobile_in_any_written_form_reads_as_e164(raw: str) -> None:
    reading = read_number(raw, "FR")
    assert reading.verdict is NumberVerdict.REACHABLE
    assert reading.e164 == "+33612345678"
    assert reading.display == "+33612345678"


def test_national_number_uses_the_restaurant_country() -> None:
    assert read_number("07911 123456", "GB").e164 == "+447911123456"


def test_leading_00_becomes_plus_in_every_country() -> None:
    assert read_number("0044 7911 123456", "US").e164 == "+447911123456"


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "anonymous", "Private", "UNKNOWN", "restricted", "unavailable", "0000", "+000 000"],
)
def test_withheld_numbers_are_hidden(raw: str) -> None:
    assert read_number(raw, "FR").verdict is NumberVerdict.HIDDEN


@pytest.mark.parametrize("raw", ["+33 1", "12", "not a number", "+1 205-123-4567", "1-800-FLOWERS"])
def test_unparseable_or_invalid_numbers_are_invalid_and_shown_trimmed(raw: str) -> None:
    reading = read_number(f" {raw} ", "FR")
    assert reading.verdict is NumberVerdict.INVALID
    assert reading.e164 is None
    assert reading.display == raw


def test_french_fixed_line_is_valid_but_not_mobile() -> None:
    reading = read_number("01 42 68 53 00", "FR")
    assert reading.verdict is NumberVerdict.NOT_MOBILE
    assert reading.e164 == "+33142685300"


def test_us_number_that_may_be_mobile_passes() -> None:
    assert read_number("+1 650 253 0000", "FR").verdict is NumberVerdict.REACHABLE


def test_possible_but_invalid_number_is_well_formed_for_ccai() -> None:
    assert is_possible("+1 205-123-4567", "US")
    assert not is_possible("+1 2", "US")


def _numbers_of_every_region() -> list[str]:
    """Each region's example numbers of four types, and each of them one digit short, one
    digit long and with its first digit changed: valid and invalid numbers of every region."""
    numbers = []
    types = (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.VOIP,
        phonenumbers.PhoneNumberType.TOLL_FREE,
    )
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        code = phonenumbers.country_code_for_region(region)
        for kind in types:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = str(example.national_number)
            flipped = str((int(national[0]) + 1) % 10) + national[1:]
            for digits in (national, national[:-1], national + "5", flipped):
                numbers.append(f"+{code}{digits}")
    return numbers


def test_a_number_is_invalid_exactly_when_phonenumbers_says_it_is_not_valid() -> None:
    """read_number asks phonenumbers for the number's type only (UNKNOWN for an invalid
    number), where it asked for validity, then the type: the verdicts are the same."""
    numbers = _numbers_of_every_region()
    valid = 0
    for raw in numbers:
        parsed = phonenumbers.parse(raw, None)
        reading = read_number(raw, "FR")
        assert (reading.verdict is NumberVerdict.INVALID) == (
            not phonenumbers.is_valid_number(parsed)
        ), raw
        valid += reading.verdict is not NumberVerdict.INVALID
    assert 0 < valid < len(numbers)  # both kinds were read
