"""The DynamoDB BillingStore against DynamoDB Local: condition expressions, transaction
cancellation reasons and request counts are the real ones here."""

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.http.billing_webhook import handle_billing_event
from payment_action_center.domain.errors import DeliveryInFlight
from tests.shared import factories
from tests.shared.billing_contract import BillingStoreContract


@pytest.fixture
def store(dynamodb: tuple[Any, str]) -> DynamoBillingStore:
    client, table = dynamodb
    return DynamoBillingStore(client, table)


class TestDynamoBillingStore(BillingStoreContract):
    pass


def count_requests(store: DynamoBillingStore) -> list[str]:
    calls: list[str] = []
    store._client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    return calls


@pytest.mark.parametrize(
    "body",
    [
        factories.organization_upserted(),
        factories.scheduled_payment_upserted(),
        factories.scheduled_payment_ended(),
    ],
    ids=["organization.upserted", "scheduled_payment.upserted", "scheduled_payment.ended"],
)
def test_an_event_is_one_write_request_whatever_its_outcome(
    store: DynamoBillingStore, body: dict[str, Any]
) -> None:
    calls = count_requests(store)
    assert handle_billing_event(store, factories.billing_delivery("msg_1"), body).outcome == (
        "accepted"
    )
    assert writes(calls) == ["TransactWriteItems"]
    calls.clear()
    # Redelivered, then stale under a new webhook-id: still one write request each.
    handle_billing_event(store, factories.billing_delivery("msg_1"), body)
    stale = body | {"occurred_at": "2026-01-01T00:00:00Z"}
    assert handle_billing_event(store, factories.billing_delivery("msg_2"), stale).outcome == (
        "ignored"
    )
    assert writes(calls) == ["TransactWriteItems", "TransactWriteItems"]


def writes(calls: list[str]) -> list[str]:
    """Scheduled payments and cards are read before they are written (read-modify-write)."""
    return [c for c in calls if c not in ("GetItem", "BatchGetItem")]


def test_a_read_is_one_consistent_get(store: DynamoBillingStore) -> None:
    handle_billing_event(store, factories.billing_delivery(), factories.organization_upserted())
    reads: list[dict[str, Any]] = []
    store._client.meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: reads.append(params)
    )
    calls = count_requests(store)
    assert store.organization("org_demo") is not None
    assert calls == ["GetItem"]
    assert reads[0]["ConsistentRead"] is True


def test_items_and_delivery_marker_are_laid_out_as_the_table_expects(
    store: DynamoBillingStore, dynamodb: tuple[Any, str]
) -> None:
    client, table = dynamodb
    handle_billing_event(
        store, factories.billing_delivery("msg_layout"), factories.organization_upserted()
    )
    handle_billing_event(
        store,
        factories.billing_delivery(),
        factories.scheduled_payment_upserted(data__scheduled_payment_id="sp_layout"),
    )
    items = {(i["pk"]["S"], i["sk"]["S"]): i for i in client.scan(TableName=table)["Items"]}
    assert items[("ORG#org_demo", "SETTINGS")]["entity"]["S"] == "organization"
    assert items[("ORG#org_demo", "SCHEDULED#sp_layout")]["active"]["BOOL"] is True
    marker = items[("DELIVERY#billing#msg_layout", "DELIVERY")]
    assert marker["entity"]["S"] == "delivery"
    received = datetime(2026, 11, 24, 15, 30, 1, tzinfo=UTC)  # the factory's received_at
    assert int(marker["expires_at"]["N"]) == (received + timedelta(days=14)).timestamp()


def test_concurrent_deliveries_of_one_webhook_id_have_one_effect(
    store: DynamoBillingStore,
) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def deliver(number: int) -> None:
        # Each thread sends another name: the one that took effect is the only one stored.
        body = factories.organization_upserted(data__name=f"Centre {number}")
        barrier.wait()
        try:
            result = handle_billing_event(store, factories.billing_delivery("msg_race"), body)
            outcomes.append(f"{result.outcome}:{result.reason or number}")
        except DeliveryInFlight:
            outcomes.append("in_flight")

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    applied = [o for o in outcomes if o.startswith("accepted:") and o[9:].isdigit()]
    assert len(applied) == 1
    assert all(o.startswith("accepted:") or o == "in_flight" for o in outcomes)
    organization = store.organization("org_demo")
    assert organization is not None
    assert organization.name == f"Centre {applied[0][9:]}"
