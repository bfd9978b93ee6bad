"""The retry watchdog (docs/contract.md §2): a retry that stays pending past its deadline is
resolved from the processor's status or flagged, and outbox events left unpublished are
published again.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from payment_action_center.app.outbox import publish
from payment_action_center.app.retry_worker import settle, status_request
from payment_action_center.app.work import RetryWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    RETRY_WATCHDOG,
    AuditEvent,
    Entry,
    Method,
)
from payment_action_center.domain.errors import DeliveryInFlight
from payment_action_center.ports import (
    ChargeOutcome,
    EntryStore,
    EventPublisher,
    PaymentProcessor,
    ProcessorRefused,
    ProcessorUnavailable,
    QueueUnavailable,
    RetryQueue,
    StoreConflict,
)

log = logging.getLogger(__name__)

REFUSED = (
    "the payment processor refused to act for this organization (the platform's access or the "
    "organization's account): the operators are alerted and will say what became of it"
)
NEVER_ARRIVED = (
    "the payment processor has no trace of this retry's charge, even after it was sent again: "
    "nothing was charged; retry it again or dismiss it"
)
UNCHECKED = "the retry could not be checked at the payment processor: the operators are alerted"


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
        # Past twice its deadline, a retry the processor still has no trace of was sent again
        # once already (at the first deadline): it is flagged rather than sent for ever.
        resent_once = entry.retry.requested_at <= timestamps.plus(
            now, -2 * deadlines.of(entry.retry_method)
        )
        outcome = _check(store, queue, processor, publisher, entry, now, resent_once)
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
    resent_once: bool,
) -> str:
    try:
        outcome = _resolve(store, queue, processor, publisher, entry, resent_once)
        reason = "the processor still reports the payment pending past its deadline"
        if outcome == "unknown to the processor":
            outcome, reason = None, NEVER_ARRIVED
    except ProcessorUnavailable:
        outcome, reason = None, "the processor could not say what became of the payment"
    except ProcessorRefused as refused:
        # The details (a key, an account, Stripe's words) are the operators', in the log; the
        # entry, which the organization's admins read, says only what to expect.
        log.error(
            "the processor refused to act", extra={"entry_id": entry.id, "refusal": str(refused)}
        )
        outcome, reason = None, REFUSED
    except (QueueUnavailable, StoreConflict, DeliveryInFlight):
        return "skipped"  # the next run looks again
    except Exception:  # anything else: this entry is flagged, the others are still looked at
        log.exception("the watchdog could not check a retry", extra={"entry_id": entry.id})
        outcome, reason = None, UNCHECKED
    return outcome or _flag(store, entry, reason, now)


def _resolve(
    store: EntryStore,
    queue: RetryQueue,
    processor: PaymentProcessor,
    publisher: EventPublisher,
    entry: Entry,
    resent_once: bool,
) -> str | None:
    """Settle or resend the retry; None when the processor has no final answer."""
    assert entry.retry is not None
    known = None
    if entry.retry.charge_sent_at is not None:
        # From the entry alone: the watchdog reads no billing state (status_request).
        known = processor.status(status_request(entry))
    if known is None:
        if entry.retry.charge_sent_at is not None and resent_once:
            return "unknown to the processor"
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
