"""What a payment the processor reports does to the Action Center (docs/contract.md §1, §2): a
failure opens an entry, the outcome of a pending e-check retry settles it."""

from payment_action_center.app import retry_worker
from payment_action_center.app.results import Outcome, Result
from payment_action_center.domain.entries import (
    PAYMENT_PROCESSOR,
    AuditEvent,
    Entry,
    EntryType,
    PaymentReport,
    Status,
    entry_id_for,
    tracked_type,
)
from payment_action_center.domain.errors import DeliveryInFlight, NotFound
from payment_action_center.ports import (
    ChargeOutcome,
    ChargeResult,
    Delivery,
    EntryStore,
    EventPublisher,
    StoreConflict,
)


def handle_payment_report(
    store: EntryStore, publisher: EventPublisher, delivery: Delivery, report: PaymentReport
) -> Result:
    """Classify and apply what the processor reports of one payment."""
    if report.retry_of is not None:
        return settle_retry(store, publisher, delivery, report)
    if not report.failed:
        return Result(Outcome.IGNORED, "a success that settles no retry")
    entry = new_entry(report, received_at=delivery.received_at)
    if entry is None:
        return Result(Outcome.IGNORED, f"{report.kind} by {report.method} is not tracked")
    return record(store, entry, delivery)


def new_entry(report: PaymentReport, received_at: str) -> Entry | None:
    """The entry a failure opens, or None for a kind of failure the center ignores."""
    entry_type = tracked_type(report.kind, report.method)
    if entry_type is None or report.failure is None:
        return None
    return Entry(
        id=entry_id_for(report.organization_id, report.payment_id),
        organization_id=report.organization_id,
        type=entry_type,
        kind=report.kind,
        method=report.method,
        status=Status.FAILED,
        amount=report.amount,
        currency=report.currency,
        account_holder=report.account_holder,
        payment_id=report.payment_id,
        payment_method=report.payment_method,
        failure=report.failure,
        failed_at=report.occurred_at,
        attempts=1,
        invoice_items=report.invoice_items,
        scheduled_payment_id=report.scheduled_payment_id,
        received_at=received_at,
        updated_at=received_at,
        state_at=report.occurred_at,
        payment_method_at=report.occurred_at,
        in_figures=entry_type is not EntryType.CREDIT_CARD_REFUND,
    )


def settle_retry(
    store: EntryStore, publisher: EventPublisher, delivery: Delivery, report: PaymentReport
) -> Result:
    """The outcome of a retry the processor could not decide at once (an e-check)."""
    assert report.retry_of is not None
    result = ChargeResult(
        ChargeOutcome.FAILED if report.failed else ChargeOutcome.SUCCEEDED,
        payment_id=report.payment_id,
        failure=report.failure,
    )
    return settle_outcome(
        store,
        publisher,
        delivery,
        report.organization_id,
        report.retry_of,
        result,
        report.occurred_at,
    )


def settle_outcome(
    store: EntryStore,
    publisher: EventPublisher,
    delivery: Delivery,
    organization_id: str,
    entry_id: str,
    result: ChargeResult,
    occurred_at: str,
    sent: retry_worker.SentRequest | None = None,
) -> Result:
    """Settle the pending retry of `entry_id` with the outcome a delivery reports. What the
    retry's own payment says is all it takes (`sent`: its key, amount and currency, checked
    against the attempt pending): a processor whose events carry no more
    (adapters/http/stripe_webhook.py) settles it too."""
    try:
        settled = retry_worker.settle_from_webhook(
            store, publisher, delivery, organization_id, entry_id, result, occurred_at, sent
        )
    except NotFound:
        return Result(Outcome.IGNORED, "no such transaction", entry_id)
    except StoreConflict as conflict:
        if "delivery" in conflict.failed:
            return Result(Outcome.ACCEPTED, "delivery already processed", entry_id)
        raise DeliveryInFlight("the transaction is changing: deliver again later") from None
    if settled is None:
        return Result(Outcome.IGNORED, "no retry of this transaction is pending", entry_id)
    return Result(Outcome.ACCEPTED, settled, entry_id)


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
