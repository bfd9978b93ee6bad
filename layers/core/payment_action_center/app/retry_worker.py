"""Retrying a failed transaction, safe with money (docs/contract.md §2).

The admin's request (actions.py) moves `failed` → `retry_pending` in one conditional write and
queues the work. The worker marks the charge as sent before it calls the processor under an
idempotency key made of the entry id and the attempt number. A worker that dies after the charge,
or a redelivered message, finds the charge marked as sent and asks the processor for its status
instead of charging again. Outcomes are written with a version check; events go through the
outbox (outbox.py). An outcome the processor could not give at once (an e-check) arrives by
webhook and settles the retry the same way.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from payment_action_center.app.outbox import bus_event, publish
from payment_action_center.domain import timestamps
from payment_action_center.domain.billing import another_method, retry_charges
from payment_action_center.domain.entries import (
    PAYMENT_PROCESSOR,
    RETRY_WORKER,
    Actor,
    AuditEvent,
    Entry,
    EntryType,
    Method,
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
    StoreConflict,
)

if TYPE_CHECKING:  # the webhooks settle e-checks through this module, and never parse a message
    from payment_action_center.app.work import RetryWork


def run(
    work: "RetryWork",
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
        request, changed = planned_charge(entry, billing)
        sent = entry.charge_sent(
            at=now, method=request.method, account=request.processor_account, method_changed=changed
        )
        detail = {
            "operation": request.operation.value,
            "method": request.method.value,
            "amount": request.amount,
            "currency": request.currency,
            "idempotency_key": request.idempotency_key,
            "processor_account": request.processor_account,
        }
        try:
            store.transition(sent, AuditEvent(now, "charge_sent", RETRY_WORKER, detail))
        except StoreConflict:
            return "stale"  # another delivery of this message got there first
        result = send(processor, request)
        entry = sent
    else:
        request = charge_request(entry, billing)
        known = processor.status(request)
        # None: the request never reached the processor; sending it under the same key is safe.
        result = known if known is not None else send(processor, request)
    return settle(store, publisher, entry, result, actor=RETRY_WORKER)


def charge_request(entry: Entry, billing: BillingStore) -> ChargeRequest:
    """What to charge: for a scheduled payment whose method changed after the failure, the new
    method; otherwise the failed payment's own (domain/billing.py `retry_charges`). Where: once
    sent, the account it was sent on; before, the organization's account now."""
    return planned_charge(entry, billing)[0]


def planned_charge(entry: Entry, billing: BillingStore) -> tuple[ChargeRequest, bool]:
    """The charge request, and whether it charges another card or account than the failed one
    (the recovery figures' `payment_method_changed`; the same card saved again is not)."""
    assert entry.retry is not None
    if entry.retry.charge_sent_at is not None:
        account = entry.retry.processor_account
    else:
        organization = billing.organization(entry.organization_id)
        account = organization.processor_account_id if organization is not None else None
    scheduled = None
    if entry.scheduled_payment_id is not None:
        scheduled = billing.scheduled_payment(entry.organization_id, entry.scheduled_payment_id)
    charged, method = retry_charges(entry, scheduled)
    changed = method is not entry.method or another_method(charged, entry.payment_method)
    return _request(entry, charged.token, Method(method), account), changed


def status_request(entry: Entry) -> ChargeRequest:
    """The request of the retry in flight as the entry alone knows it, to ask its status
    (`PaymentProcessor.status`) without reading the billing state: its key, operation,
    organization, account and the payment it refunds are those sent, its method the one charged; its
    token is the failed payment's own, which a status lookup does not go by (the worker may
    have charged a scheduled payment's new method instead)."""
    assert entry.retry is not None
    return _request(
        entry, entry.payment_method.token, entry.retry_method, entry.retry.processor_account
    )


def _request(entry: Entry, token: str, method: Method, account: str | None) -> ChargeRequest:
    assert entry.retry is not None
    return ChargeRequest(
        processor_account=account,
        operation=Operation.REFUND
        if entry.type is EntryType.CREDIT_CARD_REFUND
        else Operation.CHARGE,
        transaction_id=entry.id,
        token=token,
        method=method,
        amount=entry.amount,
        currency=entry.currency,
        idempotency_key=entry.retry.idempotency_key(entry.id),
        metadata={
            "organization_id": entry.organization_id,
            # The failed payment: what a refund refunds (adapters/processors/stripe_processor.py).
            "payment_id": entry.payment_id,
            # The processor's customer the failed payment's method is saved to.
            "processor_customer_id": entry.payment_method.customer_id,
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
        event = bus_event(
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


@dataclass(frozen=True)
class SentRequest:
    """What identifies the request a retry sent, as a processor's event repeats it."""

    idempotency_key: str
    amount: int
    currency: str


def settle_from_webhook(
    store: EntryStore,
    publisher: EventPublisher,
    delivery: Delivery,
    organization_id: str,
    entry_id: str,
    result: ChargeResult,
    occurred_at: str,
    sent: "SentRequest | None" = None,
) -> str | None:
    """Settle a pending retry from `payment.*`/`refund.*` with `retry_of`. None: ignored.

    `sent`: what the processor's event says was sent (its idempotency key, amount, currency),
    when it says so: then only the pending attempt's own request settles it, whenever its event
    is dated (a processor that dates events to the second may date it before the request's
    instant). Without it, the event must be dated after the retry was requested."""
    entry = store.get(organization_id, entry_id)
    retry = entry.retry
    if entry.status is not Status.RETRY_PENDING or retry is None or retry.charge_sent_at is None:
        return None
    if sent is not None:
        expected = SentRequest(retry.idempotency_key(entry.id), entry.amount, entry.currency)
        if sent != expected:
            return None  # another attempt's payment, or one this retry never sent
    elif occurred_at < entry.state_at or occurred_at < retry.requested_at:
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
