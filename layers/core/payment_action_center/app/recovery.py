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
    return organization_figures(counters, caller.org_id, first_day, last_day, today)


def organization_figures(
    counters: RecoveryCounters,
    organization_id: str,
    first_day: str | None,
    last_day: str | None,
    today: date,
) -> RecoveryFigures:
    """An organization's figures of first_day..last_day (by default the 30 days ending today,
    UTC): what the API answers and the digest's first line says."""
    first, last = period(first_day, last_day, today)
    return figures(first, last, counters.recovery_days(organization_id, first, last))
