"""What a billing admin does to an entry (docs/contract.md §2, §4.2): retry, dismiss, and the link
to change a scheduled payment's method. The retry itself is run by retry_worker.py.
"""

import logging

from payment_action_center.app.outbox import bus_event, publish, transition
from payment_action_center.app.work import RetryWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    AuditEvent,
    Caller,
    Entry,
    Role,
    Status,
)
from payment_action_center.domain.errors import Conflict, RetryNotAllowed
from payment_action_center.domain.retry_rules import RetryCaps, retry_refusal
from payment_action_center.ports import (
    BillingStore,
    EntryStore,
    EventPublisher,
    QueueUnavailable,
    RetryQueue,
)

log = logging.getLogger(__name__)


def request_retry(
    store: EntryStore,
    queue: RetryQueue,
    caller: Caller,
    entry_id: str,
    *,
    accounts: BillingStore | None = None,
    billing: BillingStore | None = None,
    caps: RetryCaps | None = None,
) -> Entry:
    """`accounts`: given when the processor charges on each organization's own account, whose
    id the organization's settings must then hold (a 409 at once rather than a retry that can
    only fail later). `caps`: given, the networks' and banks' rules are applied first
    (domain/retry_rules.py): a 409 `retry_not_allowed` with the rule in words, nothing changed;
    `billing` tells whether a scheduled payment's method changed since the failure, which lifts
    the failure's rules (read only when they refuse)."""
    entry = store.get(caller.org_id, entry_id)
    caller.require(Role.BILLING_ADMIN)
    if accounts is not None:
        require_processor_account(accounts, entry.organization_id)
    now = timestamps.now()
    if caps is not None and entry.status is Status.FAILED:
        require_retry_allowed(entry, now, caps, billing)
    pending = entry.start_retry(by=caller.actor, at=now)
    assert pending.retry is not None
    requested = AuditEvent(now, "retry_requested", caller.actor, {"attempt": pending.retry.attempt})
    transition(store, pending, requested)
    try:
        queue.send(RetryWork.of(pending))
    except QueueUnavailable:
        # The retry is recorded: the watchdog sends the work of any retry whose charge was
        # never sent once its deadline passes. Nothing is lost; it is only later.
        log.exception(
            "retry queued late: the queue refused the message", extra={"entry_id": entry_id}
        )
    return pending


def require_retry_allowed(
    entry: Entry, now: str, caps: RetryCaps, billing: BillingStore | None
) -> None:
    refusal = retry_refusal(entry, now, caps)
    if refusal is not None and billing is not None and method_changed(billing, entry):
        refusal = retry_refusal(entry, now, caps, method_changed=True)
    if refusal is not None:
        raise RetryNotAllowed(
            f"this transaction may not be retried now: {refusal.reason}", refusal.allowed_at
        )


def method_changed(billing: BillingStore, entry: Entry) -> bool:
    """Whether the scheduled payment names another card or account than the failed one, set
    after the latest failure: the one a retry would charge (retry_worker.py `charge_request`).
    After the latest failure: a retry that charged the new method and failed again is judged by
    its own failure. Another card: the same card saved again (a new token, the same card id)
    is the card the networks' rules are about."""
    if entry.scheduled_payment_id is None:
        return False
    scheduled = billing.scheduled_payment(entry.organization_id, entry.scheduled_payment_id)
    if scheduled is None or scheduled.payment_method is None:
        return False
    new, failed = scheduled.payment_method, entry.payment_method
    same_card = new.card_id is not None and new.card_id == failed.card_id
    return (
        scheduled.state_at > entry.failed_at
        and scheduled.state_at > entry.payment_method_at
        and new.token != failed.token
        and not same_card
    )


def require_processor_account(billing: BillingStore, organization_id: str) -> None:
    organization = billing.organization(organization_id)
    if organization is None or organization.processor_account_id is None:
        raise Conflict(
            "the organization has no account at the payment processor yet: a retry cannot be "
            "charged until the billing platform sends its processor_account_id "
            "(organization.upserted)"
        )


def dismiss(
    store: EntryStore, publisher: EventPublisher, caller: Caller, entry_id: str, reason: str | None
) -> Entry:
    entry = store.get(caller.org_id, entry_id)
    caller.require(Role.BILLING_ADMIN)
    now = timestamps.now()
    dismissed = entry.dismiss(at=now)
    event = bus_event(
        now,
        "TransactionDismissed",
        {"transaction_id": entry.id, "organization_id": entry.organization_id, "reason": reason},
    )
    transition(
        store, dismissed, AuditEvent(now, "dismissed", caller.actor, {"reason": reason}), [event]
    )
    publish(store, publisher, [event])
    return dismissed


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
