"""EventBridge Scheduler, on demand: POST /_local/schedules/<name> fires a `ScheduleV2` event of the
template at a given time, with the payload Scheduler would send (its Input, context attributes such
as <aws.scheduler.scheduled-time> substituted)."""

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from local import config
from local.template import LocalValues, Schedule, resolve

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


class FanoutTimeout(TimeoutError):
    """A schedule's run did not finish (its SQS fan-out) in time; `result` is the function's."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


def parse_time(value: Any) -> datetime:
    """An RFC 3339 date-time with its offset, in UTC; ValueError otherwise."""
    if not (isinstance(value, str) and _RFC3339.fullmatch(value)):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time (e.g. 2026-11-25T07:00:00Z)")
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)


def scheduled_time(at: datetime) -> str:
    """The time as Scheduler substitutes <aws.scheduler.scheduled-time>: 2026-11-25T07:00:00Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_arn(schedule: Schedule) -> str:
    name = f"{config.STACK_NAME}-{schedule.function_id}-{schedule.event_name}"
    return f"arn:aws:scheduler:{config.REGION}:{config.ACCOUNT_ID}:schedule/default/{name}"


def payload(schedule: Schedule, values: LocalValues, at: datetime) -> Any:
    """What the function receives when the schedule fires at `at`: its Input, or {} without."""
    given = resolve(schedule.input, values)
    if given is None:
        return {}
    text = given if isinstance(given, str) else json.dumps(given)
    context = {
        "<aws.scheduler.scheduled-time>": scheduled_time(at),
        "<aws.scheduler.schedule-arn>": schedule_arn(schedule),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in context.items():
        text = text.replace(placeholder, value)
    try:
        return json.loads(text)
    except ValueError:
        return text
