"""The digest's data on DynamoDB: failure log and its day index, preferences, the ledger."""

from typing import Any

from botocore.exceptions import ClientError

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.items import failure_from
from payment_action_center.adapters.dynamodb.store import (
    from_attributes,
    organizations_on,
    query_all,
    to_attributes,
)
from payment_action_center.domain import timestamps
from payment_action_center.domain.declines import RecommendedAction, guidance
from payment_action_center.domain.entries import EntryType, Method
from payment_action_center.ports import DigestLine, Preferences

LEDGER_DAYS = 40


class DynamoDigestStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- FailureLog ---------------------------------------------------------------------------

    def organizations_with_failures(self, day: str) -> list[str]:
        """The day's failure-log rows on the FailuresByDay index (keys only), by organization:
        every shard of the day (keys.py), in shard order, each organization once."""
        return organizations_on(
            self._client,
            self._table,
            keys.FAILDAY_INDEX,
            (keys.FAILDAY_PK, keys.FAILDAY_SK),
            [keys.failure_day(day, s) for s in keys.every_shard(keys.FAILDAY_SHARDS)],
        )

    def failures(self, organization_id: str, after: str, until: str) -> list[DigestLine]:
        """A range on the organization's failure log: only the window's rows are read."""
        items = self._query(
            KeyConditionExpression="#pk = :pk AND #sk BETWEEN :lo AND :hi",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues=to_attributes(
                {
                    ":pk": keys.failure_log(organization_id),
                    ":lo": f"{after}#~",  # strictly after `after`: '~' sorts above every id
                    ":hi": f"{until}#~",
                }
            ),
        )
        return [
            DigestLine(
                holder_id=item["holder_id"],
                holder_name=item["holder_name"],
                amount=int(item["amount"]),
                currency=item["currency"],
                type=EntryType(item["type"]),
                payment_id=item["payment_id"],
                failed_at=item["failed_at"],
                recommended_action=_recommended_action(item),
            )
            for item in items
        ]

    # --- PreferencesStore ---------------------------------------------------------------------

    def preferences(self, organization_id: str, user_id: str) -> Preferences | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_attributes(
                {keys.PK: keys.org(organization_id), keys.SK: keys.preferences(user_id)}
            ),
            ConsistentRead=True,
        )
        return _preferences(from_attributes(response["Item"])) if "Item" in response else None

    def save_preferences(self, preferences: Preferences) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_attributes(
                {
                    keys.PK: keys.org(preferences.organization_id),
                    keys.SK: keys.preferences(preferences.user_id),
                    "entity": "preferences",
                    "organization_id": preferences.organization_id,
                    "user_id": preferences.user_id,
                    "email": preferences.email,
                    "failed_transactions_digest": preferences.failed_transactions_digest,
                    "locale": preferences.locale,
                    "updated_at": preferences.updated_at,
                }
            ),
        )

    def digest_subscribers(self, organization_id: str) -> list[Preferences]:
        items = self._query(
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefs)",
            FilterExpression="#digest = :yes",
            ExpressionAttributeNames={
                "#pk": keys.PK,
                "#sk": keys.SK,
                "#digest": "failed_transactions_digest",
            },
            ExpressionAttributeValues=to_attributes(
                {":pk": keys.org(organization_id), ":prefs": keys.preferences(""), ":yes": True}
            ),
        )
        return [_preferences(item) for item in items]

    # --- SendLedger (ports.py) ---------------------------------------------------------------

    def claim(self, organization_id: str, local_date: str, address: str) -> bool:
        key = (keys.digest(organization_id, local_date), keys.recipient(address.lower()))
        return claim_send(self._client, self._table, key, "digest_recipient", LEDGER_DAYS)

    def sent(self, organization_id: str, local_date: str, address: str) -> None:
        key = (keys.digest(organization_id, local_date), keys.recipient(address.lower()))
        mark_send(self._client, self._table, key, "sent", None)

    def release(self, organization_id: str, local_date: str, address: str, error: str) -> None:
        key = (keys.digest(organization_id, local_date), keys.recipient(address.lower()))
        mark_send(self._client, self._table, key, "failed", error[:500])

    def _query(self, **request: Any) -> list[dict[str, Any]]:
        return query_all(self._client, self._table, **request)


# The method a row's type implies, for rows logged before they kept the method: a refund is
# tracked by card only, a one-time e-check payment is by e-check; an installment or a
# subscription may be either (domain/entries.py, tracked_type).
_IMPLIED_METHOD = {
    EntryType.CREDIT_CARD_REFUND: Method.CREDIT_CARD,
    EntryType.ECHECK_PAYMENT: Method.ECHECK,
}


def _recommended_action(item: dict[str, Any]) -> RecommendedAction | None:
    """What to do about a logged failure (domain/declines.py), from its type, method and codes.

    None when the method is neither on the row nor implied by its type: the same code can call
    for a different action on a card and on an e-check, so the digest does not guess.
    """
    entry_type = EntryType(item["type"])
    method = Method(item["method"]) if "method" in item else _IMPLIED_METHOD.get(entry_type)
    if method is None:
        return None
    # The log keeps the failure's codes, not its message, which the guidance does not read.
    failure = failure_from({"failure_message": "", **item})
    return guidance(entry_type, method, failure).recommended_action


def _preferences(item: dict[str, Any]) -> Preferences:
    return Preferences(
        organization_id=item["organization_id"],
        user_id=item["user_id"],
        email=item["email"],
        failed_transactions_digest=bool(item["failed_transactions_digest"]),
        locale=item["locale"],
        updated_at=item["updated_at"],
    )


NOTICE_LEDGER_DAYS = 100


class DynamoCardNoticeLedger:
    """The expiring card notices' ledger: one row per organization, expiry month and card."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def claim(self, organization_id: str, month: str, card_id: str) -> bool:
        key = (keys.card_notice(organization_id, month), keys.card_notice_card(card_id))
        return claim_send(self._client, self._table, key, "card_notice", NOTICE_LEDGER_DAYS)

    def sent(self, organization_id: str, month: str, card_id: str) -> None:
        key = (keys.card_notice(organization_id, month), keys.card_notice_card(card_id))
        mark_send(self._client, self._table, key, "sent", None)

    def release(self, organization_id: str, month: str, card_id: str, error: str) -> None:
        key = (keys.card_notice(organization_id, month), keys.card_notice_card(card_id))
        mark_send(self._client, self._table, key, "failed", error[:500])


def claim_send(client: Any, table: str, key: tuple[str, str], entity: str, ttl_days: int) -> bool:
    """At most once per key: a row claimed "sending" before the send; only a send that
    failed ("failed") may be claimed again."""
    now = timestamps.now()
    try:
        client.put_item(
            TableName=table,
            Item=to_attributes(
                {
                    keys.PK: key[0],
                    keys.SK: key[1],
                    "entity": entity,
                    "status": "sending",
                    "claimed_at": now,
                    keys.TTL: timestamps.epoch_seconds(now) + ttl_days * 86400,
                }
            ),
            ConditionExpression="attribute_not_exists(#pk) OR #status = :failed",
            ExpressionAttributeNames={"#pk": keys.PK, "#status": "status"},
            ExpressionAttributeValues=to_attributes({":failed": "failed"}),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_send(
    client: Any, table: str, key: tuple[str, str], status: str, error: str | None
) -> None:
    client.update_item(
        TableName=table,
        Key=to_attributes({keys.PK: key[0], keys.SK: key[1]}),
        UpdateExpression="SET #status = :status, #at = :at, #error = :error",
        ExpressionAttributeNames={"#status": "status", "#at": f"{status}_at", "#error": "error"},
        ExpressionAttributeValues=to_attributes(
            {":status": status, ":at": timestamps.now(), ":error": error or ""}
        ),
    )
