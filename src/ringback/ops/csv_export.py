"""``calls.csv``: its header, its lines, and the cell rule that keeps a spreadsheet from running a
cell as a formula (SPEC §8)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable

from ringback.http.formats import id_str, iso_z
from ringback.ops.model import CsvRow

CSV_HEADER = (
    "id,source,external_id,direction,disposition,caller_phone_number,occurred_at,created_at,"
    "outcome,template_type,customer_id,reservation_id,message_status,message_attempts,recovered_at"
)
LINES_PER_CHUNK = 500


async def csv_body(rows: AsyncIterable[CsvRow]) -> AsyncIterator[str]:
    """The header, then the lines in chunks of ``LINES_PER_CHUNK``: a response streamed in
    constant memory however many rows there are."""
    yield CSV_HEADER + "\r\n"
    chunk: list[CsvRow] = []
    async for row in rows:
        chunk.append(row)
        if len(chunk) >= LINES_PER_CHUNK:
            yield csv_lines(chunk)
            chunk = []
    if chunk:
        yield csv_lines(chunk)


def csv_lines(rows: Iterable[CsvRow]) -> str:
    """The CSV lines of ``rows`` (CRLF-terminated), written by one writer."""
    out = io.StringIO()
    # Every cell goes through csv_cell, not only the columns callers fill today: a column added
    # later is neutralized without anyone having to remember it.
    csv.writer(out, lineterminator="\r\n").writerows(
        [
            csv_cell(cell)
            for cell in (
                str(row.id),
                row.source,
                row.external_id,
                row.direction,
                row.disposition,
                row.caller_phone_number,
                iso_z(row.occurred_at),
                iso_z(row.created_at),
                row.outcome,
                row.template_type,
                id_str(row.customer_id),
                id_str(row.reservation_id),
                row.message_status,
                None if row.message_attempts is None else str(row.message_attempts),
                iso_z(row.recovered_at),
            )
        ]
        for row in rows
    )
    return out.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ASCII digits only: str.isdigit() and \d also take other scripts' digits, which no spreadsheet
# reads as a number.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def csv_cell(value: str | None) -> str:
    """A cell a spreadsheet could run as a formula gets a leading ``'`` (OWASP's CSV-injection
    rule, SPEC §8), unless it is a plain number: E.164 numbers (``+33612345678``) stay as they
    are, ``+HYPERLINK(…)`` and ``-2+3`` do not. None is an empty cell."""
    if value is None:
        return ""
    if value.startswith(_FORMULA_START) and _PLAIN_NUMBER.fullmatch(value) is None:
        return "'" + value
    return value
