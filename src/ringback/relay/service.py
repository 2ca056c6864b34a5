"""RelayService: the one entry point every door calls with a call event (SPEC §3)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ringback.errors import IdempotencyConflict
from ringback.http.metrics import Metrics, NoMetrics
from ringback.messages.dispatcher import Dispatcher
from ringback.messages.ports import ClaimedMessage, InlineLease, NewMessage
from ringback.messages.states import MessageStatus
from ringback.relay import rules
from ringback.relay.model import CallEvent, Decision, Disposition, Outcome, TemplateType
from ringback.relay.phone import NumberVerdict, PhoneReading, read_number
from ringback.relay.ports import (
    CallerFacts,
    CallerLookup,
    CallVerdict,
    CooldownWindow,
    CustomerRecord,
    RelayStore,
    ReservationRecord,
    StoredCall,
    UnitOfWork,
    UnitOfWorkFactory,
)
from ringback.tenancy.model import Restaurant


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class _Verdict:
    outcome: Outcome
    customer: CustomerRecord | None = None
    reservation: ReservationRecord | None = None
    template_type: TemplateType | None = None
    message: NewMessage | None = None
    cooldown: CooldownWindow | None = None
    """Set when the verdict passed rules 2-8: the cooldown (rule 9) may still overrule it."""


class RelayService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        dispatcher: Dispatcher,
        *,
        inline_timeout: float,
        clock: Callable[[], dt.datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._dispatcher = dispatcher
        self._inline_timeout = inline_timeout
        self._clock = clock
        self._metrics = metrics or NoMetrics()

    async def handle(
        self,
        restaurant: Restaurant,
        event: CallEvent,
        *,
        alongside: Callable[[UnitOfWork], Awaitable[None]] | None = None,
    ) -> Decision:
        """Record the event and, for the first missed notification of its key, decide once.

        ``alongside`` is a door's own write that must commit with the decision or not at all (a
        CCAI status move): it runs first in the same unit of work, and may raise to refuse.
        """
        reading = read_number(event.raw_number, restaurant.country)
        if event.disposition is not Disposition.MISSED:
            return await self._record(restaurant, event, reading, alongside)
        claim = uuid.uuid4()
        now = self._clock()
        early = self._outcome_before_customer(restaurant, event, reading, now)
        caller = None
        if reading.e164 is not None:
            caller = CallerLookup(
                phone_number=reading.e164,
                reservations_from=event.occurred_at - rules.RESERVATION_LOOKBACK,
                reservations_until=event.occurred_at + rules.RESERVATION_LOOKAHEAD,
                lock=early is None,
            )
        async with self._uow_factory() as uow:
            if alongside is not None:
                await alongside(uow)
            facts = await uow.relay.match_caller(restaurant.id, caller) if caller else None
            verdict = self._decide(restaurant, event, reading, facts, early, now)
            decided = await uow.relay.decide_call(
                restaurant.id,
                event,
                reading.display,
                claim,
                CallVerdict(
                    outcome=verdict.outcome,
                    customer_id=verdict.customer.id if verdict.customer else None,
                    reservation_id=verdict.reservation.id if verdict.reservation else None,
                    template_type=verdict.template_type,
                ),
                verdict.message,
                verdict.cooldown,
            )
            stored = decided.call
            if not stored.claimed:
                if not stored.decided:
                    # answered before this missed report: stored, never decided
                    await uow.commit()
                    self._count(event, None)
                    return _undecided(stored, reading)
                if stored.caller_phone_number != reading.display:
                    raise IdempotencyConflict(
                        event.external_id or "", stored.caller_phone_number, reading.display
                    )
                if alongside is not None:
                    await uow.commit()
                self._count(event, Outcome.SKIPPED_DUPLICATE)
                return _duplicate(stored)
            await uow.commit()
        if decided.in_cooldown:
            verdict = _Verdict(Outcome.SKIPPED_COOLDOWN, verdict.customer, verdict.reservation)
        message_id = decided.message_id
        if message_id is not None:
            self._metrics.message_moved(MessageStatus.QUEUED.value)
        outcome = verdict.outcome
        if verdict.message is not None and message_id is not None:
            outcome = await self._send_inline(restaurant, stored.id, message_id, verdict.message)
        self._count(event, outcome)
        return Decision(
            call_id=stored.id,
            outcome=outcome,
            caller_phone_number=reading.display,
            customer_id=verdict.customer.id if verdict.customer else None,
            reservation_id=verdict.reservation.id if verdict.reservation else None,
            template_type=verdict.template_type,
            created_at=stored.created_at,
            message_id=message_id,
        )

    async def _record(
        self,
        restaurant: Restaurant,
        event: CallEvent,
        reading: PhoneReading,
        alongside: Callable[[UnitOfWork], Awaitable[None]] | None,
    ) -> Decision:
        """An answered or other call: stored, never decided (SPEC §3)."""
        async with self._uow_factory() as uow:
            if alongside is not None:
                await alongside(uow)
            customer = (
                await uow.relay.match_or_create_customer(restaurant.id, reading.e164)
                if reading.e164 is not None
                else None
            )
            stored = await uow.relay.record_call(
                restaurant.id, event, reading.display, customer.id if customer else None
            )
            cancelled = await self._observe(uow.relay, restaurant, event, customer)
            await uow.commit()
        if cancelled:
            self._metrics.message_moved(MessageStatus.CANCELLED.value, cancelled)
        self._count(event, None)
        return Decision(
            call_id=stored.id,
            outcome=None,
            caller_phone_number=reading.display,
            customer_id=customer.id if customer else None,
            reservation_id=None,
            template_type=None,
            created_at=stored.created_at,
        )

    def _count(self, event: CallEvent, outcome: Outcome | None) -> None:
        """Every notification recorded counts once, replays included (as SKIPPED_DUPLICATE)."""
        self._metrics.call_recorded(
            event.source.value,
            event.direction.value,
            event.disposition.value,
            outcome.value if outcome else None,
        )

    @staticmethod
    def _outcome_before_customer(
        restaurant: Restaurant, event: CallEvent, reading: PhoneReading, now: dt.datetime
    ) -> Outcome | None:
        """Rules 2-7, which need nothing from the database; None when the report passes them."""
        if not restaurant.missed_calls_enabled:
            return Outcome.SKIPPED_FEATURE_DISABLED
        if event.forced_outcome is not None:
            return event.forced_outcome
        if reading.verdict is NumberVerdict.HIDDEN:
            return Outcome.SKIPPED_HIDDEN_NUMBER
        if reading.verdict is NumberVerdict.INVALID:
            return Outcome.SKIPPED_INVALID_NUMBER
        if reading.verdict is NumberVerdict.NOT_MOBILE:
            return Outcome.SKIPPED_NOT_MOBILE
        if rules.is_stale(event.occurred_at, now, restaurant.max_call_age_hours):
            return Outcome.SKIPPED_STALE
        if not restaurant.whatsapp.can_send:
            return Outcome.SKIPPED_NO_WHATSAPP
        return None

    def _decide(
        self,
        restaurant: Restaurant,
        event: CallEvent,
        reading: PhoneReading,
        facts: CallerFacts | None,
        early: Outcome | None,
        now: dt.datetime,
    ) -> _Verdict:
        """Rules 2-11, first that applies wins; the cooldown (rule 9) is checked by the statement
        that stores the verdict, so a verdict past rule 8 carries the window to check."""
        if facts is None:  # hidden or invalid: no customer
            assert early is not None
            return _Verdict(early)
        customer, reservation = facts.customer, facts.reservation
        if early is not None:
            return _Verdict(early, customer, reservation)
        assert reading.e164 is not None
        if customer.suppressed:
            return _Verdict(Outcome.SKIPPED_SUPPRESSED, customer, reservation)
        window = dt.timedelta(hours=restaurant.cooldown_hours)
        cooldown = CooldownWindow(
            restaurant_id=restaurant.id,
            phone_number=reading.e164,
            earliest=event.occurred_at - window,
            latest=event.occurred_at + window,
        )
        template_type = rules.choose_template(event.direction, reservation is not None)
        template = restaurant.whatsapp.templates.get(template_type)
        if template is None:
            return _Verdict(
                Outcome.SKIPPED_NO_TEMPLATE, customer, reservation, template_type, None, cooldown
            )
        due = rules.due_at(now, restaurant)
        message = NewMessage(
            restaurant_id=restaurant.id,
            customer_id=customer.id,
            to_phone_number=reading.e164,
            template_type=template_type,
            template=template,
            parameters=rules.template_parameters(
                template_type,
                restaurant,
                customer.name,
                reservation.start_at if reservation else None,
                reservation.party_size if reservation else None,
            ),
            due_at=due,
            inline_lease=self._inline_lease(due, now),
        )
        return _Verdict(Outcome.QUEUED, customer, reservation, template_type, message, cooldown)

    async def _observe(
        self,
        store: RelayStore,
        restaurant: Restaurant,
        event: CallEvent,
        customer: CustomerRecord | None,
    ) -> int:
        """An answered call cancels and recovers (SPEC §3); returns how many queued messages the
        answer cancelled. ``customer`` is None for a hidden or invalid number."""
        if event.disposition is not Disposition.ANSWERED:
            return 0
        if event.recovers_call_id is not None:
            await store.mark_recovered(restaurant.id, event.recovers_call_id, event.occurred_at)
        if customer is None:
            return 0
        return await store.mark_answered(
            restaurant.id,
            customer.id,
            event.occurred_at,
            event.occurred_at - rules.RECOVERY_WINDOW,
        )

    def _inline_lease(self, due: dt.datetime, now: dt.datetime) -> InlineLease | None:
        """A message due now is sent by the request itself, under a lease taken at birth."""
        if self._inline_timeout <= 0 or due > now:
            return None
        return InlineLease(uuid.uuid4(), now + dt.timedelta(seconds=self._dispatcher.lease_seconds))

    async def _send_inline(
        self, restaurant: Restaurant, call_id: int, message_id: int, message: NewMessage
    ) -> Outcome:
        """Send now, within the inline deadline; past it the attempt goes on in the background."""
        lease = message.inline_lease
        if lease is None:
            return Outcome.QUEUED
        held = ClaimedMessage(
            id=message_id,
            lease_token=lease.token,
            attempts=1,
            phone_number_id=restaurant.whatsapp.phone_number_id or "",
            access_token=restaurant.whatsapp.access_token or "",
            to_phone_number=message.to_phone_number,
            template_name=message.template.name,
            template_language=message.template.language,
            parameters=list(message.parameters),
        )
        status = await self._dispatcher.deliver_within(held, self._inline_timeout, call_id)
        return {MessageStatus.SENT: Outcome.SENT, MessageStatus.FAILED: Outcome.FAILED}.get(
            status or MessageStatus.QUEUED, Outcome.QUEUED
        )


def _undecided(stored: StoredCall, reading: PhoneReading) -> Decision:
    return Decision(
        call_id=stored.id,
        outcome=None,
        caller_phone_number=reading.display,
        customer_id=stored.customer_id,
        reservation_id=None,
        template_type=None,
        created_at=stored.created_at,
    )


def _duplicate(stored: StoredCall) -> Decision:
    return Decision(
        call_id=stored.id,
        outcome=Outcome.SKIPPED_DUPLICATE,
        caller_phone_number=stored.caller_phone_number,
        customer_id=stored.customer_id,
        reservation_id=stored.reservation_id,
        template_type=stored.template_type,
        created_at=stored.created_at,
    )
