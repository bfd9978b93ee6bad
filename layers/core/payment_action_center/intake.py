"""What a processor event does to the Action Center (docs/contract.md §1, §2)."""

from typing import Any

from payment_action_center import retries
from payment_action_center.errors import DeliveryInFlight, NotFound
from payment_action_center.events import PAYMENT_EVENT_TYPES, Envelope, PaymentEvent, parse
from payment_action_center.model import (
    PAYMENT_PROCESSOR,
    AuditEvent,
    Entry,
    Status,
    entry_id_for,
    tracked_type,
)
from payment_action_center.ports import (
    ChargeOutcome,
    ChargeResult,
    Delivery,
    EntryStore,
    EventPublisher,
    StoreConflict,
)
from payment_action_center.webhook_results import Outcome, Result, unknown_type


def handle_payment_event(
    store: EntryStore, publisher: EventPublisher, delivery: Delivery, body: dict[str, Any]
) -> Result:
    """Validate, classify and apply one verified event from the payment processor."""
    envelope = parse(Envelope, body)
    if envelope.type not in PAYMENT_EVENT_TYPES:
        return unknown_type(envelope.type, PAYMENT_EVENT_TYPES)
    event = parse(PaymentEvent, body)
    if event.data.retry_of is not None:
        return settle_retry(store, publisher, delivery, event)
    if not event.failed:
        return Result(Outcome.IGNORED, "a success that settles no retry")
    entry = new_entry(event, received_at=delivery.received_at)
    if entry is None:
        return Result(Outcome.IGNORED, f"{event.data.kind} by {event.data.method} is not tracked")
    return record(store, entry, delivery)


def new_entry(event: PaymentEvent, received_at: str) -> Entry | None:
    """The entry a failure event opens, or None for a kind of failure the center ignores."""
    data = event.data
    entry_type = tracked_type(data.kind, data.method)
    if entry_type is None or data.failure is None:
        return None
    return Entry(
        id=entry_id_for(data.organization_id, data.payment_id),
        organization_id=data.organization_id,
        type=entry_type,
        kind=data.kind,
        method=data.method,
        status=Status.FAILED,
        amount=data.amount,
        currency=data.currency,
        account_holder=data.account_holder.domain(),
        payment_id=data.payment_id,
        payment_method=data.payment_method.domain(),
        failure=data.failure.domain(),
        failed_at=event.occurred_at,
        attempts=1,
        invoice_items=tuple(item.domain() for item in data.invoice_items),
        scheduled_payment_id=data.scheduled_payment_id,
        received_at=received_at,
        updated_at=received_at,
        state_at=event.occurred_at,
        payment_method_at=event.occurred_at,
    )


def settle_retry(
    store: EntryStore, publisher: EventPublisher, delivery: Delivery, event: PaymentEvent
) -> Result:
    """The outcome of a retry the processor could not decide at once (an e-check)."""
    data = event.data
    assert data.retry_of is not None
    result = ChargeResult(
        ChargeOutcome.FAILED if event.failed else ChargeOutcome.SUCCEEDED,
        payment_id=data.payment_id,
        failure=data.failure.domain() if data.failure else None,
    )
    try:
        settled = retries.settle_from_webhook(
            store,
            publisher,
            delivery,
            data.organization_id,
            data.retry_of,
            result,
            event.occurred_at,
        )
    except NotFound:
        return Result(Outcome.IGNORED, "no such transaction", data.retry_of)
    except StoreConflict as conflict:
        if "delivery" in conflict.failed:
            return Result(Outcome.ACCEPTED, "delivery already processed", data.retry_of)
        raise DeliveryInFlight("the transaction is changing: deliver again later") from None
    if settled is None:
        return Result(Outcome.IGNORED, "no retry of this transaction is pending", data.retry_of)
    return Result(Outcome.ACCEPTED, settled, data.retry_of)


def record(store: EntryStore, entry: Entry, delivery: Delivery) -> Result:
    received = AuditEvent(
        at=delivery.received_at,
        action="received",
        actor=PAYMENT_PROCESSOR,
        detail={
            "payment_id": entry.payment_id,
            "failure": {"code": entry.failure.code, "message": entry.failure.message},
            "occurred_at": entry.failed_at,
            "webhook_id": delivery.webhook_id,
        },
    )
    try:
        store.record_failure(entry, received, delivery)
    except StoreConflict as conflict:
        if "delivery" in conflict.failed:
            # This webhook-id took effect before: answer as then, change nothing.
            return Result(Outcome.ACCEPTED, "delivery already processed", entry.id)
        return Result(Outcome.IGNORED, "this failure is already recorded", entry.id)
    return Result(Outcome.ACCEPTED, entry_id=entry.id)
