"""What a billing admin does to an entry (docs/contract.md §2, §4.2): retry, dismiss, and the link
to change a scheduled payment's method. The retry itself is run by retry_worker.py.
"""

import logging

from payment_action_center.app.outbox import bus_event, publish, transition
from payment_action_center.app.work import RetryWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.billing import ScheduledPayment, another_method, retry_charges
from payment_action_center.domain.entries import (
    Actor,
    AuditEvent,
    Caller,
    Entry,
    PaymentMethod,
    Role,
    Status,
)
from payment_action_center.domain.errors import Conflict, RetryNotAllowed
from payment_action_center.domain.retry_rules import (
    CARD_WINDOW,
    CardReattempts,
    RetryCaps,
    card_network,
    reattempted_card,
    retry_refusal,
)
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
    `billing` says what the retry would charge (a scheduled payment's method changed since the
    failure is a new card, which lifts the failure's rules)."""
    entry = store.get(caller.org_id, entry_id)
    caller.require(Role.BILLING_ADMIN)
    if accounts is not None:
        require_processor_account(accounts, entry.organization_id)
    return request_retry_as(
        store, queue, caller.actor, entry, timestamps.now(), billing=billing, caps=caps
    )


def request_retry_as(
    store: EntryStore,
    queue: RetryQueue,
    actor: Actor,
    entry: Entry,
    now: str,
    *,
    billing: BillingStore | None = None,
    caps: RetryCaps | None = None,
    automatic: int | None = None,
) -> Entry:
    """The retry request itself, whoever asks: an admin (`request_retry`) or the organization's
    automatic policy (app/auto_retry.py, `actor` AUTO_RETRY). The same guard, the same single
    conditional write (on `entry`'s version: an entry changed since it was read is a Conflict),
    the same work on the queue. `automatic`: the automatic attempt's number (1 on the policy's
    first day), counted on the entry (`auto_attempts`) in that write and audited."""
    card = None
    if caps is not None and entry.status is Status.FAILED:
        card = require_retry_allowed(store, entry, now, caps, billing)
    pending = entry.start_retry(by=actor, at=now, automatic=automatic)
    assert pending.retry is not None
    detail: dict[str, int] = {"attempt": pending.retry.attempt}
    if automatic is not None:
        detail["automatic"] = automatic
    transition(store, pending, AuditEvent(now, "retry_requested", actor, detail), card_attempt=card)
    try:
        queue.send(RetryWork.of(pending))
    except QueueUnavailable:
        # The retry is recorded: the watchdog sends the work of any retry whose charge was
        # never sent once its deadline passes. Nothing is lost; it is only later.
        log.exception(
            "retry queued late: the queue refused the message", extra={"entry_id": entry.id}
        )
    return pending


def require_retry_allowed(
    store: EntryStore, entry: Entry, now: str, caps: RetryCaps, billing: BillingStore | None
) -> str | None:
    """RetryNotAllowed unless the rules let the entry be retried now. Returns the card whose
    reattempt the retry is (None for a refund or a debit). The retry is judged on what it would
    charge, as the worker decides it (domain/billing.py `retry_charges`: the scheduled payment,
    one read, names the method), and the card's reattempts are one Query."""
    scheduled = None
    if billing is not None and entry.scheduled_payment_id is not None:
        scheduled = billing.scheduled_payment(entry.organization_id, entry.scheduled_payment_id)
    charged, method = retry_charges(entry, scheduled)
    card = reattempted_card(entry, charged, method)
    history = card_history(store, entry, charged, card, now) if card is not None else None
    lifted = scheduled is not None and rules_lifted(entry, scheduled)
    refusal = retry_refusal(entry, now, caps, method_changed=lifted, card=history)
    if refusal is not None:
        raise RetryNotAllowed(
            f"this transaction may not be retried now: {refusal.reason}", refusal.allowed_at
        )
    return card


def card_reattempts(store: EntryStore, entry: Entry) -> CardReattempts | None:
    """The reattempts of a failed entry's own card in the last 30 days (None when its retry
    would reattempt no card): what its page shows the cap with, without reading the scheduled
    payment (a click on Retry does)."""
    card = reattempted_card(entry, entry.payment_method, entry.method)
    if entry.status is not Status.FAILED or card is None:
        return None
    return card_history(store, entry, entry.payment_method, card, timestamps.now())


def card_history(
    store: EntryStore, entry: Entry, charged: PaymentMethod, card: str, now: str
) -> CardReattempts:
    """The card's reattempts in the 30 days before `now` (one Query), with the network whose
    cap holds for a retry charging `charged`."""
    since = timestamps.plus(now, -CARD_WINDOW)
    instants = store.card_reattempts(entry.organization_id, card, since)
    return CardReattempts(card_network(entry, charged), tuple(instants))


def rules_lifted(entry: Entry, scheduled: ScheduledPayment) -> bool:
    """Whether the scheduled payment names another card or account than the failed one, set
    after the latest failure: then the failure's own rules no longer hold. After the latest
    failure: a retry that charged the new method and failed again is judged by its own failure.
    Another card: the same card saved again is the card the networks' rules are about."""
    new = scheduled.payment_method
    return (
        new is not None
        and scheduled.state_at > entry.failed_at
        and scheduled.state_at > entry.payment_method_at
        and another_method(new, entry.payment_method)
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
