"""Routes of ``/apps/api/v1`` and ``/manager/api/v1``: thin — wire to domain, one store or relay
call, domain to wire. Errors under both prefixes are rendered ``{"message": …}``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ringback.doors.ccai import mapper
from ringback.doors.ccai.auth import CcaiCaller, ccai_caller
from ringback.doors.ccai.calls import CallKind
from ringback.doors.ccai.errors import (
    PREFIXES,
    bad_request,
    conflict,
    render_ccai_error,
)
from ringback.doors.ccai.queries import SqlCcaiStore
from ringback.doors.ccai.schemas import (
    CREATE_EXAMPLES,
    MOVE_EXAMPLES,
    CallOut,
    CustomerFlagOut,
    MessageOut,
    OrganizationOut,
)
from ringback.http.errors import not_found, register_renderer
from ringback.http.formats import parse_id
from ringback.relay.ports import UnitOfWork

for _prefix in PREFIXES:
    register_renderer(_prefix, render_ccai_error)

Caller = Annotated[CcaiCaller, Depends(ccai_caller)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": MessageOut, "description": "Unauthorized (HTTP Basic: slug + ccai token)"},
    404: {"model": MessageOut, "description": "Not found"},
    429: {"model": MessageOut, "description": "Too many requests"},
}
_LOOPBACK = frozenset({"127.0.0.1", "::1"})

apps = APIRouter(prefix="/apps/api/v1", tags=["ccai"], responses=_ERRORS)
manager = APIRouter(prefix="/manager/api/v1", tags=["ccai"], responses=_ERRORS)


def _store(request: Request) -> SqlCcaiStore:
    store: SqlCcaiStore = request.app.state.container.ccai
    return store


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:  # RecursionError: JSON nested too deep
        raise bad_request("Request body is not valid JSON") from error
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


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
async def create_call(request: Request, caller: Caller) -> Response:
    """Create an outbound, incoming or scheduled call (and the deprecated aliases)."""
    body = await _json_object(request)
    kind = mapper.call_kind(body)
    store = _store(request)
    parent = None
    if kind is CallKind.SCHEDULED:
        parent_id = mapper.parent_reference(body)
        if parent_id is not None:
            parent = (
                await store.find_call(caller.restaurant.id, parent_id)
                if parent_id <= mapper.MAX_ID
                else None
            )
            if parent is None:
                raise mapper.unknown_parent(parent_id)
    plan = mapper.plan_create(
        kind,
        body,
        caller.ccai,
        restaurant_id=caller.restaurant.id,
        region=caller.restaurant.country,
        now=_now(),
        parent=parent,
    )
    if isinstance(plan, mapper.Echo):
        return JSONResponse(body, status_code=202)
    call_id = await store.create_call(plan)
    row = await store.find_call(caller.restaurant.id, call_id)
    assert row is not None
    return _reply(mapper.call_out(row, caller.ccai), 201)


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
async def move_call(call_id: str, request: Request, caller: Caller) -> Response:
    """Move a call on (our extension); missed endings and connects reach the relay."""
    number = _call_id(call_id)
    plan = mapper.MovePlan(await _json_object(request), _now())
    store = _store(request)
    current = await store.find_call(caller.restaurant.id, number)
    if current is None:
        raise not_found()
    plan(dict(current))  # validates the move and tells what the relay will hear of it
    event = mapper.relay_event(plan.row, plan.ending, plan.now)
    if event is None:
        row = await store.move(caller.restaurant.id, number, plan)
    else:
        # The move and the relay's decision commit together: a crash between them cannot
        # leave a missed call without its message, and a retried PATCH is then a duplicate.
        heard = plan.ending

        async def move_with_the_decision(uow: UnitOfWork) -> None:
            moved = await store.move_within(uow, caller.restaurant.id, number, plan)
            if not moved:
                raise not_found()
            if plan.ending is not heard:  # another move came first: refuse, write nothing
                now_at = plan.row["current_status"]
                raise conflict(f"Call cannot move from {now_at} to {plan.target.value}")

        await request.app.state.container.relay.handle(
            caller.restaurant, event, alongside=move_with_the_decision
        )
        row = await store.find_call(caller.restaurant.id, number)
    if row is None:
        raise not_found()
    return _reply(mapper.call_out(row, caller.ccai))


async def _flags(request: Request, caller: CcaiCaller, call_id: str) -> dict[str, Any]:
    row = await _store(request).customer_flags(caller.restaurant.id, _call_id(call_id))
    if row is None:
        raise not_found()
    return row


@apps.get("/calls/{call_id}/customer_flag", response_model=CustomerFlagOut)
async def get_customer_flag(call_id: str, request: Request, caller: Caller) -> Response:
    """The reserved data attributes of the call's customer."""
    return _reply(mapper.flags_out(await _flags(request, caller, call_id)))


@apps.patch("/calls/{call_id}/customer_flag", response_model=CustomerFlagOut)
async def patch_customer_flag(call_id: str, request: Request, caller: Caller) -> Response:
    """Set `verified_customer`, `bad_actor` (suppresses messages), `repeat_customer(s)`."""
    row = await _flags(request, caller, call_id)
    values = mapper.flag_values(await _json_object(request))
    if values:
        if row["customer_id"] is None:
            raise bad_request("The call has no end user to flag")
        await _store(request).set_customer_flags(caller.restaurant.id, row["customer_id"], values)
        row = await _flags(request, caller, call_id)
    return _reply(mapper.flags_out(row))


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
async def list_calls(request: Request, caller: Caller) -> Response:
    """The restaurant's CCAI calls, a page at a time."""
    query = mapper.list_query(request.query_params)
    total, rows = await _store(request).list_calls(caller.restaurant.id, query)
    links = mapper.PageLinks(_base_url(request), request.url.query)
    headers = {"total": str(total), "per-page": str(query.per)}
    link = links.header(query.page, query.per, total)
    if link:
        headers["link"] = link
    body = [mapper.call_out(row, caller.ccai).model_dump(mode="json") for row in rows]
    return JSONResponse(body, headers=headers)


@manager.get("/calls/{call_id}", response_model=CallOut)
async def get_call(call_id: str, request: Request, caller: Caller) -> Response:
    row = await _store(request).find_call(caller.restaurant.id, _call_id(call_id))
    if row is None:
        raise not_found()
    return _reply(mapper.call_out(row, caller.ccai))


@manager.get("/settings/organization", response_model=OrganizationOut)
async def organization(caller: Caller) -> OrganizationOut:
    """Clients check their credentials with this."""
    return OrganizationOut(name=caller.restaurant.name, subdomain=caller.restaurant.slug)


router = APIRouter()
router.include_router(apps)
router.include_router(manager)
