"""What a change of the billing platform's state does (docs/contract.md §4.1): it is applied through
the BillingStore (payment_action_center/ports.py) unless a newer state is already recorded. The
webhook bodies are read into these changes by adapters/http/billing_webhook.py.
"""

from typing import assert_never

from payment_action_center.app.results import Outcome, Result
from payment_action_center.domain.billing import (
    BillingChange,
    Card,
    CardDeleted,
    Organization,
    ScheduledPayment,
    ScheduledPaymentEnded,
    plan,
)
from payment_action_center.ports import BillingStore, Delivery, StoreConflict


def apply_billing_change(store: BillingStore, delivery: Delivery, change: BillingChange) -> Result:
    """Apply one change of the billing platform's state, delivered once: an organization's
    settings replace the recorded ones; a card or scheduled-payment change is read, planned
    (domain/billing.py `plan`, which also relinks the cards it touches) and written."""
    try:
        match change:
            case Organization():
                store.save_organization(change, delivery)
            case Card() | CardDeleted() | ScheduledPayment() | ScheduledPaymentEnded():
                read = store.read_linked(change)
                planned = plan(change, read.scheduled_payment, read.cards)
                if planned is None:
                    store.refuse_stale(change, delivery)
                store.write_linked(planned, read, delivery)
            case _:
                assert_never(change)
    except StoreConflict as conflict:
        if "delivery" in conflict.failed:
            # This webhook-id took effect before: answer as then, change nothing.
            return Result(Outcome.ACCEPTED, "delivery already processed")
        return Result(Outcome.IGNORED, f"stale: a state newer than {change.state_at} is recorded")
    return Result(Outcome.ACCEPTED)
