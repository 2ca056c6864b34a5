"""Routes of ``/api/ops/v1``: thin — query to filters, one use case, records to wire."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from ringback.http.deps import AppSettings, Clock, Db, ServiceMetrics
from ringback.http.errors import not_found, validation_error
from ringback.http.inputs import parse_id
from ringback.ops.auth import OpsCaller, ops_caller
from ringback.ops.csv_export import csv_body
from ringback.ops.cursor import CursorCodec
from ringback.ops.filters import (
    QueryProblems,
    parse_bucket,
    parse_datetime,
    parse_filters,
    parse_limit,
)
from ringback.ops.model import CallFilters
from ringback.ops.schemas import (
    CallDetailOut,
    CallOut,
    CallReply,
    CallsReply,
    CustomerReply,
    CustomerStateOut,
    MessageOut,
    MessageReply,
    StatsOut,
    StatsReply,
)
from ringback.ops.service import OpsService

router = APIRouter(prefix="/api/ops/v1", tags=["ops"])
Caller = Annotated[OpsCaller, Depends(ops_caller)]

_ENUM_HELP = "one value, or several separated by commas"


async def ops_service(db: Db, clock: Clock, metrics: ServiceMetrics) -> OpsService:
    return OpsService(db, clock=clock, metrics=metrics)


Ops = Annotated[OpsService, Depends(ops_service)]


@cache
def _codec_for(material: str) -> CursorCodec:
    return CursorCodec.from_secrets(material)


async def cursor_codec(settings: AppSettings) -> CursorCodec:
    """The cursor key is derived from secrets every server process shares (the database URL and
    the admin token), so a cursor issued by one process reads in another."""
    admin = settings.admin_token.get_secret_value() if settings.admin_token else ""
    return _codec_for(f"{settings.database_url}|{admin}")


Cursors = Annotated[CursorCodec, Depends(cursor_codec)]


async def call_filters(
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
    replied: Annotated[
        str | None,
        Query(description="true or false: the customer wrote within 7 days of our message"),
    ] = None,
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
        "replied": replied,
    }
    return parse_filters(params, caller.restaurant.country)


Filters = Annotated[CallFilters, Depends(call_filters)]


@router.get("/calls", response_model=CallsReply)
async def list_calls(
    caller: Caller,
    filters: Filters,
    ops: Ops,
    codec: Cursors,
    limit: Annotated[str | None, Query(description="1 to 500, default 50")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> CallsReply:
    """Every call of the restaurant, newest first (`occurred_at`, then id), by keyset pages."""
    size = parse_limit(limit)
    after = codec.decode(caller.restaurant.id, cursor)
    page, following = await ops.list_calls(caller.restaurant, filters, after, size)
    return CallsReply(
        data=[CallOut.of(r) for r in page],
        next_cursor=codec.encode(caller.restaurant.id, following) if following else None,
    )


@router.get(
    "/calls.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header row"}},
)
async def export_calls(caller: Caller, filters: Filters, ops: Ops) -> StreamingResponse:
    """The same filters, every matching call, streamed as CSV (constant memory)."""
    return StreamingResponse(
        csv_body(ops.export_calls(caller.restaurant, filters)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="calls-{caller.restaurant.slug}.csv"'
        },
    )


@router.get("/calls/{call_id}", response_model=CallReply)
async def get_call(call_id: str, caller: Caller, ops: Ops) -> CallReply:
    """One call, with its message's attempt and status timeline."""
    number = parse_id(call_id)
    if number is None:
        raise not_found("Call not found")
    record = await ops.get_call(caller.restaurant, number)
    return CallReply(data=CallDetailOut.of(record))


@router.get("/stats", response_model=StatsReply)
async def stats(
    caller: Caller,
    ops: Ops,
    occurred_from: Annotated[
        str | None, Query(alias="from", description="default: 7 days before `to`")
    ] = None,
    occurred_to: Annotated[str | None, Query(alias="to", description="default: now")] = None,
    bucket: Annotated[str | None, Query(description="hour or day (default)")] = None,
    restaurant_id: Annotated[str | None, Query(description="required with the admin token")] = None,
) -> StatsReply:
    """Calls, outcomes, deliveries, recoveries and replies by hour or day of the restaurant's
    timezone."""
    problems = QueryProblems()
    start = parse_datetime(occurred_from, "from", problems)
    end = parse_datetime(occurred_to, "to", problems)
    problems.raise_if_any()
    unit = parse_bucket(bucket)
    try:
        result = await ops.stats(caller.restaurant, unit, start, end)
    except ValueError as error:
        raise validation_error(
            [{"field": "query.from", "message": f"bad range: {error}"}]
        ) from None
    return StatsReply(data=StatsOut.of(result))


@router.post("/messages/{message_id}/retry", response_model=MessageReply)
async def retry_message(message_id: str, caller: Caller, ops: Ops) -> MessageReply:
    """Requeue a `failed` message (attempts start again); 409 `CONFLICT` in any other status."""
    number = parse_id(message_id)
    if number is None:
        raise not_found("Message not found")
    message = await ops.retry_message(caller.restaurant, number)
    return MessageReply(data=MessageOut.of(message))


async def _opt_out(
    customer_id: str, caller: OpsCaller, ops: OpsService, value: bool
) -> CustomerReply:
    number = parse_id(customer_id)
    if number is None:
        raise not_found("Customer not found")
    state = await ops.set_opt_out(caller.restaurant, number, value)
    return CustomerReply(data=CustomerStateOut.of(state))


@router.put("/customers/{customer_id}/opt-out", response_model=CustomerReply)
async def opt_out(customer_id: str, caller: Caller, ops: Ops) -> CustomerReply:
    """Suppress the customer: their next missed call answers `SKIPPED_SUPPRESSED`."""
    return await _opt_out(customer_id, caller, ops, True)


@router.delete("/customers/{customer_id}/opt-out", response_model=CustomerReply)
async def opt_in(customer_id: str, caller: Caller, ops: Ops) -> CustomerReply:
    """Lift the suppression."""
    return await _opt_out(customer_id, caller, ops, False)
