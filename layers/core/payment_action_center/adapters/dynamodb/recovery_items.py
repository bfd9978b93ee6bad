"""The recovery counters (domain/recovery.py) to DynamoDB and back (plain attribute maps, no
boto3): one item per organization, UTC day of first failure, currency and entry shard
(keys.py)."""

from typing import Any

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.domain.recovery import CounterChange, DayCounters

ENTITY = "recovery_day"
# Attributes of a counter item that are not counters.
_NOT_COUNTERS = frozenset({keys.PK, keys.SK, "entity", "organization_id", "day", "currency"})


def counter_update(change: CounterChange) -> dict[str, Any]:
    """The parts of an Update adding the change to its day's item (created by the first ADD):
    Key, UpdateExpression, names and plain values, for a transaction to serialize."""
    names = {"#entity": "entity", "#org": "organization_id", "#day": "day", "#cur": "currency"}
    values: dict[str, Any] = {
        ":entity": ENTITY,
        ":org": change.organization_id,
        ":day": change.day,
        ":cur": change.currency,
    }
    added = []
    for n, (name, amount) in enumerate(sorted(change.add.items())):
        names[f"#c{n}"] = name
        values[f":c{n}"] = amount
        added.append(f"#c{n} :c{n}")
    return {
        "Key": {
            keys.PK: keys.recovery_days(change.organization_id),
            keys.SK: keys.recovery_day(
                change.day, change.currency, keys.entry_shard(change.entry_id)
            ),
        },
        "UpdateExpression": (
            "SET #entity = :entity, #org = :org, #day = :day, #cur = :cur ADD " + ", ".join(added)
        ),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def day_counters_from(item: dict[str, Any]) -> DayCounters:
    return DayCounters(
        day=str(item["day"]),
        currency=str(item["currency"]),
        counters={k: int(v) for k, v in item.items() if k not in _NOT_COUNTERS},
    )
