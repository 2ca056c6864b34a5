"""RelayService: the one entry point every door calls with a call event (SPEC §3)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ringback.domain import rules
from ringback.domain.errors import IdempotencyConflict
from ringback.domain.model import (
    CallEvent,
    Decision,
    Disposition,
    MessageStatus,
    Outcome,
    Restaurant,
    TemplateType,
)
from ringback.domain.phone import NumberVerdict, PhoneReading, read_number
from ringback.domain.ports import (
    CallResolution,
    ClaimedMessage,
    CustomerRecord,
    InlineLease,
    Metrics,
    NewMessage,
    NoMetrics,
    RelayStore,
    ReservationRecord,
    StoredCall,
    UnitOfWork,
    UnitOfWorkFactory,
)
from ringback.service.dispatch import Dispatcher


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class _Verdict:
    outcome: Outcome
    customer: CustomerRecord | None = None
    reservation: ReservationRecord | None = None
    template_type: TemplateType | None = None
    message: NewMessage | None = None


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
        claim = uuid.uuid4() if event.disposition is Disposition.MISSED else None
        async with self._uow_factory() as uow:
            if alongside is not None:
                await alongside(uow)
            stored = await uow.relay.record_call(restaurant.id, event, reading.display, claim)
            if event.disposition is Disposition.MISSED and not stored.claimed:
                if not stored.decided:
                    # answered before this missed report: stored, never decided
                    await uow.commit()
                    return _undecided(stored, reading)
                if stored.caller_phone_number != reading.display:
                    raise IdempotencyConflict(
                        event.external_id or "", stored.caller_phone_number, reading.display
                    )
                if alongside is not None:
                    await uow.commit()
                return _duplicate(stored)
            if event.disposition is not Disposition.MISSED:
                customer, cancelled = await self._observe(
                    uow.relay, restaurant, event, reading, stored
                )
                await uow.commit()
                if cancelled:
                    self._metrics.message_moved(MessageStatus.CANCELLED.value, cancelled)
                self._metrics.call_recorded(
                    event.source.value, event.direction.value, event.disposition.value, None
                )
                return Decision(
                    call_id=stored.id,
                    outcome=None,
                    caller_phone_number=reading.display,
                    customer_id=customer.id if customer else None,
                    reservation_id=None,
                    template_type=None,
                    created_at=stored.created_at,
                )
            verdict = await self._decide(uow.relay, restaurant, event, reading, stored)
            message_id = await uow.relay.resolve_call(
                CallResolution(
                    call_id=stored.id,
                    outcome=verdict.outcome,
                    caller_phone_number=reading.display,
                    customer_id=verdict.customer.id if verdict.customer else None,
                    reservation_id=verdict.reservation.id if verdict.reservation else None,
                    template_type=verdict.template_type,
                ),
                verdict.message,
            )
            await uow.commit()
        if message_id is not None:
            self._metrics.message_moved(MessageStatus.QUEUED.value)
        outcome = verdict.outcome
        if verdict.message is not None and message_id is not None:
            outcome = await self._send_inline(restaurant, stored.id, message_id, verdict.message)
        self._metrics.call_recorded(
            event.source.value,
            event.direction.value,
            event.disposition.value,
            outcome.value,
        )
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

    async def _decide(
        self,
        store: RelayStore,
        restaurant: Restaurant,
        event: CallEvent,
        reading: PhoneReading,
        stored: StoredCall,
    ) -> _Verdict:
        """Rules 2-11, first that applies wins; the customer is matched when the number is valid."""
        customer = None
        reservation = None
        if reading.e164 is not None:
            customer = await store.match_or_create_customer(restaurant.id, reading.e164)
            reservation = await store.find_reservation(
                customer.id,
                event.occurred_at - rules.RESERVATION_LOOKBACK,
                event.occurred_at + rules.RESERVATION_LOOKAHEAD,
            )

        def found(outcome: Outcome, template_type: TemplateType | None = None) -> _Verdict:
            return _Verdict(outcome, customer, reservation, template_type)

        if not restaurant.missed_calls_enabled:
            return found(Outcome.SKIPPED_FEATURE_DISABLED)
        if event.forced_outcome is not None:
            return found(event.forced_outcome)
        if reading.verdict is NumberVerdict.HIDDEN:
            return _Verdict(Outcome.SKIPPED_HIDDEN_NUMBER)
        if reading.verdict is NumberVerdict.INVALID:
            return _Verdict(Outcome.SKIPPED_INVALID_NUMBER)
        if reading.verdict is NumberVerdict.NOT_MOBILE:
            return found(Outcome.SKIPPED_NOT_MOBILE)
        now = self._clock()
        if rules.is_stale(event.occurred_at, now, restaurant.max_call_age_hours):
            return found(Outcome.SKIPPED_STALE)
        if not restaurant.whatsapp.can_send:
            return found(Outcome.SKIPPED_NO_WHATSAPP)
        assert customer is not None
        assert reading.e164 is not None
        if customer.suppressed:
            return found(Outcome.SKIPPED_SUPPRESSED)
        await store.lock_caller(restaurant.id, reading.e164)
        if await store.in_cooldown(
            restaurant.id, reading.e164, stored.id, event.occurred_at, restaurant.cooldown_hours
        ):
            return found(Outcome.SKIPPED_COOLDOWN)
        template_type = rules.choose_template(event.direction, reservation is not None)
        template = restaurant.whatsapp.templates.get(template_type)
        if template is None:
            return found(Outcome.SKIPPED_NO_TEMPLATE, template_type)
        due = rules.due_at(now, restaurant)
        message = NewMessage(
            restaurant_id=restaurant.id,
            call_id=stored.id,
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
        return _Verdict(Outcome.QUEUED, customer, reservation, template_type, message)

    async def _observe(
        self,
        store: RelayStore,
        restaurant: Restaurant,
        event: CallEvent,
        reading: PhoneReading,
        stored: StoredCall,
    ) -> tuple[CustomerRecord | None, int]:
        """Answered and other calls are stored; an answered one cancels and recovers (SPEC §3).

        Returns the customer (None for a hidden or invalid number) and how many queued messages
        the answer cancelled.
        """
        answered = event.disposition is Disposition.ANSWERED
        if answered and event.recovers_call_id is not None:
            await store.mark_recovered(restaurant.id, event.recovers_call_id, event.occurred_at)
        if reading.e164 is None:
            return None, 0
        customer = await store.match_or_create_customer(restaurant.id, reading.e164)
        await store.link_customer(stored.id, customer.id)
        if not answered:
            return customer, 0
        cancelled = await store.mark_answered(
            restaurant.id,
            customer.id,
            event.occurred_at,
            event.occurred_at - rules.RECOVERY_WINDOW,
        )
        return customer, cancelled

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
        status = await self._dispatcher.deliver_within(held, self._inline_timeout)
        outcome = {MessageStatus.SENT: Outcome.SENT, MessageStatus.FAILED: Outcome.FAILED}.get(
            status or MessageStatus.QUEUED, Outcome.QUEUED
        )
        if outcome is not Outcome.QUEUED:
            await self._dispatcher.record_outcome(call_id, outcome)
        return outcome


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
