"""Routes of ``/apps/api/v1`` and ``/manager/api/v1``: thin — the body read, the rules, one store
or relay call, the call object. Errors under both prefixes are rendered ``{"message": …}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ringback.doors.ccai import create_rules
from ringback.doors.ccai.auth import CcaiCaller
from ringback.doors.ccai.bodies import CustomerFlagIn, MoveIn, NewCallIn, read_json_object
from ringback.doors.ccai.call_object import call_out, flags_out
from ringback.doors.ccai.calls import CallKind
from ringback.doors.ccai.errors import PREFIXES, bad_request, render_ccai_error
from ringback.doors.ccai.listing import PageLinks, list_query
from ringback.doors.ccai.moves import plan_move, relay_event
from ringback.doors.ccai.queries import CcaiCalls, CustomerFlags
from ringback.doors.ccai.schemas import (
    CREATE_EXAMPLES,
    MOVE_EXAMPLES,
    CallOut,
    CustomerFlagOut,
    MessageOut,
    OrganizationOut,
)
from ringback.http.deps import Clock, Db, Relay
from ringback.http.errors import not_found, register_renderer
from ringback.http.inputs import BIGINT_MAX, parse_id
from ringback.tenancy.model import Restaurant

for _prefix in PREFIXES:
    register_renderer(_prefix, render_ccai_error)


async def ccai_calls(db: Db) -> CcaiCalls:
    return CcaiCalls(db)


Calls = Annotated[CcaiCalls, Depends(ccai_calls)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": MessageOut, "description": "Unauthorized (HTTP Basic: slug + ccai token)"},
    404: {"model": MessageOut, "description": "Not found"},
    429: {"model": MessageOut, "description": "Too many requests"},
}
_LOOPBACK = frozenset({"127.0.0.1", "::1"})

apps = APIRouter(prefix="/apps/api/v1", tags=["ccai"], responses=_ERRORS)
manager = APIRouter(prefix="/manager/api/v1", tags=["ccai"], responses=_ERRORS)


def _call_id(raw: str) -> int:
    call_id = parse_id(raw)
    if call_id is None:
        raise not_found()
    return call_id


def _reply(out: CallOut | CustomerFlagOut, status: int = 200) -> JSONResponse:
    return JSONResponse(out.model_dump(mode="json"), status_code=status)


@apps.post(
    "/calls",
    status_code=201,
    response_model=CallOut,
    responses={
        202: {"description": "The agent must choose the outbound number: the request, echoed"},
        400: {"model": MessageOut, "description": "A rule of the call type refused the request"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"examples": CREATE_EXAMPLES}},
        }
    },
)
async def create_call(request: Request, caller: CcaiCaller, calls: Calls, clock: Clock) -> Response:
    """Create an outbound, incoming or scheduled call (and the deprecated aliases)."""
    restaurant = caller.restaurant
    sent = read_json_object(await request.body())
    body = NewCallIn.model_validate(sent)
    kind = create_rules.call_kind(body)
    parent = None
    if kind is CallKind.SCHEDULED:
        parent_id = create_rules.parent_reference(body)
        if parent_id is not None:
            if parent_id <= BIGINT_MAX:
                parent = await calls.find_call(restaurant.id, parent_id)
            if parent is None:
                raise create_rules.unknown_parent(parent_id)
    plan = create_rules.plan_create(
        kind,
        body,
        restaurant.ccai,
        restaurant_id=restaurant.id,
        region=restaurant.country,
        now=clock(),
        parent=parent,
    )
    if isinstance(plan, create_rules.Echo):
        return JSONResponse(sent, status_code=202)
    call_id = await calls.create_call(plan)
    created = await calls.find_call(restaurant.id, call_id)
    assert created is not None
    return _reply(call_out(created, restaurant.ccai), 201)


@apps.patch(
    "/calls/{call_id}",
    response_model=CallOut,
    responses={
        400: {"model": MessageOut, "description": "<field> is not valid"},
        409: {"model": MessageOut, "description": "Call cannot move from <a> to <b>"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"examples": MOVE_EXAMPLES}},
        }
    },
)
async def move_call(
    call_id: str,
    request: Request,
    caller: CcaiCaller,
    db: Db,
    calls: Calls,
    relay: Relay,
    clock: Clock,
) -> Response:
    """Move a call on (our extension); missed endings and connects reach the relay."""
    restaurant = caller.restaurant
    number = _call_id(call_id)
    move = MoveIn.model_validate(read_json_object(await request.body())).checked()
    now = clock()
    # The move and the relay's decision commit together: a crash between them cannot leave a
    # missed call without its message, and a retried PATCH is then a duplicate.
    async with db.transaction() as tx:
        current = await calls.lock_call(tx, restaurant.id, number)
        if current is None:
            raise not_found()
        planned = plan_move(current, move, now)
        await calls.write_move(tx, number, planned.values)
        event = relay_event(planned.moved, planned.ending, now)
        decision = await relay.decide(tx, restaurant, event) if event is not None else None
        await tx.commit()  # a replayed decision too: the move itself is new
    if event is not None and decision is not None:
        await relay.complete(restaurant, event, decision)  # the inline send, after the commit
    moved = await calls.find_call(restaurant.id, number)
    if moved is None:
        raise not_found()
    return _reply(call_out(moved, restaurant.ccai))


async def _flags(calls: CcaiCalls, restaurant: Restaurant, call_id: str) -> CustomerFlags:
    flags = await calls.customer_flags(restaurant.id, _call_id(call_id))
    if flags is None:
        raise not_found()
    return flags


@apps.get("/calls/{call_id}/customer_flag", response_model=CustomerFlagOut)
async def get_customer_flag(call_id: str, caller: CcaiCaller, calls: Calls) -> Response:
    """The reserved data attributes of the call's customer."""
    return _reply(flags_out(await _flags(calls, caller.restaurant, call_id)))


@apps.patch("/calls/{call_id}/customer_flag", response_model=CustomerFlagOut)
async def patch_customer_flag(
    call_id: str, request: Request, caller: CcaiCaller, calls: Calls
) -> Response:
    """Set `verified_customer`, `bad_actor` (suppresses messages), `repeat_customer(s)`."""
    restaurant = caller.restaurant
    flags = await _flags(calls, restaurant, call_id)
    values = CustomerFlagIn.model_validate(read_json_object(await request.body())).columns()
    if values:
        if flags.customer_id is None:
            raise bad_request("The call has no end user to flag")
        await calls.set_customer_flags(restaurant.id, flags.customer_id, values)
        flags = await _flags(calls, restaurant, call_id)
    return _reply(flags_out(flags))


def _base_url(request: Request) -> str:
    """The URL the client used; X-Forwarded-Proto is trusted from loopback, as uvicorn does."""
    scheme = request.url.scheme
    forwarded = request.headers.get("x-forwarded-proto")
    client = request.client.host if request.client else None
    if forwarded and (client is None or client in _LOOPBACK):
        candidate = forwarded.split(",")[0].strip().lower()
        if candidate in ("http", "https"):
            scheme = candidate
    return f"{scheme}://{request.url.netloc}{request.url.path}"


@manager.get(
    "/calls",
    response_model=list[CallOut],
    responses={200: {"description": "Headers `total`, `per-page` and `link` page the list"}},
)
async def list_calls(request: Request, caller: CcaiCaller, calls: Calls) -> Response:
    """The restaurant's CCAI calls, a page at a time."""
    query = list_query(request.query_params)
    total, found = await calls.list_calls(caller.restaurant.id, query)
    links = PageLinks(_base_url(request), request.url.query)
    headers = {"total": str(total), "per-page": str(query.per)}
    link = links.header(query.page, query.per, total)
    if link:
        headers["link"] = link
    body = [call_out(call, caller.restaurant.ccai).model_dump(mode="json") for call in found]
    return JSONResponse(body, headers=headers)


@manager.get("/calls/{call_id}", response_model=CallOut)
async def get_call(call_id: str, caller: CcaiCaller, calls: Calls) -> Response:
    found = await calls.find_call(caller.restaurant.id, _call_id(call_id))
    if found is None:
        raise not_found()
    return _reply(call_out(found, caller.restaurant.ccai))


@manager.get("/settings/organization", response_model=OrganizationOut)
async def organization(caller: CcaiCaller) -> OrganizationOut:
    """Clients check their credentials with this."""
    return OrganizationOut(name=caller.restaurant.name, subdomain=caller.restaurant.slug)


router = APIRouter()
router.include_router(apps)
router.include_router(manager)
