"""What a change of the billing platform's state does (docs/contract.md §4.1): it is applied through
the BillingStore (payment_action_center/ports.py) unless a newer state is already recorded. The
webhook bodies are read into these changes by adapters/http/billing_webhook.py.
"""

from payment_action_center.app.results import Outcome, Result
from payment_action_center.domain.billing import BillingChange
from payment_action_center.ports import BillingStore, Delivery, StoreConflict


def apply_billing_change(store: BillingStore, delivery: Delivery, change: BillingChange) -> Result:
    """Apply one change of the billing platform's state, delivered once."""
    try:
        store.apply(change, delivery)
    except StoreConflict as conflict:
        if "delivery" in conflict.failed:
            # This webhook-id took effect before: answer as then, change nothing.
            return Result(Outcome.ACCEPTED, "delivery already processed")
        return Result(Outcome.IGNORED, f"stale: a state newer than {change.state_at} is recorded")
    return Result(Outcome.ACCEPTED)
