"""Print when the daily digest next fires for an organization: the next 07:00 in its time zone,
as RFC 3339 UTC, for POST /_local/schedules/daily-digest (README, "Try the digest").

    .venv/bin/python -m tools.digest_time America/Toronto
"""

import argparse
import sys
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DIGEST_HOUR = 7  # the digest goes out in the 07:00 hour of the organization's time zone


def next_digest_time(zone: str, now: datetime, hour: int = DIGEST_HOUR) -> datetime:
    """The first `hour`:00 local time strictly after `now`, in UTC."""
    local_now = now.astimezone(ZoneInfo(zone))
    day = local_now.date()
    while True:
        candidate = datetime.combine(day, time(hour), tzinfo=ZoneInfo(zone))
        if candidate > local_now:
            return candidate.astimezone(UTC)
        day += timedelta(days=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the next 07:00 of a time zone, in UTC")
    parser.add_argument("zone", nargs="?", default="America/Toronto", help="an IANA time zone")
    arguments = parser.parse_args(argv)
    at = next_digest_time(arguments.zone, datetime.now(UTC))
    print(at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
