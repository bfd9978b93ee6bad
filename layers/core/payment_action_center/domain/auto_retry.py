"""The automatic retry policy of an organization (docs/contract.md §2, docs/architecture.md §6):
soft declines (`retry_later`, domain/declines.py) retried by the service itself, on days after
the first failure, at the organization's local time.

Automatic attempt k (0-based) of an entry is due at `local_time` in the organization's time zone
on the local date of the entry's first failure plus `days[k]` (`due_at`). The entry counts its
automatic attempts (`Entry.auto_attempts`): what is due next is a pure function of the entry, the
policy and the time zone, so nothing has to be scheduled or cancelled per entry (the retry
watchdog reads the organizations whose policy is on and retries what is due, app/auto_retry.py).

An attempt whose successor is due too was missed (the policy turned on over old failures, the
service down) and is skipped rather than made on consecutive days; the last one is dropped two
days after its time. Attempts are made only within six hours after local_time
(`ATTEMPT_WINDOW`): saving a policy at 23:00 retries nothing before the next morning.

Local times that a daylight-saving change skips (02:30 on the night the clocks go forward) are
read with the offset before the change, which lands in the hour after the gap; a time the clocks
pass twice (01:30 when they go back) is its first occurrence.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from payment_action_center.domain import timestamps
from payment_action_center.domain.declines import DeclineClass, guidance
from payment_action_center.domain.entries import Entry, EntryType, Status
from payment_action_center.domain.errors import InvalidPayload, Problem

DEFAULT_DAYS = (1, 3, 7, 14)
DEFAULT_LOCAL_TIME = "09:00"
MAX_ATTEMPTS = 6
MAX_DAY = 60
# Automatic attempts are made from the organization's local_time to this much later, and only
# then: a run missed at 09:00 is caught up by the next ones, never in the night; a retry-after
# delay that ends within it is honoured the same day.
ATTEMPT_WINDOW = timedelta(hours=6)
# The last attempt is dropped this long after its time (a failure older than the policy's days).
LAST_ATTEMPT_GRACE = timedelta(days=2)
_LOCAL_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True)
class RetryPolicy:
    """An organization's policy; off until a billing admin turns it on. `updated_at`: when it was
    last saved ("" for the default), which the watchdog's bookkeeping is conditioned on."""

    enabled: bool = False
    days: tuple[int, ...] = DEFAULT_DAYS
    local_time: str = DEFAULT_LOCAL_TIME
    updated_at: str = ""
    updated_by: str | None = None

    @property
    def clock(self) -> time:
        hours, minutes = self.local_time.split(":")
        return time(int(hours), int(minutes))


def checked(enabled: bool, days: list[int], local_time: str) -> RetryPolicy:
    """The policy an admin asks for, or InvalidPayload naming each rule it breaks: days strictly
    increasing whole numbers from 1 to 60, at most 6 of them, at least one; local_time HH:MM."""
    problems: list[Problem] = []
    if not days or len(days) > MAX_ATTEMPTS:
        problems.append(Problem("days", f"from 1 to {MAX_ATTEMPTS} days are allowed"))
    if any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_DAY for d in days):
        problems.append(Problem("days", f"each day is a whole number from 1 to {MAX_DAY}"))
    elif any(later <= earlier for earlier, later in pairwise(days)):
        problems.append(Problem("days", "the days must be strictly increasing"))
    if not isinstance(local_time, str) or _LOCAL_TIME.fullmatch(local_time) is None:
        problems.append(Problem("local_time", "a 24-hour local time HH:MM, such as 09:00"))
    if problems:
        raise InvalidPayload(
            "invalid retry policy: " + "; ".join(f"{p.loc}: {p.msg}" for p in problems), problems
        )
    return RetryPolicy(enabled=enabled, days=tuple(days), local_time=local_time)


def local_instant(day: date, clock: time, time_zone: str) -> str:
    """The canonical instant of a wall-clock time on a local date (see the module for DST)."""
    zone = ZoneInfo(time_zone)
    moment = datetime.combine(day, clock, tzinfo=zone)
    # A skipped wall time: keep the offset before the change (fold=0), then normalize through
    # UTC, which lands after the gap.
    return timestamps.from_datetime(moment.astimezone(UTC))


def local_date(instant: str, time_zone: str) -> date:
    return timestamps.to_datetime(instant).astimezone(ZoneInfo(time_zone)).date()


def due_at(first_failed_at: str, policy: RetryPolicy, time_zone: str, attempt: int) -> str | None:
    """When automatic attempt `attempt` (0-based) of an entry first failed at that instant is due;
    None beyond the policy's last day."""
    if not 0 <= attempt < len(policy.days):
        return None
    day = local_date(first_failed_at, time_zone) + timedelta(days=policy.days[attempt])
    return local_instant(day, policy.clock, time_zone)


def is_soft(entry: Entry) -> bool:
    """Whether the entry's failure is a soft decline (`retry_later`) of a payment: the only class
    retried automatically. A failed refund never is: money going out is retried by an admin,
    once the cause is fixed."""
    if entry.type is EntryType.CREDIT_CARD_REFUND:
        return False
    return guidance(entry.type, entry.method, entry.failure).decline_class is (
        DeclineClass.RETRY_LATER
    )


def may_be_scheduled(entry: Entry) -> bool:
    """Whether some policy could retry the entry automatically (whatever its days): a `failed`
    soft decline with attempts left. The API reads the policy only for a page that has one."""
    return (
        entry.status is Status.FAILED
        and not entry.auto_stopped
        and entry.auto_attempts < MAX_ATTEMPTS
        and is_soft(entry)
    )


def next_attempt_at(
    entry: Entry, policy: RetryPolicy, time_zone: str, now: str | None = None
) -> str | None:
    """When the policy would next retry the entry: None when it is off, the entry is not
    `failed`, not a soft decline, has had every automatic attempt or was stopped by the rules.
    The retry guard (caps, Mastercard's retry-after delays) is applied at the attempt: a later
    instant when it asks to wait is not shown here (the console and the digest show the
    schedule)."""
    if not policy.enabled or entry.status is not Status.FAILED or entry.auto_stopped:
        return None
    if not is_soft(entry):
        return None
    found = next_attempt(entry, policy, time_zone, now)
    return found[1] if found is not None else None


def next_attempt(
    entry: Entry, policy: RetryPolicy, time_zone: str, now: str | None = None
) -> tuple[int, str] | None:
    """The entry's next automatic attempt (0-based) and when it is due, as of `now`: an attempt
    whose successor is already due too was missed (the policy turned on late, the service
    down) and is skipped, not made on the next days one after the other; the last one is
    dropped once LAST_ATTEMPT_GRACE past its time. None when none is left."""
    attempt = entry.auto_attempts
    due = due_at(entry.first_failure_at, policy, time_zone, attempt)
    while due is not None and now is not None:
        later = due_at(entry.first_failure_at, policy, time_zone, attempt + 1)
        if later is None:
            if now >= timestamps.plus(due, LAST_ATTEMPT_GRACE):
                return None
            break
        if later > now:
            break
        attempt, due = attempt + 1, later
    return (attempt, due) if due is not None else None


def is_due(entry: Entry, policy: RetryPolicy, time_zone: str, now: str) -> int | None:
    """The automatic attempt (0-based) the policy makes of the entry at `now`, the retry guard
    aside, or None."""
    if not policy.enabled or entry.status is not Status.FAILED or entry.auto_stopped:
        return None
    if not is_soft(entry):
        return None
    found = next_attempt(entry, policy, time_zone, now)
    return found[0] if found is not None and found[1] <= now else None


def in_window(policy: RetryPolicy, time_zone: str, now: str) -> bool:
    """Whether `now` is within ATTEMPT_WINDOW after the organization's local_time of its local
    day: the only time its automatic attempts are made (a run missed at 09:00 is caught up by
    the runs that follow, not in the night)."""
    start = local_instant(local_date(now, time_zone), policy.clock, time_zone)
    return start <= now < timestamps.plus(start, ATTEMPT_WINDOW)


def next_visit(policy: RetryPolicy, time_zone: str, now: str) -> str:
    """The next instant after `now` at which an organization's entries may become due: its
    local_time today if still ahead, else tomorrow's (every due instant is at local_time)."""
    today = local_date(now, time_zone)
    for day in (today, today + timedelta(days=1), today + timedelta(days=2)):
        at = local_instant(day, policy.clock, time_zone)
        if at > now:
            return at
    raise AssertionError("a local time recurs within two days")  # pragma: no cover


def days_from_today(instant: str, now: str, time_zone: str) -> int:
    """Which local day an instant falls on, as the console and the digest say it ("today",
    "tomorrow", "the day after"): 0 today, 1 tomorrow, 2 the day after… in the time zone
    (negative: overdue)."""
    return (local_date(instant, time_zone) - local_date(now, time_zone)).days


@dataclass(frozen=True)
class ScheduledRetries:
    """How many entries the policy retries today (overdue ones included: the next run makes
    them), tomorrow and the day after, by the calendar of the organization's time zone."""

    today: int = 0
    tomorrow: int = 0
    day_after: int = 0


def scheduled_retries(
    entries: Iterable[Entry], policy: RetryPolicy, time_zone: str, now: str
) -> ScheduledRetries:
    """What the digest says of the days to come (adapters/emails/digest.py)."""
    counts = [0, 0, 0]
    for entry in entries:
        at = next_attempt_at(entry, policy, time_zone, now)
        if at is None:
            continue
        days = max(0, days_from_today(at, now, time_zone))
        if days < len(counts):
            counts[days] += 1
    return ScheduledRetries(*counts)
