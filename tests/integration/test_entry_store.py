"""The DynamoDB EntryStore against DynamoDB Local (AWS's own engine): reserved words, key and
expression errors, transaction semantics and request counts are the real ones here."""

import threading
from typing import Any

import pytest

from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from payment_action_center.app import results
from payment_action_center.domain.errors import DeliveryInFlight
from payment_action_center.domain.listing import EntryFilter
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher
from tests.shared.store_contract import StoreContract


@pytest.fixture
def store(dynamodb: tuple[Any, str]) -> DynamoEntryStore:
    client, table = dynamodb
    return DynamoEntryStore(client, table)


class TestDynamoEntryStore(StoreContract):
    pass


def count_requests(store: DynamoEntryStore) -> list[str]:
    calls: list[str] = []
    store._client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    return calls


def test_a_new_failure_is_one_write_request_and_a_page_is_one_query(
    store: DynamoEntryStore,
) -> None:
    for day in range(1, 10):
        payment_webhook.handle_payment_event(
            store,
            RecordingPublisher(),
            factories.delivery(),
            factories.payment_failed(occurred_at=f"2026-11-{day:02d}T01:00:00Z"),
        )
    calls = count_requests(store)
    result = payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(), factories.payment_failed()
    )
    assert result.outcome is results.Outcome.ACCEPTED
    assert calls == ["TransactWriteItems"]

    calls.clear()
    page = store.list_open("org_demo", EntryFilter(), 5, None)
    assert len(page.entries) == 5 and page.next is not None
    assert calls == ["Query"]

    calls.clear()
    store.list_open("org_demo", EntryFilter(failed_from="2026-11-03T00:00:00.000000000Z"), 50, None)
    assert calls == ["Query"]


def test_concurrent_deliveries_of_one_webhook_id_have_one_effect(store: DynamoEntryStore) -> None:
    body = factories.payment_failed()
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        try:
            outcomes.append(
                payment_webhook.handle_payment_event(
                    store, RecordingPublisher(), factories.delivery("msg_race"), body
                ).outcome
            )
        except DeliveryInFlight:
            outcomes.append("in_flight")

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes) <= {"accepted", "in_flight"}
    assert "accepted" in outcomes
    assert len(store.list_open("org_demo", EntryFilter(), 50, None).entries) == 1


def test_the_failure_log_row_is_written_with_the_entry(
    store: DynamoEntryStore, dynamodb: tuple[Any, str]
) -> None:
    client, table = dynamodb
    payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(), factories.payment_failed()
    )
    rows = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "ORG#org_demo#FAILURES"}},
    )["Items"]
    assert len(rows) == 1
    assert rows[0]["holder_name"]["S"] == "Éloïse Tremblay"
    assert "expires_at" in rows[0]
