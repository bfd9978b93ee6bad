"""The EntryStore on DynamoDB."""

import random
import re
import time
from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.items import (
    audit_from,
    audit_item,
    card_reattempt_item,
    entry_from,
    entry_item,
    failure_log_item,
    outbox_from,
    outbox_item,
    recovered_payment_item,
)
from payment_action_center.adapters.dynamodb.recovery_items import counter_update
from payment_action_center.domain import recovery, timestamps
from payment_action_center.domain.entries import AuditEvent, BusEvent, Entry, Status, fold
from payment_action_center.domain.errors import DeliveryInFlight, NotFound
from payment_action_center.domain.listing import EntryFilter, Page, Position
from payment_action_center.ports import Delivery, StoreConflict

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

FAILURE_LOG_DAYS = 40
# A card's reattempts are counted over 30 days (domain/retry_rules.py CARD_WINDOW); kept a day
# longer, since TTL deletion is not instant and the count reads by date anyway.
CARD_REATTEMPT_DAYS = 31
ENTRY_ID = re.compile(r"^txn_[a-z2-7]{26}$")
DELIVERY_DAYS = 14
# A transaction that met a concurrent one on an item is sent again, up to this many times in all.
CONFLICT_ATTEMPTS = 3
# A filtered page reads this many index items per request at most (a Query's Limit counts
# items before the filter).
FILTERED_READ = 500


def to_attributes(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def from_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in attributes.items()}


class DynamoEntryStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record_failure(self, entry: Entry, received: AuditEvent, delivery: Delivery) -> None:
        """One TransactWriteItems: entry, audit event, failure-log row, delivery marker, and the
        failure added to the day's recovery counters."""
        expires = timestamps.epoch_seconds(entry.failed_at) + FAILURE_LOG_DAYS * 86400
        writes = [
            ("entry", self._put_new(entry_item(entry))),
            ("audit", self._put_new(audit_item(entry, received))),
            ("failure_log", self._put_new(failure_log_item(entry, expires))),
            ("delivery", self._put_new(delivery_item(delivery, entry_id=entry.id))),
        ]
        writes += self._recovery_counters(entry, received)
        transact(self._client, [role for role, _ in writes], [write for _, write in writes])

    def transition(
        self,
        entry: Entry,
        event: AuditEvent,
        *,
        outbox: Sequence[BusEvent] = (),
        delivery: Delivery | None = None,
        log_failure: bool = False,
        card_attempt: str | None = None,
    ) -> None:
        """Write the entry's next version if nobody changed it meanwhile, in one transaction with
        its audit event, what the change implies (a failure-log row after a failed retry, the
        recovered payment, a reattempt of a card, the recovery counters a recovery or a dismissal
        moves), the events to publish (outbox) and the delivery that caused it.

        StoreConflict("entry") when the stored version is not the one this change started from.
        """
        writes: list[tuple[str, dict[str, Any]]] = [
            ("audit", self._put_new(audit_item(entry, event))),
        ]
        if log_failure:
            expires = timestamps.epoch_seconds(entry.failed_at) + FAILURE_LOG_DAYS * 86400
            writes.append(("failure_log", self._put_new(failure_log_item(entry, expires))))
        if entry.status is Status.RECOVERED:
            writes.append(
                ("payment", self._put_new(recovered_payment_item(entry, entry.updated_at)))
            )
        if card_attempt is not None:
            expires = timestamps.epoch_seconds(entry.updated_at) + CARD_REATTEMPT_DAYS * 86400
            item = card_reattempt_item(entry, card_attempt, expires)
            writes.append(("card_reattempt", self._put_new(item)))
        writes += [("outbox", self._put_new(outbox_item(message))) for message in outbox]
        writes += self._recovery_counters(entry, event)
        if delivery is not None:
            writes.append(("delivery", self._put_new(delivery_item(delivery, entry_id=entry.id))))
        versioned = {
            "Put": {
                "TableName": self._table,
                "Item": to_attributes(entry_item(entry)),
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": to_attributes({":expected": entry.version - 1}),
            }
        }
        transact(
            self._client,
            ["entry"] + [role for role, _ in writes],
            [versioned] + [w for _, w in writes],
        )

    def card_reattempts(self, organization_id: str, card: str, since: str) -> list[str]:
        """One Query of the card's reattempts, their sort keys alone (<requested_at>#…), every
        page: a few dozen at most, since the caps stop them."""
        items = self._query_all(
            KeyConditionExpression="#pk = :pk AND #sk >= :since",
            ProjectionExpression="#sk",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues=to_attributes(
                {":pk": keys.card_reattempts(organization_id, card), ":since": since}
            ),
            ConsistentRead=True,
        )
        return [str(item[keys.SK]).split("#", 1)[0] for item in items]

    def outbox(self, older_than: str) -> list[BusEvent]:
        """Events written but not yet published (a publish that failed after its write)."""
        items = self._query_all(
            KeyConditionExpression="#pk = :pk AND #sk < :before",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues=to_attributes({":pk": keys.OUTBOX, ":before": older_than}),
            ConsistentRead=True,
        )
        return [outbox_from(item) for item in items]

    def published(self, events: Sequence[BusEvent]) -> None:
        for event in events:
            self._client.delete_item(
                TableName=self._table,
                Key=to_attributes({keys.PK: keys.OUTBOX, keys.SK: keys.outbox_sort(event)}),
            )

    def pending_retries(self, requested_before: str) -> list[Entry]:
        """Entries whose retry was requested before the instant: the watchdog's reading."""
        items = self._query_all(
            IndexName=keys.PENDING_INDEX,
            KeyConditionExpression="#ppk = :p AND #psk < :before",
            ExpressionAttributeNames={"#ppk": keys.PENDING_PK, "#psk": keys.PENDING_SK},
            ExpressionAttributeValues=to_attributes(
                {":p": keys.PENDING_PARTITION, ":before": requested_before}
            ),
        )
        return [entry_from(item) for item in items]

    def get(self, organization_id: str, entry_id: str) -> Entry:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_attributes({keys.PK: keys.org(organization_id), keys.SK: keys.entry(entry_id)}),
            ConsistentRead=True,
        )
        if "Item" not in response:
            raise NotFound(f"no transaction {entry_id}")
        return entry_from(from_attributes(response["Item"]))

    def get_with_audit(self, organization_id: str, entry_id: str) -> tuple[Entry, list[AuditEvent]]:
        """The entry and its audit events share a partition and a key prefix: one Query."""
        if not ENTRY_ID.fullmatch(entry_id):
            raise NotFound(f"no transaction {entry_id}")  # and no prefix scan of the partition
        items = self._query_all(
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues=to_attributes(
                {":pk": keys.org(organization_id), ":prefix": keys.entry(entry_id)}
            ),
            ConsistentRead=True,
        )
        entries = [
            entry_from(i) for i in items if i.get("entity") == "entry" and i["id"] == entry_id
        ]
        if not entries:
            raise NotFound(f"no transaction {entry_id}")
        audit = [i for i in items if i.get("entity") == "audit" and i["entry_id"] == entry_id]
        return entries[0], [audit_from(i) for i in audit]

    def list_open(
        self, organization_id: str, where: EntryFilter, limit: int, after: Position | None
    ) -> Page:
        """A Query on the sparse OpenEntries index, newest failure first.

        One more item than the page is read so that the last page says so (next is None).
        Without filters beyond time that is exactly one request.
        """
        request = _open_query(self._table, organization_id, where)
        if after is not None:
            request["ExclusiveStartKey"] = to_attributes(
                {
                    keys.PK: keys.org(organization_id),
                    keys.SK: keys.entry(after.entry_id),
                    keys.OPEN_PK: keys.org(organization_id),
                    keys.OPEN_SK: keys.open_sort(after.failed_at, after.entry_id),
                }
            )
        wanted = limit + 1
        found: list[Entry] = []
        while True:
            request["Limit"] = FILTERED_READ if where.filters_beyond_time else wanted - len(found)
            response = self._client.query(**request)
            found += [entry_from(from_attributes(i)) for i in response["Items"]]
            if len(found) >= wanted or "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        page = found[:limit]
        more = len(found) > limit
        return Page(page, Position(page[-1].failed_at, page[-1].id) if more and page else None)

    def _query_all(self, **request: Any) -> list[dict[str, Any]]:
        return query_all(self._client, self._table, **request)

    def _recovery_counters(
        self, entry: Entry, event: AuditEvent
    ) -> list[tuple[str, dict[str, Any]]]:
        """The day's recovery counters the change moves (domain/recovery.py), added to in the
        change's own transaction: an unconditional Update with ADD."""
        change = recovery.counted(entry, event.action)
        if change is None:
            return []
        update = counter_update(change)
        return [
            (
                "recovery",
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_attributes(update["Key"]),
                        "UpdateExpression": update["UpdateExpression"],
                        "ExpressionAttributeNames": update["ExpressionAttributeNames"],
                        "ExpressionAttributeValues": to_attributes(
                            update["ExpressionAttributeValues"]
                        ),
                    }
                },
            )
        ]

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return put_new(self._table, item)


def query_all(client: Any, table: str, **request: Any) -> list[dict[str, Any]]:
    """Every page of a Query, as plain items."""
    items: list[dict[str, Any]] = []
    while True:
        response = client.query(TableName=table, **request)
        items += [from_attributes(i) for i in response["Items"]]
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def organizations_on(
    client: Any, table: str, index: str, key: tuple[str, str], partitions: list[str]
) -> list[str]:
    """The organizations the index's `partitions` hold, each once, in order: every page of
    each, the sort key (`key`: partition and sort key names) alone projected."""
    partition_key, sort_key = key
    found: dict[str, None] = {}
    for partition in partitions:
        items = query_all(
            client,
            table,
            IndexName=index,
            KeyConditionExpression="#pk = :pk",
            ProjectionExpression="#sk",
            ExpressionAttributeNames={"#pk": partition_key, "#sk": sort_key},
            ExpressionAttributeValues=to_attributes({":pk": partition}),
        )
        for item in items:
            found.setdefault(keys.organization_in(str(item[sort_key])), None)
    return list(found)


def put_new(table: str, item: dict[str, Any]) -> dict[str, Any]:
    """A transaction's Put of an item that must not exist yet."""
    return {
        "Put": {
            "TableName": table,
            "Item": to_attributes(item),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": keys.PK},
        }
    }


def delivery_item(delivery: Delivery, **extra: Any) -> dict[str, Any]:
    """The marker of a webhook delivery that took effect: its webhook-id takes effect once."""
    expires = timestamps.epoch_seconds(delivery.received_at) + DELIVERY_DAYS * 86400
    return {
        keys.PK: keys.delivery(delivery.endpoint, delivery.webhook_id),
        keys.SK: "DELIVERY",
        "entity": "delivery",
        "received_at": delivery.received_at,
        keys.TTL: expires,
        **extra,
    }


def transact(client: Any, roles: list[str], writes: list[dict[str, Any]]) -> None:
    """TransactWriteItems, with DynamoDB's cancellation reasons turned into domain errors:
    DeliveryInFlight for a race with a concurrent transaction, StoreConflict naming the roles
    whose condition failed.

    A transaction cancelled because another one held one of its items (TransactionConflict:
    concurrent changes of one organization meet on its recovery counters, adapters/dynamodb/
    keys.py) applied nothing, so it is sent again, at most CONFLICT_ATTEMPTS times in all,
    after a short random pause; its conditions are checked anew each time."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            client.transact_write_items(TransactItems=writes)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            if "TransactionConflict" in reasons:
                if attempt < CONFLICT_ATTEMPTS:
                    # Jitter, so that the transactions that met do not meet again.
                    time.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311
                    continue
                raise DeliveryInFlight(
                    "a concurrent write of the same items is in flight"
                ) from None
            failed = {
                role
                for role, code in zip(roles, reasons, strict=False)
                if code == "ConditionalCheckFailed"
            }
            if not failed:
                raise
            raise StoreConflict(frozenset(failed)) from None


def _open_query(table: str, organization_id: str, where: EntryFilter) -> dict[str, Any]:
    names = {"#opk": keys.OPEN_PK}
    values: dict[str, Any] = {":org": keys.org(organization_id)}
    key_condition = "#opk = :org"
    if where.failed_from is not None or where.failed_to is not None:
        values[":lo"] = keys.open_sort_lower(where.failed_from or "0000")
        values[":hi"] = keys.open_sort_upper(where.failed_to or "9999")
        names["#osk"] = keys.OPEN_SK
        key_condition += " AND #osk BETWEEN :lo AND :hi"
    conditions: list[str] = []
    for attribute, value in (
        ("status", where.status),
        ("type", where.type),
        ("method", where.method),
        ("holder_id", where.account_holder_id),
    ):
        if value is not None:
            names[f"#{attribute}"] = attribute
            values[f":{attribute}"] = str(value)
            conditions.append(f"#{attribute} = :{attribute}")
    if where.q:
        names |= {"#name": "holder_name_folded", "#pid": "payment_id_folded"}
        values[":q"] = fold(where.q)
        conditions.append("(contains(#name, :q) OR contains(#pid, :q))")
    if where.min_amount is not None:
        names["#amount"] = "amount"
        values[":min"] = where.min_amount
        conditions.append("#amount >= :min")
    if where.max_amount is not None:
        names["#amount"] = "amount"
        values[":max"] = where.max_amount
        conditions.append("#amount <= :max")
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": keys.OPEN_INDEX,
        "KeyConditionExpression": key_condition,
        "ScanIndexForward": False,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_attributes(values),
    }
    if conditions:
        request["FilterExpression"] = " AND ".join(conditions)
    return request
