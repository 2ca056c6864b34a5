"""SqlOpsStore: the operations queries (SPEC §8), dashboard sessions and the outbox gauges.

Every read is scoped by restaurant and walks ``(occurred_at DESC, id DESC)`` by keyset, so a page
10,000 rows deep costs what the first one does, and the CSV export reads bounded chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    null,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from ringback.db.tables import (
    RESTAURANT_SETTINGS,
    TZ,
    api_token,
    call,
    customer,
    customer_suppressed,
    message,
    message_event,
    message_status_is,
    ops_session,
    reservation,
    restaurant,
)
from ringback.messages.states import MessageStatus
from ringback.messages.timeline import log_moves
from ringback.ops.model import (
    BucketCounts,
    CallFilters,
    CallRecord,
    CsvRow,
    CustomerInfo,
    CustomerState,
    MessageInfo,
    Position,
    ReservationInfo,
    RetryResult,
    TimelineEntry,
)
from ringback.relay.model import Direction, Disposition, Outcome, Source, TemplateType
from ringback.tenancy.model import TokenKind

CSV_CHUNK = 2000
RETRY_DETAIL = "requeued by ops"

_CALL_COLUMNS = [
    call.c.id,
    call.c.source,
    call.c.external_id,
    call.c.direction,
    call.c.disposition,
    call.c.caller_phone_number,
    call.c.occurred_at,
    call.c.created_at,
    call.c.outcome,
    call.c.template_type,
    call.c.customer_id,
    call.c.reservation_id,
    call.c.recovered_at,
]
_MESSAGE_COLUMNS = [
    message.c.id.label("m_id"),
    message.c.status.label("m_status"),
    message.c.attempts.label("m_attempts"),
    message.c.next_attempt_at.label("m_next_attempt_at"),
    message.c.provider_message_id.label("m_provider_message_id"),
    message.c.last_error.label("m_last_error"),
    message.c.updated_at.label("m_updated_at"),
    message.c.template_name.label("m_template_name"),
]
_RELATED_COLUMNS = [
    customer.c.phone_number.label("cu_phone_number"),
    customer.c.name.label("cu_name"),
    customer.c.opted_out_at.label("cu_opted_out_at"),
    customer.c.bad_actor.label("cu_bad_actor"),
    reservation.c.external_id.label("re_external_id"),
    reservation.c.start_at.label("re_start_at"),
    reservation.c.party_size.label("re_party_size"),
    reservation.c.status.label("re_status"),
]


def _where(restaurant_id: int, filters: CallFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [call.c.restaurant_id == restaurant_id]
    pairs: list[tuple[Any, tuple[Any, ...]]] = [
        (call.c.source, filters.sources),
        (call.c.direction, filters.directions),
        (call.c.disposition, filters.dispositions),
        (call.c.outcome, filters.outcomes),
        (message.c.status, filters.message_statuses),
    ]
    for column, values in pairs:
        if len(values) == 1:
            conditions.append(column == values[0].value)
        elif values:
            conditions.append(column.in_([v.value for v in values]))
    if filters.phone is not None:
        conditions.append(call.c.caller_phone_number == filters.phone)
    if filters.occurred_from is not None:
        conditions.append(call.c.occurred_at >= filters.occurred_from)
    if filters.occurred_to is not None:
        conditions.append(call.c.occurred_at < filters.occurred_to)
    if filters.recovered is True:
        conditions.append(call.c.recovered_at.isnot(None))
    elif filters.recovered is False:
        conditions.append(call.c.recovered_at.is_(None))
    return conditions


def _page(
    query: Select[Any],
    restaurant_id: int,
    filters: CallFilters,
    after: Position | None,
    limit: int,
) -> Select[Any]:
    conditions = _where(restaurant_id, filters)
    if after is not None:
        conditions.append(
            tuple_(call.c.occurred_at, call.c.id) < tuple_(after.occurred_at, after.call_id)
        )
    return (
        query.where(and_(*conditions))
        .order_by(call.c.occurred_at.desc(), call.c.id.desc())
        .limit(limit)
    )


def _message(row: RowMapping, timeline: tuple[TimelineEntry, ...] | None) -> MessageInfo | None:
    if row["m_id"] is None:
        return None
    return MessageInfo(
        id=row["m_id"],
        status=MessageStatus(row["m_status"]),
        attempts=row["m_attempts"],
        next_attempt_at=(
            row["m_next_attempt_at"] if row["m_status"] == MessageStatus.QUEUED.value else None
        ),
        provider_message_id=row["m_provider_message_id"],
        last_error=row["m_last_error"],
        updated_at=row["m_updated_at"],
        template_name=row["m_template_name"],
        timeline=timeline,
    )


def _record(row: RowMapping, timeline: tuple[TimelineEntry, ...] | None = None) -> CallRecord:
    customer_info = None
    if row["customer_id"] is not None and row["cu_phone_number"] is not None:
        customer_info = CustomerInfo(
            id=row["customer_id"],
            phone_number=row["cu_phone_number"],
            name=row["cu_name"],
            opted_out_at=row["cu_opted_out_at"],
            bad_actor=row["cu_bad_actor"],
        )
    reservation_info = None
    if row["reservation_id"] is not None and row["re_external_id"] is not None:
        reservation_info = ReservationInfo(
            id=row["reservation_id"],
            external_id=row["re_external_id"],
            start_at=row["re_start_at"],
            party_size=row["re_party_size"],
            status=row["re_status"],
        )
    return CallRecord(
        id=row["id"],
        source=Source(row["source"]),
        external_id=row["external_id"],
        direction=Direction(row["direction"]),
        disposition=Disposition(row["disposition"]),
        caller_phone_number=row["caller_phone_number"],
        occurred_at=row["occurred_at"],
        created_at=row["created_at"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        template_type=TemplateType(row["template_type"]) if row["template_type"] else None,
        customer_id=row["customer_id"],
        reservation_id=row["reservation_id"],
        recovered_at=row["recovered_at"],
        message=_message(row, timeline),
        customer=customer_info,
        reservation=reservation_info,
    )


def _full_select() -> Select[Any]:
    return select(*_CALL_COLUMNS, *_MESSAGE_COLUMNS, *_RELATED_COLUMNS).select_from(
        call.outerjoin(message, message.c.call_id == call.c.id)
        .outerjoin(customer, customer.c.id == call.c.customer_id)
        .outerjoin(reservation, reservation.c.id == call.c.reservation_id)
    )


# Every cookie-signed request runs this: the session, its ops token (if still live) and the
# token's restaurant. An admin session joins no token.
_SESSION = (
    select(ops_session.c.token_hash, ops_session.c.is_admin, *RESTAURANT_SETTINGS)
    .select_from(
        ops_session.outerjoin(
            api_token,
            and_(
                api_token.c.token_hash == ops_session.c.token_hash,
                api_token.c.kind == TokenKind.OPS.value,
                api_token.c.revoked_at.is_(None),
                ops_session.c.is_admin.is_(False),
            ),
        ).outerjoin(restaurant, restaurant.c.id == api_token.c.restaurant_id)
    )
    .where(
        ops_session.c.session_hash == bindparam("p_hash"),
        ops_session.c.expires_at > func.now(),
    )
)


@dataclass(frozen=True, slots=True)
class OpsSession:
    """A live dashboard session: who signed in and, for an ops token, its restaurant's settings."""

    token_hash: str
    admin: bool
    restaurant: dict[str, Any] | None


class SqlOpsStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # --- calls ------------------------------------------------------------------------------

    async def list_calls(
        self, restaurant_id: int, filters: CallFilters, after: Position | None, limit: int
    ) -> list[CallRecord]:
        stmt = _page(_full_select(), restaurant_id, filters, after, limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_record(row) for row in rows]

    async def stream_calls(self, restaurant_id: int, filters: CallFilters) -> AsyncIterator[CsvRow]:
        """Every matching call, newest first, read by keyset in chunks of ``CSV_CHUNK``: memory
        stays flat however many rows there are, and no connection is held between chunks."""
        base = select(
            *_CALL_COLUMNS, message.c.status.label("m_status"), message.c.attempts.label("m_att")
        ).select_from(call.outerjoin(message, message.c.call_id == call.c.id))
        after: Position | None = None
        while True:
            stmt = _page(base, restaurant_id, filters, after, CSV_CHUNK)
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
            for row in rows:
                yield CsvRow(
                    id=row.id,
                    source=row.source,
                    external_id=row.external_id,
                    direction=row.direction,
                    disposition=row.disposition,
                    caller_phone_number=row.caller_phone_number,
                    occurred_at=row.occurred_at,
                    created_at=row.created_at,
                    outcome=row.outcome,
                    template_type=row.template_type,
                    customer_id=row.customer_id,
                    reservation_id=row.reservation_id,
                    message_status=row.m_status,
                    message_attempts=row.m_att,
                    recovered_at=row.recovered_at,
                )
            if len(rows) < CSV_CHUNK:
                return
            after = Position(rows[-1].occurred_at, rows[-1].id)
            del rows

    async def get_call(self, restaurant_id: int, call_id: int) -> CallRecord | None:
        stmt = _full_select().where(call.c.id == call_id, call.c.restaurant_id == restaurant_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).mappings().first()
            if row is None:
                return None
            timeline: tuple[TimelineEntry, ...] | None = None
            if row["m_id"] is not None:
                events = await conn.execute(
                    select(
                        message_event.c.status,
                        message_event.c.attempt,
                        message_event.c.detail,
                        message_event.c.created_at,
                    )
                    .where(message_event.c.message_id == row["m_id"])
                    .order_by(message_event.c.id)
                )
                timeline = tuple(
                    TimelineEntry(e.status, e.attempt, e.detail, e.created_at) for e in events
                )
        return _record(row, timeline)

    # --- statistics -------------------------------------------------------------------------

    async def bucket_counts(
        self,
        restaurant_id: int,
        boundaries: Sequence[dt.datetime],
        occurred_from: dt.datetime,
        occurred_to: dt.datetime,
    ) -> dict[int, BucketCounts]:
        """Counts per bucket index (0-based) of the calls in [from, to); ``boundaries`` are the
        bucket starts (UTC instants, already aligned to the restaurant's local time)."""
        bounds = bindparam("bounds", list(boundaries), type_=ARRAY(TZ))
        index = func.width_bucket(call.c.occurred_at, bounds).label("b")
        recovered = call.c.recovered_at.isnot(None).label("rec")
        stmt = (
            select(
                index,
                call.c.disposition,
                call.c.outcome,
                message.c.status,
                recovered,
                func.count().label("n"),
            )
            .select_from(call.outerjoin(message, message.c.call_id == call.c.id))
            .where(
                call.c.restaurant_id == restaurant_id,
                call.c.occurred_at >= occurred_from,
                call.c.occurred_at < occurred_to,
            )
            .group_by(index, call.c.disposition, call.c.outcome, message.c.status, recovered)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        acc: dict[int, dict[str, Any]] = {}
        for row in rows:
            slot = acc.setdefault(
                row.b - 1, {"calls": 0, "missed": 0, "recovered": 0, "o": {}, "m": {}}
            )
            n = int(row.n)
            slot["calls"] += n
            if row.disposition == Disposition.MISSED.value:
                slot["missed"] += n
            if row.rec:
                slot["recovered"] += n
            if row.outcome:
                slot["o"][row.outcome] = slot["o"].get(row.outcome, 0) + n
            if row.status:
                slot["m"][row.status] = slot["m"].get(row.status, 0) + n
        return {
            key: BucketCounts(v["calls"], v["missed"], v["recovered"], v["o"], v["m"])
            for key, v in acc.items()
        }

    # --- messages and customers -------------------------------------------------------------

    async def retry_message(
        self, restaurant_id: int, message_id: int
    ) -> tuple[RetryResult, MessageInfo | None]:
        """``failed`` → ``queued``, due now, attempts from zero, with its timeline event; never
        for a customer suppressed now (SPEC §3). One who is suppressed after it is queued has
        the message cancelled by the claim."""
        now = func.now()
        moved = (
            update(message)
            .where(
                message.c.id == message_id,
                message.c.restaurant_id == restaurant_id,
                message.c.status == MessageStatus.FAILED.value,
                customer.c.id == message.c.customer_id,
                ~customer_suppressed(),
            )
            .values(
                status=MessageStatus.QUEUED.value,
                attempts=0,
                next_attempt_at=now,
                lease_token=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(message.c.id, message.c.attempts, *_MESSAGE_COLUMNS)
            .cte("moved")
        )
        logged = log_moves(moved, MessageStatus.QUEUED.value, attempt=0, detail=RETRY_DETAIL).cte(
            "logged"
        )
        stmt = select(moved).add_cte(logged)
        async with self._engine.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
            if row is not None:
                return RetryResult.REQUEUED, _message(row, None)
            known = (
                await conn.execute(
                    select(message.c.status, customer_suppressed().label("suppressed"))
                    .select_from(message.join(customer, customer.c.id == message.c.customer_id))
                    .where(message.c.id == message_id, message.c.restaurant_id == restaurant_id)
                )
            ).first()
        if known is None:
            return RetryResult.NOT_FOUND, None
        if known.status == MessageStatus.FAILED.value and known.suppressed:
            return RetryResult.SUPPRESSED, None
        return RetryResult.NOT_FAILED, None

    async def set_opt_out(
        self, restaurant_id: int, customer_id: int, opted_out: bool
    ) -> CustomerState | None:
        value: Any = func.coalesce(customer.c.opted_out_at, func.now()) if opted_out else null()
        stmt = (
            update(customer)
            .where(customer.c.id == customer_id, customer.c.restaurant_id == restaurant_id)
            .values(opted_out_at=value, updated_at=func.now())
            .returning(*customer.c)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            return None
        return CustomerState(
            id=row["id"],
            phone_number=row["phone_number"],
            name=row["name"],
            opted_out_at=row["opted_out_at"],
            bad_actor=row["bad_actor"],
            updated_at=row["updated_at"],
        )

    # --- dashboard sessions -----------------------------------------------------------------

    async def create_session(
        self, session_hash: str, token_hash: str, is_admin: bool, ttl: dt.timedelta
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(ops_session).where(ops_session.c.expires_at < func.now()))
            await conn.execute(
                insert(ops_session).values(
                    session_hash=session_hash,
                    token_hash=token_hash,
                    is_admin=is_admin,
                    expires_at=func.now() + ttl,
                )
            )

    async def find_session(self, session_hash: str) -> OpsSession | None:
        """A live session with, for an ops token's, the settings of its restaurant, in one round
        trip. An ops session whose token was revoked since comes back without a restaurant."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_SESSION, {"p_hash": session_hash})).mappings().first()
        if row is None:
            return None
        settings = (
            {c.name: row[c.name] for c in RESTAURANT_SETTINGS} if row["id"] is not None else None
        )
        return OpsSession(row["token_hash"], bool(row["is_admin"]), settings)

    async def end_session(self, session_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(ops_session).where(ops_session.c.session_hash == session_hash)
            )

    # --- monitoring -------------------------------------------------------------------------

    async def outbox_gauges(self) -> tuple[int, float]:
        """(messages queued or being sent, seconds the oldest due queued message has waited)."""
        oldest = (
            select(func.min(message.c.next_attempt_at))
            .where(
                message_status_is(MessageStatus.QUEUED.value),
                message.c.next_attempt_at <= func.now(),
            )
            .scalar_subquery()
        )
        # counted status by status, each through its partial index (no scan of every message)
        waiting = [
            select(func.count()).select_from(message).where(message_status_is(status.value))
            for status in (MessageStatus.QUEUED, MessageStatus.SENDING)
        ]
        stmt = select(
            waiting[0].scalar_subquery() + waiting[1].scalar_subquery(),
            func.coalesce(func.extract("epoch", func.now() - oldest), 0),
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).one()
        return int(row[0]), max(0.0, float(row[1]))
