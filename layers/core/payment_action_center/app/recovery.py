"""Recovery figures (docs/contract.md, GET /metrics/recovery): the caller's organization's
counters of a range of days, read with one Query (adapters/dynamodb/recovery_store.py) and added
up by domain/recovery.py."""

from datetime import date

from payment_action_center.domain.entries import Caller
from payment_action_center.domain.recovery import RecoveryFigures, figures, period
from payment_action_center.ports import RecoveryCounters


def recovery_figures(
    counters: RecoveryCounters,
    caller: Caller,
    first_day: str | None,
    last_day: str | None,
    today: date,
) -> RecoveryFigures:
    """Any member of the organization may read them. InvalidPeriod for a bad from/to."""
    first, last = period(first_day, last_day, today)
    return figures(first, last, counters.recovery_days(caller.org_id, first, last))
