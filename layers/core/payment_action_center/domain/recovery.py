"""Recovery figures (docs/contract.md, GET /metrics/recovery): what failed, what was recovered
and how, what was dismissed, what is still at risk, and how long a recovery took.

They are kept as daily counters, written in the same transaction as the change of an entry that
moves them (adapters/dynamodb/store.py): `counted` says what one change adds. Every counter of an
entry is attributed to the UTC date of its first failure (`Entry.received_at`, when the Action
Center received it): an entry counts once as failed (a `failed_again` is the same entry, not a
new failure), and its recovery or dismissal counts on that same day whenever it happens. So the
recovery rate of a range is by failure date, and the amount at risk of a range (failed, less
recovered, less dismissed) is what its failures still leave open. Counters are per currency:
amounts in different currencies are never added together. Failed refunds are left out (money
owed to a customer, not revenue to recover), and so are entries recorded before the figures
existed (`Entry.in_figures`): their recovery would count on a day that never counted them.

Time to recovery is counted in whole hours (from the first failure's reception to the recovery,
rounded down) per day, so the median of any range is exact to the hour.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import AUTO_RETRY, Entry, Status
from payment_action_center.domain.errors import DomainError


class RecoveredBy(StrEnum):
    """How an entry was recovered: the retry that succeeded charged the scheduled payment's
    method changed after the failure; else it was asked for by the organization's automatic retry
    policy (AUTO_RETRY); else by an admin (or anyone else)."""

    MANUAL_RETRY = "manual_retry"
    AUTOMATIC_RETRY = "automatic_retry"
    PAYMENT_METHOD_CHANGED = "payment_method_changed"


# The counters of a day (numeric attributes, each added to with DynamoDB's ADD).
FAILED_COUNT, FAILED_AMOUNT = "failed_count", "failed_amount"
DISMISSED_COUNT, DISMISSED_AMOUNT = "dismissed_count", "dismissed_amount"
TTR_PREFIX = "ttr_h_"


def recovered_count(how: RecoveredBy) -> str:
    return f"recovered_{how.value}_count"


def recovered_amount(how: RecoveredBy) -> str:
    return f"recovered_{how.value}_amount"


def ttr_counter(hours: int) -> str:
    """Recoveries that took `hours` whole hours (ttr_h_0: under an hour)."""
    return f"{TTR_PREFIX}{hours}"


@dataclass(frozen=True)
class CounterChange:
    """What one change of an entry adds to its organization's counters of one day."""

    organization_id: str
    entry_id: str
    day: str  # YYYY-MM-DD: the UTC date of the entry's first failure
    currency: str
    add: Mapping[str, int]


def recovered_by(entry: Entry) -> RecoveredBy:
    retry = entry.retry
    if retry is not None and retry.method_changed:
        return RecoveredBy.PAYMENT_METHOD_CHANGED
    if retry is not None and retry.requested_by == AUTO_RETRY:
        return RecoveredBy.AUTOMATIC_RETRY
    return RecoveredBy.MANUAL_RETRY


def hours_to_recovery(entry: Entry) -> int:
    """Whole hours from the first failure's reception to the recovery (its write)."""
    elapsed = timestamps.to_datetime(entry.updated_at) - timestamps.to_datetime(entry.received_at)
    return max(0, int(elapsed.total_seconds() // 3600))


def counted(entry: Entry, action: str) -> CounterChange | None:
    """What the change that wrote `entry` (its audit action) adds to the counters, or None.

    `received` (a new entry) counts a failure; `recovered` a recovery, by how, with its time to
    recovery; `dismissed` a dismissal. Nothing else moves them: a retry requested, a charge sent,
    a failure again are the same entry, still open.
    """
    if not entry.in_figures:
        return None
    add: dict[str, int]
    if action == "received" and entry.version == 1:
        add = {FAILED_COUNT: 1, FAILED_AMOUNT: entry.amount}
    elif action == "recovered" and entry.status is Status.RECOVERED:
        how = recovered_by(entry)
        add = {
            recovered_count(how): 1,
            recovered_amount(how): entry.amount,
            ttr_counter(hours_to_recovery(entry)): 1,
        }
    elif action == "dismissed" and entry.status is Status.DISMISSED:
        add = {DISMISSED_COUNT: 1, DISMISSED_AMOUNT: entry.amount}
    else:
        return None
    return CounterChange(
        organization_id=entry.organization_id,
        entry_id=entry.id,
        day=entry.received_at[:10],
        currency=entry.currency,
        add=add,
    )


# --- the figures ---------------------------------------------------------------------------


MAX_DAYS = 366
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
DEFAULT_DAYS = 30


class InvalidPeriod(DomainError):
    """`from`/`to` of the figures are not dates, not in order, or span too many days (400)."""

    code = "invalid_period"


@dataclass(frozen=True)
class DayCounters:
    """The counters of one day, currency and shard as stored (missing counters are zero)."""

    day: str
    currency: str
    counters: Mapping[str, int]


@dataclass(frozen=True)
class Tally:
    amount: int = 0
    count: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.amount + other.amount, self.count + other.count)

    def __sub__(self, other: "Tally") -> "Tally":
        return Tally(self.amount - other.amount, self.count - other.count)


@dataclass(frozen=True)
class DayFigures:
    """One day of a currency, for a chart: what failed that day and what became of it."""

    day: str
    failed: Tally
    recovered: Tally
    dismissed: Tally


@dataclass(frozen=True)
class CurrencyFigures:
    currency: str
    failed: Tally
    recovered: Tally
    recovered_by: Mapping[RecoveredBy, Tally]
    dismissed: Tally
    median_hours_to_recovery: float | None  # None: nothing recovered
    days: tuple[DayFigures, ...]  # days with any counter, oldest first

    @property
    def at_risk(self) -> Tally:
        """Failed in the range and neither recovered nor dismissed: still open."""
        return self.failed - self.recovered - self.dismissed

    @property
    def recovery_rate(self) -> float | None:
        """Recovered amount ÷ failed amount, 4 decimals; None when nothing failed."""
        if self.failed.amount == 0:
            return None
        return round(self.recovered.amount / self.failed.amount, 4)


@dataclass(frozen=True)
class RecoveryFigures:
    first_day: str
    last_day: str
    currencies: tuple[CurrencyFigures, ...]  # by currency code


def period(first_day: str | None, last_day: str | None, today: date) -> tuple[str, str]:
    """The days of a request, checked: YYYY-MM-DD each, first ≤ last, at most MAX_DAYS days.
    Defaults: the last DEFAULT_DAYS days ending today (UTC). InvalidPeriod says what is wrong."""
    last = _date("to", last_day) if last_day is not None else today
    first = (
        _date("from", first_day)
        if first_day is not None
        else last - timedelta(days=DEFAULT_DAYS - 1)
    )
    if first > last:
        raise InvalidPeriod(f"from ({first.isoformat()}) is after to ({last.isoformat()})")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise InvalidPeriod(f"from..to spans {days} days; at most {MAX_DAYS}")
    return first.isoformat(), last.isoformat()


def _date(name: str, text: str) -> date:
    try:
        if _DATE.fullmatch(text) is None:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidPeriod(f"{name} must be a date, YYYY-MM-DD; got {text!r}") from None


def figures(first_day: str, last_day: str, rows: Iterable[DayCounters]) -> RecoveryFigures:
    """The figures of the days first_day..last_day (inclusive) from their counters."""
    by_currency: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        if not first_day <= row.day <= last_day:
            continue
        day = by_currency.setdefault(row.currency, {}).setdefault(row.day, {})
        for name, value in row.counters.items():
            day[name] = day.get(name, 0) + int(value)
    return RecoveryFigures(
        first_day,
        last_day,
        tuple(_currency(code, by_currency[code]) for code in sorted(by_currency)),
    )


def _currency(code: str, days: Mapping[str, Mapping[str, int]]) -> CurrencyFigures:
    total: dict[str, int] = {}
    for counters in days.values():
        for name, value in counters.items():
            total[name] = total.get(name, 0) + value
    by = {how: _tally(total, recovered_amount(how), recovered_count(how)) for how in RecoveredBy}
    return CurrencyFigures(
        currency=code,
        failed=_tally(total, FAILED_AMOUNT, FAILED_COUNT),
        recovered=sum(by.values(), Tally()),
        recovered_by=by,
        dismissed=_tally(total, DISMISSED_AMOUNT, DISMISSED_COUNT),
        median_hours_to_recovery=median_hours(total),
        days=tuple(_day(day, days[day]) for day in sorted(days)),
    )


def _day(day: str, counters: Mapping[str, int]) -> DayFigures:
    recovered = sum(
        (_tally(counters, recovered_amount(h), recovered_count(h)) for h in RecoveredBy), Tally()
    )
    return DayFigures(
        day=day,
        failed=_tally(counters, FAILED_AMOUNT, FAILED_COUNT),
        recovered=recovered,
        dismissed=_tally(counters, DISMISSED_AMOUNT, DISMISSED_COUNT),
    )


def _tally(counters: Mapping[str, int], amount: str, count: str) -> Tally:
    return Tally(counters.get(amount, 0), counters.get(count, 0))


def median_hours(counters: Mapping[str, int]) -> float | None:
    """The median of the recoveries' whole hours (the mean of the two middle ones for an even
    number of recoveries); None when there was none."""
    histogram = sorted(
        (int(name.removeprefix(TTR_PREFIX)), count)
        for name, count in counters.items()
        if name.startswith(TTR_PREFIX) and count > 0
    )
    total = sum(count for _, count in histogram)
    if total == 0:
        return None
    middle = [(total - 1) // 2, total // 2]  # 0-based positions of the middle value(s)
    found: list[int] = []
    seen = 0
    for hours, count in histogram:
        found += [hours for position in middle if seen <= position < seen + count]
        seen += count
    return sum(found) / len(found)
