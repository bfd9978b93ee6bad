"""The demo data of `make dev` (local/demo.py): dated so that the digest example finds failures."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from local import config, demo
from payment_action_center.app.digest import WINDOW as DIGEST_WINDOW
from tools import digest_time

TORONTO = ZoneInfo(demo.ORGANIZATION["time_zone"])


def next_digest_time(start_up: datetime) -> datetime:
    """The README's digest `now` (tools/digest_time.py) for a stack started at `start_up`."""
    return digest_time.next_digest_time(demo.ORGANIZATION["time_zone"], start_up)


def failure_times(start_up: datetime) -> list[datetime]:
    events = [
        demo.failure_event(config.DEMO_ORG_ID, number, failure, start_up)
        for number, failure in enumerate(demo.FAILURES, start=1)
    ]
    return [datetime.fromisoformat(event["occurred_at"]) for event in events]


def start_ups(day: str) -> list[datetime]:
    """A start-up at 17 s past every minute of that day in Toronto."""
    midnight = datetime.fromisoformat(day).replace(tzinfo=TORONTO)
    local = [midnight + timedelta(minutes=m, seconds=17) for m in range(24 * 60)]
    return [moment.astimezone(UTC) for moment in local]


def test_the_next_0700_digest_finds_demo_failures_whenever_the_stack_starts() -> None:
    far = []  # start-ups whose next 07:00 is more than 24 h away
    # an ordinary day, the day clocks go forward, the eve of the day they go back, that day
    for day in ("2026-06-15", "2026-03-08", "2026-10-31", "2026-11-01"):
        for start_up in start_ups(day):
            now = next_digest_time(start_up)
            if now - start_up > DIGEST_WINDOW:
                far.append(start_up)
                continue
            in_window = [t for t in failure_times(start_up) if now - DIGEST_WINDOW < t <= now]
            assert in_window, f"no demo failure for a digest at {now} (start-up {start_up})"
    # The one exception: a start-up in the 07:00 hour on the eve of the fall back, whose next
    # 07:00 is 25 h away; every demo failure is before the start-up, so none can be in its window.
    assert {t.astimezone(TORONTO).strftime("%Y-%m-%d %H") for t in far} == {"2026-10-31 07"}


def test_demo_failures_span_the_last_day_and_older_days() -> None:
    start_up = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    ages = [start_up - t for t in failure_times(start_up)]
    assert min(ages) <= timedelta(minutes=5)
    assert sum(age < DIGEST_WINDOW for age in ages) >= 5
    assert sum(age > DIGEST_WINDOW for age in ages) >= 5
