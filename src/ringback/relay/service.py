"""RelayService: the one entry point every door calls with a call event (SPEC §3).

A report is one use case: the rules and the decision statement, one commit, then ``complete``
(after the commit, outside any transaction) counts the call and sends its message inline.
``handle`` is that for a door that writes nothing of its own; a missed report there needs no
``Tx`` (its decision is one statement, its own transaction). A door whose write must commit with
the decision (a CCAI move) opens the ``Tx``, writes, calls ``decide``, commits, then ``complete``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace

from ringback.db.driver import Conn
from ringback.db.tx import Database, Tx
from ringback.errors import IdempotencyConflict
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages.dispatcher import Dispatcher
from ringback.messages.ports import ClaimedMessage, InlineLease, NewMessage
from ringback.messages.states import MessageStatus
from ringback.relay import queries, rules
from ringback.relay.model import (
    CallerFacts,
    CallEvent,
    Claim,
    Decision,
    Disposition,
    Outcome,
    Verdict,
)
from ringback.relay.phone import read_number
from ringback.tenancy.model import Restaurant

log = logging.getLogger(__name__)

_REPLIED = {MessageStatus.SENT: Outcome.SENT, MessageStatus.FAILED: Outcome.FAILED}
# a caller with no reservation of the window, whose customer (if any) the decision finds
_UNBOOKED = CallerFacts(customer_id=None, customer_name=None, suppressed=False)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RelayService:
    def __init__(
        self,
        database: Database,
        dispatcher: Dispatcher,
        *,
        inline_timeout: float,
        clock: Callable[[], dt.datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self._database = database
        self._dispatcher = dispatcher
        self._inline_timeout = inline_timeout
        self._clock = clock
        self._metrics = metrics or NoMetrics()

    async def handle(self, restaurant: Restaurant, event: CallEvent) -> Decision:
        """Record the event and, for the first missed notification of its key, decide once.

        A missed report runs its statements (one, or two: ``_decide_missed``) on one autocommit
        connection, each its own transaction: the decision statement takes the caller's lock and
        commits alone, so no BEGIN or COMMIT round trip and no transaction open between round
        trips. Any other notification writes several rows that must commit together: one
        ``Tx``."""
        if event.disposition is Disposition.MISSED:
            async with self._database.driver() as conn:
                decision = await self._decide_missed(conn, restaurant, event)
        else:
            async with self._database.transaction() as tx:
                decision = await self._record(tx, restaurant, event)
                await tx.commit()
        return await self.complete(restaurant, event, decision)

    async def decide(self, tx: Tx, restaurant: Restaurant, event: CallEvent) -> Decision:
        """The event's statements in ``tx``, which the caller commits with its own write; then
        ``complete``.

        Raises ``IdempotencyConflict`` for a decided key reported with another number.
        """
        if event.disposition is not Disposition.MISSED:
            return await self._record(tx, restaurant, event)
        return await self._decide_missed(tx.conn, restaurant, event)

    async def _decide_missed(
        self, conn: Conn, restaurant: Restaurant, event: CallEvent
    ) -> Decision:
        """Run the rules, then the decision statement (``queries``); the caller is matched first
        only when the verdict could depend on what the match finds.

        The rules are run first for a caller with no reservation of the window: if that verdict
        reaches rule 9 (the cooldown, under the caller's lock, which reads rule 8 again), it is
        the verdict of every such caller, known or not, so the decision statement can check the
        one fact that would change it — a reservation — instead of a match before it
        (``decide_first``). A booked caller's verdict is made again on their facts. Any other
        verdict (rules 2-7, no template) keeps the match's customer and reservation on the call,
        so it is matched first as before."""
        reading = read_number(event.raw_number, restaurant.country)
        now = self._clock()
        facts = None
        if reading.e164 is not None:
            unbooked = rules.decide(restaurant, event, reading, _UNBOOKED, now)
            if unbooked.cooldown is not None:
                verdict = self._with_lease(unbooked, now)
                first = await queries.decide_first(
                    conn, restaurant.id, event, reading.display, reading.e164, verdict
                )
                if not isinstance(first, CallerFacts):
                    return self._decided(restaurant, event, reading.display, verdict, *first)
                facts = first
            else:
                facts = await queries.match_caller(
                    conn, restaurant.id, reading.e164, event.occurred_at
                )
        verdict = self._with_lease(rules.decide(restaurant, event, reading, facts, now), now)
        new_customer = facts is not None and facts.customer_id is None
        stored, claim = await queries.decide_call(
            conn,
            restaurant.id,
            event,
            reading.display,
            verdict,
            new_customer_phone=reading.e164 if new_customer else None,
        )
        return self._decided(restaurant, event, reading.display, verdict, stored, claim)

    def _decided(
        self,
        restaurant: Restaurant,
        event: CallEvent,
        caller_phone_number: str,
        verdict: Verdict,
        stored: Decision,
        claim: Claim,
    ) -> Decision:
        """The decision as the statement stored it, and the message this request sends."""
        if claim is Claim.OPEN:  # answered before this missed report: stored, never decided
            return Decision(
                call_id=stored.call_id,
                outcome=None,
                caller_phone_number=caller_phone_number,
                customer_id=stored.customer_id,
                reservation_id=None,
                template_type=None,
                created_at=stored.created_at,
            )
        if claim is Claim.TAKEN and stored.caller_phone_number != caller_phone_number:
            raise IdempotencyConflict(
                event.external_id or "", stored.caller_phone_number, caller_phone_number
            )
        final = rules.final_verdict(verdict, claim)
        if claim is Claim.TAKEN:
            return replace(stored, outcome=final.outcome)
        return Decision(
            call_id=stored.call_id,
            outcome=final.outcome,
            caller_phone_number=caller_phone_number,
            customer_id=stored.customer_id,  # the one the statement wrote (maybe created)
            reservation_id=final.reservation_id,
            template_type=final.template_type,
            created_at=stored.created_at,
            message_id=stored.message_id,
            sending=self._held(restaurant, final.message, stored.message_id),
        )

    async def complete(
        self, restaurant: Restaurant, event: CallEvent, decision: Decision
    ) -> Decision:
        """After the commit: count what it moved, send the message inline, count the call."""
        if decision.cancelled:
            self._metrics.message_moved(MessageStatus.CANCELLED.value, decision.cancelled)
        if decision.message_id is not None:
            self._metrics.message_moved(MessageStatus.QUEUED.value)
        if decision.sending is not None:
            status = await self._dispatcher.deliver_within(
                decision.sending, self._inline_timeout, decision.call_id
            )
            outcome = _REPLIED.get(status or MessageStatus.QUEUED, Outcome.QUEUED)
            if status is None:
                # no move carried the reply (the deadline passed before the send was recorded,
                # the attempt raised, or its lease was lost): the call still says SENT, as the
                # decision stored it; it says QUEUED before the reply does
                await self._store_queued(decision.call_id)
            decision = replace(decision, outcome=outcome, sending=None)
        # every notification recorded counts once, replays included (as SKIPPED_DUPLICATE)
        self._metrics.call_recorded(
            event.source.value,
            event.direction.value,
            event.disposition.value,
            decision.outcome.value if decision.outcome else None,
        )
        return decision

    async def _store_queued(self, call_id: int) -> None:
        """The call of an inline send replied ``QUEUED`` stores ``QUEUED`` (it was stored
        ``SENT``). Should the database fail here too, the reply is still ``QUEUED`` (its effects
        committed; SPEC §3 never answers a 5xx for them): the call says ``QUEUED`` once the
        worker requeues the message at its lease's expiry, or keeps ``SENT`` if the attempt
        still running in the background records the send."""
        try:
            async with self._database.driver() as conn:
                await queries.store_queued(conn, call_id)
        except Exception:
            log.exception("call %s: could not store the QUEUED it replies", call_id)

    async def _record(self, tx: Tx, restaurant: Restaurant, event: CallEvent) -> Decision:
        """An answered or other call: stored, never decided; an answer cancels and recovers."""
        reading = read_number(event.raw_number, restaurant.country)
        customer_id = None
        if reading.e164 is not None:
            customer_id = await queries.match_customer(tx, restaurant.id, reading.e164)
        stored = await queries.record_call(tx, restaurant.id, event, reading.display, customer_id)
        cancelled = 0
        if event.disposition is Disposition.ANSWERED:
            if event.recovers_call_id is not None:
                await queries.mark_recovered(
                    tx, restaurant.id, event.recovers_call_id, event.occurred_at
                )
            if customer_id is not None:
                cancelled = await queries.mark_answered(
                    tx, restaurant.id, customer_id, event.occurred_at
                )
        return Decision(
            call_id=stored.call_id,
            outcome=None,
            caller_phone_number=reading.display,
            customer_id=customer_id,
            reservation_id=None,
            template_type=None,
            created_at=stored.created_at,
            cancelled=cancelled,
        )

    def _with_lease(self, verdict: Verdict, now: dt.datetime) -> Verdict:
        """A message due now is sent by the request itself, under a lease taken at birth.

        Its call is stored ``SENT`` by the decision: the outcome the request replies when the
        send succeeds, so the send's record, in the common case, does not write the call row
        again (``call.outcome`` is in the ops indexes: every write of it is a new version of
        the row in all ten of them). A reply other than ``SENT`` is written before it is given
        (``complete``), and a lease that expires before any reply (the process died) stores
        ``QUEUED`` (the worker's requeue, ``messages/queries``)."""
        message = verdict.message
        if message is None or self._inline_timeout <= 0 or message.due_at > now:
            return verdict
        expires_at = now + dt.timedelta(seconds=self._dispatcher.lease_seconds)
        leased = replace(message, inline_lease=InlineLease(uuid.uuid4(), expires_at))
        return replace(verdict, message=leased, outcome=Outcome.SENT)

    @staticmethod
    def _held(
        restaurant: Restaurant, message: NewMessage | None, message_id: int | None
    ) -> ClaimedMessage | None:
        """The message this request holds under its lease, as the dispatcher sends it."""
        if message is None or message.inline_lease is None or message_id is None:
            return None
        return ClaimedMessage(
            id=message_id,
            lease_token=message.inline_lease.token,
            attempts=1,
            phone_number_id=restaurant.whatsapp.phone_number_id or "",
            access_token=restaurant.whatsapp.access_token or "",
            to_phone_number=message.to_phone_number,
            template_name=message.template.name,
            template_language=message.template.language,
            parameters=list(message.parameters),
        )
