"""The automatic retry policy's items (adapters/dynamodb/policy_store.py) and the entry's
automatic-retry fields (adapters/dynamodb/items.py), on moto's DynamoDB."""

from dataclasses import replace

import boto3
import pytest

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.items import entry_from, entry_item
from payment_action_center.adapters.dynamodb.policy_store import DynamoRetryPolicyStore
from payment_action_center.adapters.dynamodb.store import from_attributes, to_attributes
from payment_action_center.domain.auto_retry import RetryPolicy
from tests.shared import factories
from tests.shared.moto_aws import TABLE

SAVED = "2026-11-25T10:00:00.000000000Z"
ON = RetryPolicy(True, (2, 9), "07:30", SAVED, "user_1")


@pytest.fixture
def store(aws: dict[str, str]) -> DynamoRetryPolicyStore:
    return DynamoRetryPolicyStore(boto3.client("dynamodb"), TABLE)


def marker(organization_id: str) -> dict[str, object] | None:
    found = boto3.client("dynamodb").get_item(
        TableName=TABLE,
        Key=to_attributes({keys.PK: keys.AUTORETRY, keys.SK: organization_id}),
    )
    return from_attributes(found["Item"]) if "Item" in found else None


def test_absent_is_off_with_the_defaults(store: DynamoRetryPolicyStore) -> None:
    assert store.retry_policy("org_a") == RetryPolicy()
    assert store.policy_and_time_zone("org_a") == (RetryPolicy(), None)


def test_on_writes_the_marker_and_off_deletes_it(store: DynamoRetryPolicyStore) -> None:
    store.save_retry_policy("org_a", ON)
    assert store.retry_policy("org_a") == ON
    assert marker("org_a") is not None and marker("org_a")["visit_at"] == SAVED  # type: ignore[index]
    assert store.policies_due(SAVED) == [("org_a", ON)]
    off = replace(ON, enabled=False, updated_at="2026-11-25T11:00:00.000000000Z")
    store.save_retry_policy("org_a", off)
    assert store.retry_policy("org_a") == off
    assert marker("org_a") is None
    assert store.policies_due("9999-12-31T00:00:00.000000000Z") == []


def test_only_organizations_whose_visit_has_come_are_due(store: DynamoRetryPolicyStore) -> None:
    store.save_retry_policy("org_a", ON)
    store.save_retry_policy("org_b", replace(ON, updated_at="2026-11-25T12:00:00.000000000Z"))
    assert [org for org, _ in store.policies_due("2026-11-25T11:00:00.000000000Z")] == ["org_a"]
    store.visited("org_a", ON, "2026-11-26T12:30:00.000000000Z")
    assert store.policies_due("2026-11-26T12:00:00.000000000Z") == [
        ("org_b", replace(ON, updated_at="2026-11-25T12:00:00.000000000Z"))
    ]


def test_a_visit_does_not_override_a_policy_saved_meanwhile(store: DynamoRetryPolicyStore) -> None:
    store.save_retry_policy("org_a", ON)
    saved_again = replace(ON, days=(1,), updated_at="2026-11-25T10:05:00.000000000Z")
    store.save_retry_policy("org_a", saved_again)
    store.visited("org_a", ON, "2026-11-26T12:30:00.000000000Z")  # read before the save
    assert marker("org_a")["visit_at"] == saved_again.updated_at  # type: ignore[index]
    store.save_retry_policy("org_a", replace(ON, enabled=False))
    store.visited("org_a", saved_again, "2026-11-26T12:30:00.000000000Z")  # turned off since
    assert marker("org_a") is None


def test_the_time_zone_comes_with_the_policy_in_one_request(
    store: DynamoRetryPolicyStore,
) -> None:
    client = boto3.client("dynamodb")
    client.put_item(
        TableName=TABLE,
        Item=to_attributes(
            {keys.PK: keys.org("org_a"), keys.SK: keys.SETTINGS, "time_zone": "Europe/Paris"}
        ),
    )
    store.save_retry_policy("org_a", ON)
    calls: list[str] = []
    store._client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    assert store.policy_and_time_zone("org_a") == (ON, "Europe/Paris")
    assert calls == ["BatchGetItem"]


def test_an_entry_keeps_its_automatic_attempts_first_failure_and_stop() -> None:
    entry = replace(
        factories.entry(),
        auto_attempts=2,
        first_failed_at="2026-11-20T15:00:00.000000000Z",
        auto_stopped="a cap",
    )
    assert entry_from(entry_item(entry)) == entry
    plain = factories.entry()
    item = entry_item(plain)
    assert "first_failed_at" not in item and "auto_stopped" not in item
    del item["auto_attempts"]  # an entry written before the policy existed
    assert entry_from(item) == plain
