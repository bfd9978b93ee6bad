"""Retrying a failed transaction, safe with money (docs/contract.md §2).

One conditional write moves `failed` → `retry_pending`; the work goes through a queue; the
worker marks the charge as sent before it calls the processor under an idempotency key made of
the entry id and the attempt number. A worker that dies after the charge, or a redelivered
message, finds the charge marked as sent and asks the processor for its status instead of
charging again. Outcomes are written with a version check; events go through the outbox.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from payment_action_center import timestamps
from payment_action_center.errors import Conflict, DeliveryInFlight
from payment_action_center.model import (
    PAYMENT_PROCESSOR,
    RETRY_WATCHDOG,
    RETRY_WORKER,
    Actor,
    AuditEvent,
    BusEvent,
    Caller,
    Entry,
    EntryType,
    Method,
    Role,
    Status,
)
from payment_action_center.ports import (
    BillingStore,
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    Delivery,
    EntryStore,
    EventPublisher,
    Operation,
    PaymentProcessor,
    ProcessorUnavailable,
    PublishFailed,
    QueueUnavailable,
    RetryQueue,
    RetryWork,
    StoreConflict,
)

log = logging.getLogger(__name__)


# --- the admin's request --------------------------------------------------------------------


def request_retry(store: EntryStore, queue: RetryQueue, caller: Caller, entry_id: str) -> Entry:
    entry = store.get(caller.org_id, entry_id)
    caller.require(Role.BILLING_ADMIN)
    now = timestamps.now()
    pending = entry.start_retry(by=caller.actor, at=now)
    assert pending.retry is not None
    requested = AuditEvent(now, "retry_requested", caller.actor, {"attempt": pending.retry.attempt})
    _write(store, pending, requested)
    try:
        queue.send(RetryWork.of(pending))
    except QueueUnavailable:
        # The retry is recorded: the watchdog sends the work of any retry whose charge was
        # never sent once its deadline passes. Nothing is lost; it is only later.
        log.exception(
            "retry queued late: the queue refused the message", extra={"entry_id": entry_id}
        )
    return pending


def dismiss(
    store: EntryStore, publisher: EventPublisher, caller: Caller, entry_id: str, reason: str | None
) -> Entry:
    entry = store.get(caller.org_id, entry_id)
    caller.require(Role.BILLING_ADMIN)
    now = timestamps.now()
    dismissed = entry.dismiss(at=now)
    event = _bus_event(
        now,
        "TransactionDismissed",
        {"transaction_id": entry.id, "organization_id": entry.organization_id, "reason": reason},
    )
    _write(
        store, dismissed, AuditEvent(now, "dismissed", caller.actor, {"reason": reason}), [event]
    )
    publish(store, publisher, [event])
    return dismissed


# --- the worker -----------------------------------------------------------------------------


def run(
    work: RetryWork,
    store: EntryStore,
    billing: BillingStore,
    processor: PaymentProcessor,
    publisher: EventPublisher,
) -> str:
    """Carry out one retry. ProcessorUnavailable propagates: the message comes back later."""
    entry = store.get(work.organization_id, work.entry_id)
    retry = entry.retry
    if entry.status is not Status.RETRY_PENDING or retry is None or retry.attempt != work.attempt:
        return "stale"
    if retry.awaiting is not None:
        return "awaiting settlement"
    now = timestamps.now()
    if retry.charge_sent_at is None:
        request = charge_request(entry, billing)
        sent = entry.charge_sent(at=now, method=request.method)
        detail = {
            "operation": request.operation.value,
            "method": request.method.value,
            "amount": request.amount,
            "currency": request.currency,
            "idempotency_key": request.idempotency_key,
        }
        try:
            store.transition(sent, AuditEvent(now, "charge_sent", RETRY_WORKER, detail))
        except StoreConflict:
            return "stale"  # another delivery of this message got there first
        result = send(processor, request)
        entry = sent
    else:
        known = processor.status(retry.idempotency_key(entry.id))
        # None: the request never reached the processor; sending it under the same key is safe.
        result = known if known is not None else send(processor, charge_request(entry, billing))
    return settle(store, publisher, entry, result, actor=RETRY_WORKER)


def charge_request(entry: Entry, billing: BillingStore) -> ChargeRequest:
    """What to charge: for a scheduled payment whose method changed after the failure, the new
    method; otherwise the failed payment's own."""
    assert entry.retry is not None
    token, method = entry.payment_method.token, entry.method
    if entry.scheduled_payment_id is not None:
        scheduled = billing.scheduled_payment(entry.organization_id, entry.scheduled_payment_id)
        if (
            scheduled is not None
            and scheduled.payment_method is not None
            and scheduled.state_at > entry.payment_method_at
        ):
            token, method = scheduled.payment_method.token, scheduled.method or method
    return ChargeRequest(
        operation=Operation.REFUND
        if entry.type is EntryType.CREDIT_CARD_REFUND
        else Operation.CHARGE,
        transaction_id=entry.id,
        token=token,
        method=Method(method),
        amount=entry.amount,
        currency=entry.currency,
        idempotency_key=entry.retry.idempotency_key(entry.id),
        metadata={
            "organization_id": entry.organization_id,
            "kind": entry.kind.value,
            "account_holder": {
                "id": entry.account_holder.id,
                "name": entry.account_holder.name,
                "email": entry.account_holder.email,
            },
            "scheduled_payment_id": entry.scheduled_payment_id,
            "invoice_items": [
                {"invoice_id": i.invoice_id, "item_id": i.item_id, "amount": i.amount}
                for i in entry.invoice_items
            ],
        },
    )


def send(processor: PaymentProcessor, request: ChargeRequest) -> ChargeResult:
    if request.operation is Operation.REFUND:
        return processor.refund(request)
    return processor.charge(request)


def settle(
    store: EntryStore,
    publisher: EventPublisher,
    entry: Entry,
    result: ChargeResult,
    *,
    actor: Actor,
    occurred_at: str | None = None,
    delivery: Delivery | None = None,
) -> str:
    """Apply the processor's answer to a pending retry. StoreConflict propagates."""
    now = timestamps.now()
    occurred = occurred_at or now
    answer = {"processor": result.answer()}
    if result.outcome is ChargeOutcome.SUCCEEDED:
        payment_id = result.payment_id or f"{entry.id}:retry:{entry.attempts}"
        recovered = entry.recovered(payment_id, at=now, occurred_at=occurred)
        event = _bus_event(
            now,
            "PaymentRecovered",
            {
                "transaction_id": entry.id,
                "organization_id": entry.organization_id,
                "payment_id": payment_id,
                "amount": entry.amount,
                "currency": entry.currency,
                "allocation": [
                    {"invoice_id": i.invoice_id, "item_id": i.item_id, "amount": i.amount}
                    for i in entry.invoice_items
                ],
            },
        )
        store.transition(
            recovered,
            AuditEvent(now, "recovered", actor, answer),
            outbox=[event],
            delivery=delivery,
        )
        publish(store, publisher, [event])
        return "recovered"
    if result.outcome is ChargeOutcome.FAILED:
        assert result.failure is not None
        again = entry.failed_again(result.failure, failed_at=occurred, at=now)
        store.transition(
            again,
            AuditEvent(now, "failed_again", actor, answer),
            delivery=delivery,
            log_failure=True,
        )
        return "failed_again"
    waiting = entry.awaiting_settlement(result.payment_id, at=now)
    store.transition(
        waiting, AuditEvent(now, "settlement_pending", actor, answer), delivery=delivery
    )
    return "pending"


# --- the processor's settlement webhook ------------------------------------------------------


def settle_from_webhook(
    store: EntryStore,
    publisher: EventPublisher,
    delivery: Delivery,
    organization_id: str,
    entry_id: str,
    result: ChargeResult,
    occurred_at: str,
) -> str | None:
    """Settle a pending retry from `payment.*`/`refund.*` with `retry_of`. None: ignored."""
    entry = store.get(organization_id, entry_id)
    retry = entry.retry
    if entry.status is not Status.RETRY_PENDING or retry is None or retry.charge_sent_at is None:
        return None
    if occurred_at < entry.state_at or occurred_at < retry.requested_at:
        return None  # an older attempt's outcome, arriving late
    if retry.processor_payment_id is not None and result.payment_id != retry.processor_payment_id:
        return None  # another payment than the one this attempt made
    return settle(
        store,
        publisher,
        entry,
        result,
        actor=PAYMENT_PROCESSOR,
        occurred_at=occurred_at,
        delivery=delivery,
    )


# --- the watchdog ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    credit_card: timedelta
    echeck: timedelta

    def of(self, method: Method) -> timedelta:
        return self.echeck if method is Method.ECHECK else self.credit_card


def watch(
    store: EntryStore,
    queue: RetryQueue,
    processor: PaymentProcessor,
    publisher: EventPublisher,
    deadlines: Deadlines,
    now: str,
) -> dict[str, int]:
    """Find retries pending past their deadline; settle, resend or flag each. Republish the
    outbox. Returns what it did, by outcome."""
    done: dict[str, int] = {}
    oldest_deadline = min(deadlines.credit_card, deadlines.echeck)
    for entry in store.pending_retries(requested_before=timestamps.plus(now, -oldest_deadline)):
        assert entry.retry is not None
        if entry.retry.requested_at > timestamps.plus(now, -deadlines.of(entry.retry_method)):
            continue
        outcome = _check(store, queue, processor, publisher, entry, now)
        done[outcome] = done.get(outcome, 0) + 1
    stale = store.outbox(older_than=timestamps.plus(now, -timedelta(minutes=1)))
    if stale:
        publish(store, publisher, stale)
        done["republished"] = len(stale)
    return done


def _check(
    store: EntryStore,
    queue: RetryQueue,
    processor: PaymentProcessor,
    publisher: EventPublisher,
    entry: Entry,
    now: str,
) -> str:
    try:
        outcome = _resolve(store, queue, processor, publisher, entry)
        reason = "the processor still reports the payment pending past its deadline"
    except ProcessorUnavailable:
        outcome, reason = None, "the processor could not say what became of the payment"
    except (QueueUnavailable, StoreConflict, DeliveryInFlight):
        return "skipped"  # the next run looks again
    return outcome or _flag(store, entry, reason, now)


def _resolve(
    store: EntryStore,
    queue: RetryQueue,
    processor: PaymentProcessor,
    publisher: EventPublisher,
    entry: Entry,
) -> str | None:
    """Settle or resend the retry; None when the processor has no final answer."""
    assert entry.retry is not None
    known = None
    if entry.retry.charge_sent_at is not None:
        known = processor.status(entry.retry.idempotency_key(entry.id))
    if known is None:
        # The message was lost before any charge, or the charge never reached the processor:
        # the worker sends it again under the same idempotency key.
        queue.send(RetryWork.of(entry))
        return "resent"
    if known.outcome is ChargeOutcome.PENDING:
        return None
    return settle(store, publisher, entry, known, actor=RETRY_WATCHDOG)


def _flag(store: EntryStore, entry: Entry, reason: str, now: str) -> str:
    assert entry.retry is not None
    if entry.retry.needs_attention:
        return "needs_attention"
    flagged = entry.needing_attention(reason, at=now)
    try:
        store.transition(
            flagged, AuditEvent(now, "needs_attention", RETRY_WATCHDOG, {"reason": reason})
        )
    except StoreConflict:
        return "skipped"
    log.warning("retry needs attention", extra={"entry_id": entry.id, "reason": reason})
    return "flagged"


# --- shared ---------------------------------------------------------------------------------


def publish(store: EntryStore, publisher: EventPublisher, events: list[BusEvent]) -> None:
    """Publish outbox events and forget them; on failure they wait for the watchdog."""
    try:
        publisher.publish(events)
    except PublishFailed:
        log.exception("events left in the outbox for the watchdog to republish")
        return
    try:
        store.published(events)
    except Exception:  # the change and the publish are done: a leftover row is republished
        log.exception("published events not cleared from the outbox")


def _bus_event(at: str, detail_type: str, detail: dict[str, Any]) -> BusEvent:
    return BusEvent(id=uuid.uuid4().hex, at=at, detail_type=detail_type, detail=detail)


def _write(
    store: EntryStore, entry: Entry, event: AuditEvent, outbox: list[BusEvent] | None = None
) -> None:
    try:
        store.transition(entry, event, outbox=outbox or [])
    except StoreConflict:
        raise Conflict("the transaction changed meanwhile: reload it and try again") from None


# --- change payment method ------------------------------------------------------------------


def payment_method_link(
    store: EntryStore, billing: BillingStore, caller: Caller, entry_id: str
) -> str:
    """The customer's Upcoming payments page, where the method of a scheduled payment changes."""
    entry = store.get(caller.org_id, entry_id)
    entry.require_payment_method_to_change()  # Conflict (409) for a refund or a one-time e-check
    organization = billing.organization(entry.organization_id)
    if organization is None:
        raise Conflict(
            "the organization's settings have not reached the Action Center yet "
            "(organization.upserted): the link cannot be built"
        )
    return organization.upcoming_payments_url(entry.account_holder.id)
