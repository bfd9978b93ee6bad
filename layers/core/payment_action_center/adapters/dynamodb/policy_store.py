"""The RetryPolicyStore on DynamoDB: each organization's automatic retry policy
(domain/auto_retry.py) and, while it is on, its marker in the AUTORETRY partition, which is what
the retry watchdog reads to know whom to visit and when (app/auto_retry.py).

  retry policy   pk ORG#<org>   sk RETRY_POLICY   (enabled, days, local_time, updated_at/_by)
  marker         pk AUTORETRY   sk <org>          (only while enabled: a copy of the policy and
                                                   visit_at, the next run to visit the organization)

The two are written in one transaction (the marker put or deleted with the policy), so the
watchdog never visits an organization whose policy is off. The watchdog moves `visit_at`
forward after a visit, only if the policy was not saved again meanwhile (`updated_at`).
"""

import logging
from typing import Any

from botocore.exceptions import ClientError

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.store import (
    from_attributes,
    query_all,
    to_attributes,
    transact,
)
from payment_action_center.domain.auto_retry import RetryPolicy

log = logging.getLogger(__name__)


class DynamoRetryPolicyStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def retry_policy(self, organization_id: str) -> RetryPolicy:
        """The organization's policy; the default (off) when none was saved. One GetItem."""
        response = self._client.get_item(
            TableName=self._table,
            Key=to_attributes({keys.PK: keys.org(organization_id), keys.SK: keys.RETRY_POLICY}),
            ConsistentRead=True,
        )
        if "Item" not in response:
            return RetryPolicy()
        return policy_from(from_attributes(response["Item"]))

    def policy_and_time_zone(self, organization_id: str) -> tuple[RetryPolicy, str | None]:
        """The policy and the organization's time zone (its settings, None before they arrive):
        one BatchGetItem of both items, for the API's views of entries."""
        wanted = [
            to_attributes({keys.PK: keys.org(organization_id), keys.SK: sk})
            for sk in (keys.RETRY_POLICY, keys.SETTINGS)
        ]
        found: dict[str, dict[str, Any]] = {}
        while wanted:
            response = self._client.batch_get_item(
                RequestItems={self._table: {"Keys": wanted, "ConsistentRead": True}}
            )
            for raw in response["Responses"].get(self._table, []):
                item = from_attributes(raw)
                found[item[keys.SK]] = item
            wanted = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        policy_item = found.get(keys.RETRY_POLICY)
        settings = found.get(keys.SETTINGS)
        policy = policy_from(policy_item) if policy_item else RetryPolicy()
        return policy, settings.get("time_zone") if settings else None

    def save_retry_policy(self, organization_id: str, policy: RetryPolicy) -> None:
        """The policy and its marker (put while enabled, deleted when off), in one transaction.
        The marker's visit_at is the save: the next watchdog run visits the organization."""
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_attributes(policy_item(organization_id, policy)),
                }
            }
        ]
        marker_key = {keys.PK: keys.AUTORETRY, keys.SK: organization_id}
        if policy.enabled:
            marker = marker_key | {
                "entity": "auto_retry_marker",
                **_policy_fields(policy),
                "visit_at": policy.updated_at,
            }
            writes.append({"Put": {"TableName": self._table, "Item": to_attributes(marker)}})
        else:
            writes.append({"Delete": {"TableName": self._table, "Key": to_attributes(marker_key)}})
        transact(self._client, ["policy", "marker"], writes)

    def policies_due(self, now: str) -> list[tuple[str, RetryPolicy]]:
        """The organizations whose policy is on and whose visit is due (visit_at ≤ now): one
        Query of the AUTORETRY partition, every page, the others filtered out by DynamoDB."""
        items = query_all(
            self._client,
            self._table,
            KeyConditionExpression="#pk = :pk",
            FilterExpression="#visit_at <= :now",
            ExpressionAttributeNames={"#pk": keys.PK, "#visit_at": "visit_at"},
            ExpressionAttributeValues=to_attributes({":pk": keys.AUTORETRY, ":now": now}),
        )
        due: list[tuple[str, RetryPolicy]] = []
        for item in items:
            try:
                due.append((str(item[keys.SK]), policy_from(item)))
            except (KeyError, TypeError, ValueError):  # the others are visited all the same
                log.exception("an automatic retry marker cannot be read: skipped")
        return due

    def visited(self, organization_id: str, policy: RetryPolicy, visit_at: str) -> None:
        """Move the organization's next visit to `visit_at`, unless its policy was saved again
        (or turned off) since `policy` was read: then the next run visits as the save says."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_attributes({keys.PK: keys.AUTORETRY, keys.SK: organization_id}),
                UpdateExpression="SET #visit_at = :visit_at",
                ConditionExpression="#updated_at = :seen",
                ExpressionAttributeNames={"#visit_at": "visit_at", "#updated_at": "updated_at"},
                ExpressionAttributeValues=to_attributes(
                    {":visit_at": visit_at, ":seen": policy.updated_at}
                ),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _policy_fields(policy: RetryPolicy) -> dict[str, Any]:
    return {
        "enabled": policy.enabled,
        "days": list(policy.days),
        "local_time": policy.local_time,
        "updated_at": policy.updated_at,
        "updated_by": policy.updated_by,
    }


def policy_item(organization_id: str, policy: RetryPolicy) -> dict[str, Any]:
    return {
        keys.PK: keys.org(organization_id),
        keys.SK: keys.RETRY_POLICY,
        "entity": "retry_policy",
        **_policy_fields(policy),
    }


def policy_from(item: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy(
        enabled=bool(item.get("enabled", False)),
        days=tuple(int(day) for day in item.get("days", [])) or RetryPolicy().days,
        local_time=str(item.get("local_time") or RetryPolicy().local_time),
        updated_at=str(item.get("updated_at", "")),
        updated_by=item.get("updated_by"),
    )
