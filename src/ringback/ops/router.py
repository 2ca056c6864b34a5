"""Routes of ``/api/ops/v1``: thin — query to filters, one use case, records to wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from ringback.http.errors import not_found, validation_error
from ringback.http.formats import parse_id
from ringback.ops import mapper
from ringback.ops.auth import OpsCaller, container_of, ops_caller
from ringback.ops.model import CallFilters, CsvRow
from ringback.ops.schemas import (
    CallReply,
    CallsReply,
    CustomerReply,
    MessageReply,
    StatsReply,
)

router = APIRouter(prefix="/api/ops/v1", tags=["ops"])
Caller = Annotated[OpsCaller, Depends(ops_caller)]

_ENUM_HELP = "one value, or several separated by commas"


def call_filters(
    request: Request,
    caller: Caller,
    source: Annotated[
        str | None, Query(description=f"partner, zoho, ccai, telnyx; {_ENUM_HELP}")
    ] = None,
    direction: Annotated[str | None, Query(description=f"inbound, outbound; {_ENUM_HELP}")] = None,
    disposition: Annotated[
        str | None, Query(description=f"missed, answered, other; {_ENUM_HELP}")
    ] = None,
    outcome: Annotated[str | None, Query(description=f"e.g. SENT; {_ENUM_HELP}")] = None,
    message_status: Annotated[
        str | None,
        Query(
            description=f"queued, sending, sent, delivered, read, failed, cancelled; {_ENUM_HELP}"
        ),
    ] = None,
    phone: Annotated[
        str | None, Query(description="any format; national numbers use the restaurant's country")
    ] = None,
    occurred_from: Annotated[
        str | None, Query(alias="from", description="occurred_at ≥ this ISO-8601 date-time")
    ] = None,
    occurred_to: Annotated[
        str | None, Query(alias="to", description="occurred_at < this ISO-8601 date-time")
    ] = None,
    recovered: Annotated[str | None, Query(description="true or false")] = None,
    restaurant_id: Annotated[
        str | None, Query(description="required with the admin token; ignored otherwise")
    ] = None,
) -> CallFilters:
    params = {
        "source": source,
        "direction": direction,
        "disposition": disposition,
        "outcome": outcome,
        "message_status": message_status,
        "phone": phone,
        "from": occurred_from,
        "to": occurred_to,
        "recovered": recovered,
    }
    return mapper.parse_filters(params, caller.restaurant.country)


Filters = Annotated[CallFilters, Depends(call_filters)]


def _codec(request: Request) -> mapper.CursorCodec:
    """The cursor key is derived from secrets every server process shares (the database URL and
    the admin token), so a cursor issued by one process reads in another."""
    state = request.app.state
    codec: mapper.CursorCodec | None = getattr(state, "ops_cursor_codec", None)
    if codec is None:
        settings = state.settings
        admin = settings.admin_token.get_secret_value() if settings.admin_token else ""
        codec = mapper.CursorCodec(mapper.cursor_key(f"{settings.database_url}|{admin}"))
        state.ops_cursor_codec = codec
    return codec


@router.get("/calls", response_model=CallsReply)
async def list_calls(
    request: Request,
    caller: Caller,
    filters: Filters,
    limit: Annotated[str | None, Query(description="1 to 500, default 50")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> CallsReply:
    """Every call of the restaurant, newest first (`occurred_at`, then id), by keyset pages."""
    size = mapper.parse_limit(limit)
    codec = _codec(request)
    after = codec.decode(caller.restaurant.id, cursor)
    page, following = await container_of(request).ops.list_calls(
        caller.restaurant, filters, after, size
    )
    return CallsReply(
        data=[mapper.call_out(r) for r in page],
        next_cursor=codec.encode(caller.restaurant.id, following) if following else None,
    )


@router.get(
    "/calls.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header row"}},
)
async def export_calls(request: Request, caller: Caller, filters: Filters) -> StreamingResponse:
    """The same filters, every matching call, streamed as CSV (constant memory)."""
    rows = container_of(request).ops.export_calls(caller.restaurant, filters)

    async def body() -> AsyncIterator[str]:
        yield mapper.CSV_HEADER + "\r\n"
        chunk: list[CsvRow] = []
        async for row in rows:
            chunk.append(row)
            if len(chunk) >= 500:
                yield mapper.csv_lines(chunk)
                chunk = []
        if chunk:
            yield mapper.csv_lines(chunk)

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="calls-{caller.restaurant.slug}.csv"'
        },
    )


@router.get("/calls/{call_id}", response_model=CallReply)
async def get_call(call_id: str, request: Request, caller: Caller) -> CallReply:
    """One call, with its message's attempt and status timeline."""
    number = parse_id(call_id)
    if number is None:
        raise not_found("Call not found")
    record = await container_of(request).ops.get_call(caller.restaurant, number)
    return CallReply(data=mapper.call_detail_out(record))


@router.get("/stats", response_model=StatsReply)
async def stats(
    request: Request,
    caller: Caller,
    occurred_from: Annotated[
        str | None, Query(alias="from", description="default: 7 days before `to`")
    ] = None,
    occurred_to: Annotated[str | None, Query(alias="to", description="default: now")] = None,
    bucket: Annotated[str | None, Query(description="hour or day (default)")] = None,
    restaurant_id: Annotated[str | None, Query(description="required with the admin token")] = None,
) -> StatsReply:
    """Calls, outcomes, deliveries and recoveries by hour or day of the restaurant's timezone."""
    problems = mapper.QueryProblems()
    start = mapper.parse_datetime(occurred_from, "from", problems)
    end = mapper.parse_datetime(occurred_to, "to", problems)
    problems.raise_if_any()
    unit = mapper.parse_bucket(bucket)
    try:
        result = await container_of(request).ops.stats(caller.restaurant, unit, start, end)
    except ValueError as error:
        raise validation_error(
            [{"field": "query.from", "message": f"bad range: {error}"}]
        ) from None
    return StatsReply(data=mapper.stats_out(result))


@router.post("/messages/{message_id}/retry", response_model=MessageReply)
async def retry_message(message_id: str, request: Request, caller: Caller) -> MessageReply:
    """Requeue a `failed` message (attempts start again); 409 `CONFLICT` in any other status."""
    number = parse_id(message_id)
    if number is None:
        raise not_found("Message not found")
    message = await container_of(request).ops.retry_message(caller.restaurant, number)
    return MessageReply(data=mapper.message_out(message))


async def _opt_out(
    customer_id: str, request: Request, caller: OpsCaller, value: bool
) -> CustomerReply:
    number = parse_id(customer_id)
    if number is None:
        raise not_found("Customer not found")
    state = await container_of(request).ops.set_opt_out(caller.restaurant, number, value)
    return CustomerReply(data=mapper.customer_state_out(state))


@router.put("/customers/{customer_id}/opt-out", response_model=CustomerReply)
async def opt_out(customer_id: str, request: Request, caller: Caller) -> CustomerReply:
    """Suppress the customer: their next missed call answers `SKIPPED_SUPPRESSED`."""
    return await _opt_out(customer_id, request, caller, True)


@router.delete("/customers/{customer_id}/opt-out", response_model=CustomerReply)
async def opt_in(customer_id: str, request: Request, caller: Caller) -> CustomerReply:
    """Lift the suppression."""
    return await _opt_out(customer_id, request, caller, False)
