"""The recovery counters on DynamoDB (written by store.py with each change of an entry): a range
of days of an organization is one Query, every page."""

from typing import Any

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.recovery_items import day_counters_from
from payment_action_center.adapters.dynamodb.store import query_all, to_attributes
from payment_action_center.domain.recovery import DayCounters


class DynamoRecoveryCounters:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def recovery_days(
        self, organization_id: str, first_day: str, last_day: str
    ) -> list[DayCounters]:
        """Every counter item of the days first_day..last_day (every currency and shard)."""
        items = query_all(
            self._client,
            self._table,
            KeyConditionExpression="#pk = :pk AND #sk BETWEEN :lo AND :hi",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues=to_attributes(
                {
                    ":pk": keys.recovery_days(organization_id),
                    ":lo": f"{first_day}#",
                    ":hi": f"{last_day}#~",  # '~' sorts above every currency and shard
                }
            ),
        )
        return [day_counters_from(item) for item in items]
