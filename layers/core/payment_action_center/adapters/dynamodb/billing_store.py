"""The BillingStore on DynamoDB: organization settings, scheduled payments and cards.

  organization   pk ORG#<org>   sk SETTINGS
  account        pk ACCOUNT#<processor account id>   sk ACCOUNT   (organization_id)
  scheduled pay. pk ORG#<org>   sk SCHEDULED#<scheduled payment id>
  card           pk ORG#<org>   sk CARD#<card id>
                 (+ expiry_pk EXPIRY#<YYYY-MM>#<shard of the org>, expiry_sk <org>#<card id>
                 while it qualifies: the sparse CardsByExpiry index, sharded as keys.py says)

Each change is one TransactWriteItems. An organization: the settings, written only if the recorded
ones are not newer (`state_at` is canonical, so string order is time order), the delivery marker,
and the mapping of its processor account to it when it has one. A card or a scheduled payment:
read-modify-write, driven by the use case (app/billing_events.py): the recorded scheduled payment
and the card records touched are read (consistently, `read_linked`), `domain/billing.py`'s `plan`
says what to write, and the writes (`write_linked`) go with the delivery marker, each conditioned on
the version read: a concurrent change of the same items makes the transaction fail
(DeliveryInFlight, the sender retries). A stale change sends a condition check that fails on the
newer state, so DynamoDB names what failed (the state, the delivery, or both) in one request, as for
organizations.
"""

from collections.abc import Sequence
from typing import Any, Never, assert_never

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.items import payment_method_from, payment_method_item
from payment_action_center.adapters.dynamodb.store import (
    delivery_item,
    from_attributes,
    organizations_on,
    put_new,
    to_attributes,
    transact,
)
from payment_action_center.domain.billing import (
    Card,
    CardDeleted,
    CardRecord,
    Organization,
    Plan,
    ScheduledPayment,
    ScheduledPaymentEnded,
    cards_touched,
    linked_card,
)
from payment_action_center.domain.cards import CardPosition, ExpiringPage, expiring_card
from payment_action_center.domain.entries import AccountHolder, Method, PaymentKind
from payment_action_center.domain.errors import DeliveryInFlight
from payment_action_center.ports import Delivery, LinkedChange, LinkedState, StoreConflict

_NOT_OLDER = "attribute_not_exists(#pk) OR #state_at <= :state_at"


class DynamoBillingStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def organization(self, organization_id: str) -> Organization | None:
        item = self._get(keys.org(organization_id), keys.SETTINGS)
        return None if item is None else organization_from(item)

    def organizations(self, organization_ids: Sequence[str]) -> dict[str, Organization]:
        """The known ones, read in consistent BatchGetItems (`_batch_get`)."""
        items = self._batch_get([(keys.org(org), keys.SETTINGS) for org in organization_ids])
        return {o.id: o for o in map(organization_from, items.values())}

    def scheduled_payment(
        self, organization_id: str, scheduled_payment_id: str
    ) -> ScheduledPayment | None:
        item = self._get(keys.org(organization_id), keys.scheduled_payment(scheduled_payment_id))
        return None if item is None else scheduled_payment_from(item)

    def card(self, organization_id: str, card_id: str) -> CardRecord | None:
        item = self._get(keys.org(organization_id), keys.card(card_id))
        return None if item is None else card_record_from(item)

    def organization_for_account(self, account_id: str) -> Organization | None:
        """Two consistent GetItems: the account's mapping, then the organization it names, kept
        only if that organization still names the account. A mapping left behind when an
        organization moved to another account, or taken over by another organization, is never
        followed to the wrong one."""
        mapping = self._get(keys.processor_account(account_id), keys.ACCOUNT)
        if mapping is None:
            return None
        organization = self.organization(mapping["organization_id"])
        if organization is None or organization.processor_account_id != account_id:
            return None
        return organization

    def save_organization(self, organization: Organization, delivery: Delivery) -> None:
        """One TransactWriteItems: the settings if not older, the delivery marker, and, when the
        settings name a processor account, the account's mapping to the organization: written
        only with the settings (a stale upsert writes neither), never deleted (the lookup checks
        it against the settings)."""
        roles = ["state", "delivery"]
        writes = [
            self._put_if_not_older(organization_item(organization, delivery.received_at)),
            self._delivery_put(delivery),
        ]
        if organization.processor_account_id is not None:
            roles.append("account")
            item = account_item(organization, delivery.received_at)
            writes.append({"Put": {"TableName": self._table, "Item": to_attributes(item)}})
        transact(self._client, roles, writes)

    def expiring(
        self, organization_id: str, month: str, limit: int, after: CardPosition | None
    ) -> ExpiringPage:
        """A Query on CardsByExpiry: the month's shard of the organization, its key prefix. The
        cards found are read again at once (consistent BatchGetItem: the index lags behind the
        table) and kept only if they still qualify for the month, then their scheduled payments
        in one more BatchGetItem. One card more than the page is looked for, so the last page
        says so.
        """
        request = self._expiry_query(month, organization_id, after)
        found = self._still_qualifying(request, month, limit + 1)
        page, more = found[:limit], len(found) > limit
        payment_items = self._batch_get(
            [
                (keys.org(r.organization_id), keys.scheduled_payment(sid))
                for r in page
                for sid in sorted(r.linked_schedules)
            ]
        )
        items = []
        for record in page:
            payments = {
                sid: scheduled_payment_from(item)
                for sid in record.linked_schedules
                if (
                    item := payment_items.get(
                        (keys.org(record.organization_id), keys.scheduled_payment(sid))
                    )
                )
                is not None
            }
            listed = expiring_card(record, month, payments)
            if listed is not None:
                items.append(listed)
        last = page[-1] if more and page else None
        return ExpiringPage(
            items, None if last is None else CardPosition(last.organization_id, last.card_id)
        )

    def organizations_expiring(self, month: str) -> list[str]:
        """Every shard of the month on CardsByExpiry, the sort keys only: no card is read again
        (at 10,000,000 cards the re-reads would take the scan past its timeout, docs/scale.md
        §5)."""
        return organizations_on(
            self._client,
            self._table,
            keys.EXPIRY_INDEX,
            (keys.EXPIRY_PK, keys.EXPIRY_SK),
            [keys.expiry(month, s) for s in keys.every_shard(keys.EXPIRY_SHARDS)],
        )

    def _expiry_query(
        self, month: str, organization_id: str, after: CardPosition | None
    ) -> dict[str, Any]:
        """A Query on the organization's shard of the month: its key prefix, after its card
        `after`."""
        partition = keys.expiry(month, keys.shard(organization_id, keys.EXPIRY_SHARDS))
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": keys.EXPIRY_INDEX,
            "KeyConditionExpression": "#epk = :epk AND begins_with(#esk, :prefix)",
            "ExpressionAttributeNames": {"#epk": keys.EXPIRY_PK, "#esk": keys.EXPIRY_SK},
            "ExpressionAttributeValues": to_attributes(
                {
                    ":epk": partition,
                    ":prefix": keys.expiry_sort_prefix(organization_id),
                }
            ),
        }
        if after is not None:
            request["ExclusiveStartKey"] = to_attributes(
                {
                    keys.PK: keys.org(after.organization_id),
                    keys.SK: keys.card(after.card_id),
                    keys.EXPIRY_PK: partition,
                    keys.EXPIRY_SK: keys.expiry_sort(after.organization_id, after.card_id),
                }
            )
        return request

    def _still_qualifying(
        self, request: dict[str, Any], month: str, wanted: int
    ) -> list[CardRecord]:
        """Up to `wanted` cards of the Query's pages that still qualify for the month, each page's
        cards read again in one consistent BatchGetItem."""
        found: list[CardRecord] = []
        while True:
            request["Limit"] = wanted - len(found)
            response = self._client.query(**request)
            candidates = [from_attributes(i) for i in response["Items"]]
            current = self._batch_get([(i[keys.PK], i[keys.SK]) for i in candidates])
            for candidate in candidates:
                item = current.get((candidate[keys.PK], candidate[keys.SK]))
                if item is not None:
                    record = card_record_from(item)
                    if record.expiry_month == month:
                        found.append(record)
            if len(found) >= wanted or "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def read_linked(self, change: LinkedChange) -> LinkedState:
        """The scheduled payment and card records a change touches, read consistently: one
        BatchGetItem for what the change names (the scheduled payment and its new card, or the
        card); a second one only for a card known from the recorded state alone (the card a
        scheduled payment leaves)."""
        organization_id = change.organization_id
        pk = keys.org(organization_id)
        named: list[str] = []
        match change:
            case Card():
                named = [change.id]
            case CardDeleted():
                named = [change.card_id]
            case ScheduledPayment():
                named = [card_id] if (card_id := linked_card(change)) is not None else []
            case ScheduledPaymentEnded():
                pass
        state_sk = _state_key(change)
        is_payment = isinstance(change, ScheduledPayment | ScheduledPaymentEnded)
        wanted = [(pk, keys.card(card_id)) for card_id in named]
        read = self._batch_get(([(pk, state_sk)] if is_payment else []) + wanted)
        payment_item = read.get((pk, state_sk)) if is_payment else None
        current = None if payment_item is None else scheduled_payment_from(payment_item)
        card_ids = cards_touched(change, current)
        more = [(pk, keys.card(card_id)) for card_id in card_ids if card_id not in named]
        if more:
            read |= self._batch_get(more)
        records = {
            card_id: card_record_from(item)
            if (item := read.get((pk, keys.card(card_id)))) is not None
            else CardRecord.new(organization_id, card_id)
            for card_id in card_ids
        }
        version = None if payment_item is None else int(payment_item.get("version", 0))
        return LinkedState(current, records, version)

    def write_linked(self, planned: Plan, read: LinkedState, delivery: Delivery) -> None:
        """One TransactWriteItems: the new state and the card records touched, each only if
        at the version read, and the delivery marker."""
        updated_at = delivery.received_at
        writes: list[tuple[str, dict[str, Any]]] = []
        if planned.state is not None:
            read_version = read.scheduled_payment_version or 0
            writes.append(
                (
                    "state",
                    self._versioned_put(
                        scheduled_payment_item(planned.state, updated_at)
                        | {"version": read_version + 1},
                        read_version,
                        existed=read.scheduled_payment_version is not None,
                    ),
                )
            )
        for record in planned.cards:
            writes.append(
                (
                    f"card:{record.card_id}",
                    self._versioned_put(
                        card_item(record, updated_at),
                        record.version - 1,
                        existed=record.version > 1,
                    ),
                )
            )
        writes.append(("delivery", self._delivery_put(delivery)))
        try:
            transact(self._client, [role for role, _ in writes], [w for _, w in writes])
        except StoreConflict as conflict:
            if "delivery" in conflict.failed:
                raise StoreConflict(frozenset({"delivery"})) from None
            raise DeliveryInFlight("the state changed since it was read: send it again") from None

    def refuse_stale(self, change: LinkedChange, delivery: Delivery) -> Never:
        """Nothing to write: a condition check that fails on the newer state goes with the
        delivery marker, so DynamoDB names what failed (the state, the delivery, or both)."""
        pk = keys.org(change.organization_id)
        transact(
            self._client,
            ["state", "delivery"],
            [
                self._newer_than(pk, _state_key(change), change.state_at),
                self._delivery_put(delivery),
            ],
        )
        raise StoreConflict(frozenset({"state"}))  # a newer state cannot go away

    def _versioned_put(
        self, item: dict[str, Any], read_version: int, *, existed: bool
    ) -> dict[str, Any]:
        """A Put that applies only if the item is as it was read (absent, or at that version;
        version 0 of an existing item: one written before versions were kept)."""
        names = {"#pk": keys.PK, "#version": "version"}
        values: dict[str, Any] | None = None
        if not existed:
            condition = "attribute_not_exists(#pk)"
            del names["#version"]
        elif read_version == 0:
            condition = "attribute_exists(#pk) AND attribute_not_exists(#version)"
        else:
            condition = "#version = :read"
            del names["#pk"]
            values = to_attributes({":read": read_version})
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_attributes(item),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values is not None:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def _newer_than(self, pk: str, sk: str, state_at: str) -> dict[str, Any]:
        """A check that passes only if the recorded state is not newer than `state_at`."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": to_attributes({keys.PK: pk, keys.SK: sk}),
                "ConditionExpression": "attribute_not_exists(#state_at) OR #state_at <= :state_at",
                "ExpressionAttributeNames": {"#state_at": "state_at"},
                "ExpressionAttributeValues": to_attributes({":state_at": state_at}),
            }
        }

    def _batch_get(self, item_keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """Consistent BatchGetItem, 100 keys a request, unprocessed keys asked again."""
        found: dict[tuple[str, str], Any] = {}
        unique = list(dict.fromkeys(item_keys))
        for start in range(0, len(unique), 100):
            keys_left = [
                to_attributes({keys.PK: pk, keys.SK: sk}) for pk, sk in unique[start : start + 100]
            ]
            while keys_left:
                response = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": keys_left, "ConsistentRead": True}}
                )
                for raw in response["Responses"].get(self._table, []):
                    item = from_attributes(raw)
                    found[(item[keys.PK], item[keys.SK])] = item
                keys_left = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return found

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_attributes({keys.PK: pk, keys.SK: sk}),
            ConsistentRead=True,
        )
        return from_attributes(response["Item"]) if "Item" in response else None

    def _put_if_not_older(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_attributes(item),
                "ConditionExpression": _NOT_OLDER,
                "ExpressionAttributeNames": {"#pk": keys.PK, "#state_at": "state_at"},
                "ExpressionAttributeValues": to_attributes({":state_at": item["state_at"]}),
            }
        }

    def _delivery_put(self, delivery: Delivery) -> dict[str, Any]:
        return put_new(self._table, delivery_item(delivery))


ORGANIZATION = "organization"
PROCESSOR_ACCOUNT = "processor_account"
SCHEDULED_PAYMENT = "scheduled_payment"
CARD = "card"


def organization_item(organization: Organization, updated_at: str) -> dict[str, Any]:
    return {
        keys.PK: keys.org(organization.id),
        keys.SK: keys.SETTINGS,
        "entity": ORGANIZATION,
        "organization_id": organization.id,
        "name": organization.name,
        "billing_contact_email": organization.billing_contact_email,
        "locale": organization.locale,
        "time_zone": organization.time_zone,
        "console_url": organization.console_url,
        "upcoming_payments_url_template": organization.upcoming_payments_url_template,
        "client_url_template": organization.client_url_template,
        "card_update_url_template": organization.card_update_url_template,
        "processor_account_id": organization.processor_account_id,  # None: left out
        "state_at": organization.state_at,
        "updated_at": updated_at,
    }


def account_item(organization: Organization, updated_at: str) -> dict[str, Any]:
    """Which organization a processor account belongs to: what POST /webhooks/stripe routes a
    Connect event (its `account`) by."""
    assert organization.processor_account_id is not None
    return {
        keys.PK: keys.processor_account(organization.processor_account_id),
        keys.SK: keys.ACCOUNT,
        "entity": PROCESSOR_ACCOUNT,
        "organization_id": organization.id,
        "updated_at": updated_at,
    }


def organization_from(item: dict[str, Any]) -> Organization:
    return Organization(
        id=item["organization_id"],
        name=item["name"],
        billing_contact_email=item["billing_contact_email"],
        locale=item["locale"],
        time_zone=item["time_zone"],
        console_url=item["console_url"],
        upcoming_payments_url_template=item["upcoming_payments_url_template"],
        client_url_template=item["client_url_template"],
        card_update_url_template=item["card_update_url_template"],
        state_at=item["state_at"],
        # Absent from settings stored before it existed, or sent without one.
        processor_account_id=item.get("processor_account_id"),
    )


def scheduled_payment_item(payment: ScheduledPayment, updated_at: str) -> dict[str, Any]:
    """None attributes (a tombstone's details) are left out by to_attributes."""
    holder, method = payment.account_holder, payment.payment_method
    return {
        keys.PK: keys.org(payment.organization_id),
        keys.SK: keys.scheduled_payment(payment.id),
        "entity": SCHEDULED_PAYMENT,
        "organization_id": payment.organization_id,
        "id": payment.id,
        "kind": None if payment.kind is None else payment.kind.value,
        "account_holder": None
        if holder is None
        else {"id": holder.id, "name": holder.name, "email": holder.email},
        "payment_method": None if method is None else payment_method_item(method),
        "method": None if payment.method is None else payment.method.value,
        "next_payment_at": payment.next_payment_at,
        "amount": payment.amount,
        "currency": payment.currency,
        "active": payment.active,
        "state_at": payment.state_at,
        "updated_at": updated_at,
    }


def scheduled_payment_from(item: dict[str, Any]) -> ScheduledPayment:
    holder, method = item.get("account_holder"), item.get("payment_method")
    return ScheduledPayment(
        organization_id=item["organization_id"],
        id=item["id"],
        kind=PaymentKind(item["kind"]) if "kind" in item else None,
        account_holder=None
        if holder is None
        else AccountHolder(holder["id"], holder["name"], holder["email"]),
        payment_method=None if method is None else payment_method_from(method),
        method=Method(item["method"]) if "method" in item else None,
        next_payment_at=item.get("next_payment_at"),
        amount=int(item["amount"]) if "amount" in item else None,
        currency=item.get("currency"),
        active=bool(item["active"]),
        state_at=item["state_at"],
    )


def card_item(record: CardRecord, updated_at: str) -> dict[str, Any]:
    """The card record; it carries the CardsByExpiry keys only while the card qualifies.
    An empty set of links is left out (DynamoDB has no empty sets), as are unknown details."""
    card = record.card
    month = record.expiry_month
    item: dict[str, Any] = {
        keys.PK: keys.org(record.organization_id),
        keys.SK: keys.card(record.card_id),
        "entity": CARD,
        "organization_id": record.organization_id,
        "card_id": record.card_id,
        "linked_schedules": set(record.linked_schedules) or None,
        "version": record.version,
        "updated_at": updated_at,
    }
    if card is not None:
        holder = card.account_holder
        item |= {
            "account_holder": None
            if holder is None
            else {"id": holder.id, "name": holder.name, "email": holder.email},
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "in_wallet": card.in_wallet,
            "deleted": card.deleted,
            "state_at": card.state_at,
        }
    if month is not None:
        item[keys.EXPIRY_PK] = keys.expiry(
            month, keys.shard(record.organization_id, keys.EXPIRY_SHARDS)
        )
        item[keys.EXPIRY_SK] = keys.expiry_sort(record.organization_id, record.card_id)
    return item


def card_record_from(item: dict[str, Any]) -> CardRecord:
    card: Card | None = None
    if "state_at" in item:
        holder = item.get("account_holder")
        card = Card(
            organization_id=item["organization_id"],
            id=item["card_id"],
            account_holder=None
            if holder is None
            else AccountHolder(holder["id"], holder["name"], holder["email"]),
            brand=item.get("brand"),
            last4=item.get("last4"),
            exp_month=int(item["exp_month"]) if "exp_month" in item else None,
            exp_year=int(item["exp_year"]) if "exp_year" in item else None,
            in_wallet=bool(item["in_wallet"]),
            deleted=bool(item["deleted"]),
            state_at=item["state_at"],
        )
    return CardRecord(
        organization_id=item["organization_id"],
        card_id=item["card_id"],
        card=card,
        linked_schedules=frozenset(item.get("linked_schedules", ())),
        version=int(item["version"]),
    )


def _state_key(change: LinkedChange) -> str:
    """The sort key of the state a change replaces."""
    match change:
        case Card():
            return keys.card(change.id)
        case CardDeleted():
            return keys.card(change.card_id)
        case ScheduledPayment():
            return keys.scheduled_payment(change.id)
        case ScheduledPaymentEnded():
            return keys.scheduled_payment(change.scheduled_payment_id)
        case _:
            assert_never(change)
