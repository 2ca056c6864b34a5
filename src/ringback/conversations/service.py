"""ConversationsService: what staff read and do in the inbox (SPEC §10), scoped to one restaurant.

Reads run on an autocommit connection. A reply is one transaction: the checks under the
customer's row lock, then one statement writes the outbox message, its thread entry and the
conversation row; after the commit the request sends it inline, as a
report sends its template (``relay.service``), and replies with the message as it then stands.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from ringback.conversations import queries
from ringback.conversations.model import (
    REPLY_BLOCK_MESSAGES,
    Author,
    InboxFilters,
    Position,
    ReplyBlock,
    reply_block,
)
from ringback.conversations.records import (
    MESSAGE_COLUMNS,
    Conversation,
    Thread,
    ThreadMessage,
    conversation_of,
    entry_of,
    template_of,
)
from ringback.db.tx import Database
from ringback.errors import Conflict, NotFound, WindowClosed
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages.dispatcher import Dispatcher
from ringback.messages.ports import ClaimedMessage, InlineLease, NewText
from ringback.messages.queries import enqueue_text_params
from ringback.messages.states import MessageStatus
from ringback.ops import records
from ringback.ops.model import CallFilters
from ringback.tenancy.model import Restaurant

MAX_THREAD_CALLS = 500
"""The thread shows the customer's newest calls, at most this many (the calls list has all)."""
_NOT_FOUND = "Conversation not found"


class ConversationsService:
    def __init__(
        self,
        db: Database,
        dispatcher: Dispatcher,
        *,
        inline_timeout: float,
        clock: Callable[[], dt.datetime],
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._inline_timeout = inline_timeout
        self._clock = clock
        self._metrics = metrics or NoMetrics()

    def now(self) -> dt.datetime:
        return self._clock()

    async def list(
        self, restaurant: Restaurant, filters: InboxFilters, after: Position | None, limit: int
    ) -> tuple[list[Conversation], Position | None]:
        """One page, newest activity first, and where the next one starts (None: the last)."""
        async with self._db.connection() as conn:
            result = await conn.execute(
                queries.inbox_page(restaurant.id, filters, after, limit + 1)
            )
            rows = result.mappings().all()
        page = [conversation_of(row) for row in rows[:limit]]
        last = page[-1] if page else None
        following = Position(last.updated_at, last.id) if last and len(rows) > limit else None
        return page, following

    async def thread(self, restaurant: Restaurant, conversation_id: int) -> Thread:
        async with self._db.connection() as conn:
            found = await conn.execute(queries.one_conversation(restaurant.id, conversation_id))
            row = found.mappings().first()
            if row is None:
                raise NotFound(_NOT_FOUND)
            chat = conversation_of(row)
            entries = await conn.execute(queries.thread_entries(chat.id, *MESSAGE_COLUMNS))
            own = [entry_of(r) for r in entries.mappings()]
            sent = await conn.execute(
                queries.templates_of(restaurant.id, chat.customer.id, *MESSAGE_COLUMNS)
            )
            templates = [template_of(r) for r in sent.mappings()]
            calls = await records.list_calls(
                conn,
                restaurant.id,
                CallFilters(phone=chat.customer.phone_number),
                None,
                MAX_THREAD_CALLS,
            )
        thread = sorted(own + templates, key=lambda m: (m.at, m.author is not Author.TEMPLATE))
        return Thread(chat, thread, calls[::-1], self._block(restaurant, chat))

    def _block(self, restaurant: Restaurant, chat: Conversation) -> ReplyBlock | None:
        return reply_block(
            opted_out=chat.customer.opted_out_at is not None,
            bad_actor=chat.customer.bad_actor,
            last_inbound_at=chat.last_inbound_at,
            can_send=restaurant.whatsapp.can_send,
            now=self._clock(),
        )

    async def mark_read(self, restaurant: Restaurant, conversation_id: int) -> None:
        async with self._db.connection() as conn:
            marked = await conn.execute(queries.mark_read(restaurant.id, conversation_id))
            if marked.first() is None:
                raise NotFound(_NOT_FOUND)

    async def reply(self, restaurant: Restaurant, conversation_id: int, text: str) -> ThreadMessage:
        """Send ``text`` to the customer through the outbox; 409 when it may not go now."""
        now = self._clock()
        lease = None
        if self._inline_timeout > 0:
            expires_at = now + dt.timedelta(seconds=self._dispatcher.lease_seconds)
            lease = InlineLease(uuid.uuid4(), expires_at)
        async with self._db.transaction() as tx:
            locked = await tx.conn.execute(queries.reply_state(restaurant.id, conversation_id))
            row = locked.first()
            if row is None:
                raise NotFound(_NOT_FOUND)
            state = queries.reply_state_of(row)
            block = reply_block(
                opted_out=state.opted_out,
                bad_actor=state.bad_actor,
                last_inbound_at=state.last_inbound_at,
                can_send=restaurant.whatsapp.can_send,
                now=now,
            )
            if block is not None:
                refusal = WindowClosed if block is ReplyBlock.WINDOW_CLOSED else Conflict
                raise refusal(REPLY_BLOCK_MESSAGES[block])
            new = NewText(restaurant.id, state.customer_id, state.phone_number, text, now, lease)
            params = {**enqueue_text_params(new), "r_conversation_id": state.conversation_id}
            written = (await tx.conn.execute(queries.REPLY, params)).one()
            await tx.commit()
        self._metrics.message_moved(MessageStatus.QUEUED.value)
        if lease is not None:
            held = ClaimedMessage(
                id=written.message_id,
                lease_token=lease.token,
                attempts=1,
                phone_number_id=restaurant.whatsapp.phone_number_id or "",
                access_token=restaurant.whatsapp.access_token or "",
                to_phone_number=state.phone_number,
                template_name="",
                template_language="",
                parameters=(),
                text=text,
            )
            await self._dispatcher.deliver_within(held, self._inline_timeout, None)
        async with self._db.connection() as conn:
            return await _read_entry(conn, written.entry_id)


async def _read_entry(conn: AsyncConnection, entry_id: int) -> ThreadMessage:
    found = await conn.execute(queries.thread_entry(entry_id, *MESSAGE_COLUMNS))
    return entry_of(found.mappings().one())
