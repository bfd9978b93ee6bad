"""The BillingStore on DynamoDB: organization settings and scheduled payments.

  organization   pk ORG#<org>   sk SETTINGS
  scheduled pay. pk ORG#<org>   sk SCHEDULED#<scheduled payment id>

Each change is one TransactWriteItems: the state, written only if the recorded one is not newer
(`state_at` is canonical, so string order is time order), and the delivery marker.
"""

from collections.abc import Sequence
from typing import Any, assert_never

from payment_action_center.billing import (
    BillingChange,
    Organization,
    ScheduledPayment,
    ScheduledPaymentEnded,
)
from payment_action_center.dynamodb import keys
from payment_action_center.dynamodb.store import (
    delivery_item,
    from_attributes,
    put_new,
    to_attributes,
    transact,
)
from payment_action_center.model import AccountHolder, Method, PaymentKind, PaymentMethod
from payment_action_center.ports import Delivery

_NOT_OLDER = "attribute_not_exists(#pk) OR #state_at <= :state_at"


class DynamoBillingStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def organization(self, organization_id: str) -> Organization | None:
        item = self._get(keys.org(organization_id), keys.SETTINGS)
        return None if item is None else organization_from(item)

    def organizations(self, organization_ids: Sequence[str]) -> dict[str, Organization]:
        """BatchGetItem, 100 keys a request, unprocessed keys asked again."""
        found: dict[str, Organization] = {}
        ids = list(dict.fromkeys(organization_ids))
        for start in range(0, len(ids), 100):
            keys_left = [
                to_attributes({keys.PK: keys.org(org), keys.SK: keys.SETTINGS})
                for org in ids[start : start + 100]
            ]
            while keys_left:
                response = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": keys_left, "ConsistentRead": True}}
                )
                for raw in response["Responses"].get(self._table, []):
                    organization = organization_from(from_attributes(raw))
                    found[organization.id] = organization
                keys_left = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return found

    def scheduled_payment(
        self, organization_id: str, scheduled_payment_id: str
    ) -> ScheduledPayment | None:
        item = self._get(keys.org(organization_id), keys.scheduled_payment(scheduled_payment_id))
        return None if item is None else scheduled_payment_from(item)

    def apply(self, change: BillingChange, delivery: Delivery) -> None:
        """One TransactWriteItems: the state if not older, and the delivery marker."""
        transact(
            self._client,
            ["state", "delivery"],
            [self._state_write(change, delivery.received_at), self._delivery_put(delivery)],
        )

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_attributes({keys.PK: pk, keys.SK: sk}),
            ConsistentRead=True,
        )
        return from_attributes(response["Item"]) if "Item" in response else None

    def _state_write(self, change: BillingChange, updated_at: str) -> dict[str, Any]:
        match change:
            case Organization():
                return self._put_if_not_older(organization_item(change, updated_at))
            case ScheduledPayment():
                return self._put_if_not_older(scheduled_payment_item(change, updated_at))
            case ScheduledPaymentEnded():
                return self._end(change, updated_at)
            case _:
                assert_never(change)

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

    def _end(self, ended: ScheduledPaymentEnded, updated_at: str) -> dict[str, Any]:
        """An update, not a put: what was known stays; unknown, a tombstone is created."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_attributes(
                    {
                        keys.PK: keys.org(ended.organization_id),
                        keys.SK: keys.scheduled_payment(ended.scheduled_payment_id),
                    }
                ),
                "UpdateExpression": (
                    "SET #entity = :entity, #org = :org, #id = :id, #active = :inactive,"
                    " #state_at = :state_at, #updated_at = :updated_at"
                ),
                "ConditionExpression": _NOT_OLDER,
                "ExpressionAttributeNames": {
                    "#pk": keys.PK,
                    "#entity": "entity",
                    "#org": "organization_id",
                    "#id": "id",
                    "#active": "active",
                    "#state_at": "state_at",
                    "#updated_at": "updated_at",
                },
                "ExpressionAttributeValues": to_attributes(
                    {
                        ":entity": SCHEDULED_PAYMENT,
                        ":org": ended.organization_id,
                        ":id": ended.scheduled_payment_id,
                        ":inactive": False,
                        ":state_at": ended.state_at,
                        ":updated_at": updated_at,
                    }
                ),
            }
        }

    def _delivery_put(self, delivery: Delivery) -> dict[str, Any]:
        return put_new(self._table, delivery_item(delivery))


ORGANIZATION = "organization"
SCHEDULED_PAYMENT = "scheduled_payment"


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
        "state_at": organization.state_at,
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
        "payment_method": None
        if method is None
        else {
            k: v
            for k, v in {
                "token": method.token,
                "card_id": method.card_id,
                "brand": method.brand,
                "last4": method.last4,
            }.items()
            if v is not None
        },
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
        payment_method=None
        if method is None
        else PaymentMethod(
            method["token"], method.get("card_id"), method.get("brand"), method.get("last4")
        ),
        method=Method(item["method"]) if "method" in item else None,
        next_payment_at=item.get("next_payment_at"),
        amount=int(item["amount"]) if "amount" in item else None,
        currency=item.get("currency"),
        active=bool(item["active"]),
        state_at=item["state_at"],
    )
