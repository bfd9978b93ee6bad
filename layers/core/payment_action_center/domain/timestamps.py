"""RFC 3339 instants at full precision.

Processor events carry `occurred_at` with up to nanoseconds and out-of-order deliveries are
ordered by it, so instants are kept as canonical UTC strings with nine fractional digits
(`2026-11-25T16:54:32.123456789Z`): fixed width, so string order is time order, in Python and
in DynamoDB sort keys alike. `datetime` (microseconds) is used only for arithmetic.
"""

import re
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<fraction>\d{1,9}))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"


def canonical(text: str) -> str:
    """The canonical UTC form of an RFC 3339 timestamp; ValueError when it is not one."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp with a time zone: {text!r}")
    offset = match["offset"].upper()
    try:
        moment = datetime.fromisoformat(
            f"{match['date']}T{match['time']}{'+00:00' if offset == 'Z' else offset}"
        ).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"outside the representable range in UTC: {text!r}") from None
    nanos = (match["fraction"] or "").ljust(9, "0")
    return f"{_seconds(moment)}.{nanos}Z"


def from_datetime(moment: datetime) -> str:
    """The canonical form of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    utc = moment.astimezone(UTC)
    return f"{_seconds(utc)}.{utc.microsecond:06d}000Z"


def _seconds(utc: datetime) -> str:
    # strftime's %Y does not pad years before 1000: the width must stay fixed.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}"


def to_datetime(instant: str) -> datetime:
    """An aware UTC datetime (truncated to microseconds) for a canonical instant."""
    return datetime.fromisoformat(instant[:26] + "+00:00")


def display(instant: str) -> str:
    """The wire form: the canonical instant without trailing fractional zeros."""
    seconds, _, fraction = instant[:-1].partition(".")
    fraction = fraction.rstrip("0")
    return f"{seconds}.{fraction}Z" if fraction else f"{seconds}Z"


def now() -> str:
    return from_datetime(datetime.now(UTC))


def plus(instant: str, delta: timedelta) -> str:
    """Shift an instant, keeping its sub-microsecond digits."""
    return from_datetime(to_datetime(instant) + delta)[:-4] + instant[-4:]


def epoch_seconds(instant: str) -> int:
    return int(to_datetime(instant).timestamp())


def scheduled(event: dict[str, object]) -> str:
    """The time a schedule fired for: EventBridge Scheduler fills `scheduled_time` in the input
    (<aws.scheduler.scheduled-time>); a run started by hand has none and means now."""
    given = event.get("scheduled_time")
    return canonical(given) if isinstance(given, str) else now()
