"""GET and PUT /retry-policy through the real handler, and `next_automatic_retry_at` on the
entries of GET /transactions and GET /transactions/{id}, with the DynamoDB requests they cost."""

import json
from collections import Counter
from types import ModuleType
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.http import billing_webhook
from payment_action_center.domain import timestamps
from tests.shared import factories
from tests.shared.lambdas import Context, answer, cold_start, http_event
from tests.shared.moto_aws import TABLE
from tests.unit.handlers.test_api import failure

ADMIN = {
    "sub": "user_1",
    "email": "admin@example.com",
    "org_id": "org_demo",
    "groups": "[billing_admin]",
}
MEMBER = ADMIN | {"sub": "user_2", "groups": "[]"}


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    body = factories.organization_upserted()  # org_demo, America/Toronto
    billing = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    billing_webhook.handle_billing_event(billing, factories.delivery(of=body), body)
    return cold_start("api")


def call(
    api: ModuleType, method: str, path: str, body: Any = None, claims: dict[str, str] = ADMIN
) -> tuple[int, Any]:
    raw = None if body is None else json.dumps(body)
    event = http_event(method, path, body=raw, claims=claims)
    return answer(api.lambda_handler(event, Context()))


def test_off_until_a_billing_admin_turns_it_on(api: ModuleType) -> None:
    assert call(api, "GET", "/retry-policy") == (
        200,
        {"enabled": False, "days": [1, 3, 7, 14], "local_time": "09:00", "updated_at": None},
    )
    status, body = call(api, "PUT", "/retry-policy", {"enabled": True}, claims=MEMBER)
    assert (status, body["code"]) == (403, "forbidden")
    status, saved = call(api, "PUT", "/retry-policy", {"enabled": True, "local_time": "08:15"})
    assert status == 200
    assert (saved["enabled"], saved["days"], saved["local_time"]) == (True, [1, 3, 7, 14], "08:15")
    assert saved["updated_at"].endswith("Z")
    assert call(api, "GET", "/retry-policy") == (200, saved)
    # Readable by any member.
    assert call(api, "GET", "/retry-policy", claims=MEMBER) == (200, saved)


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"enabled": True, "days": [3, 1]}, 400, "days"),
        ({"enabled": True, "days": []}, 400, "days"),
        ({"enabled": True, "days": [1, 2, 3, 4, 5, 6, 7]}, 400, "days"),
        ({"enabled": True, "days": [0]}, 400, "days"),
        ({"enabled": True, "days": [61]}, 400, "days"),
        ({"enabled": True, "local_time": "9:00"}, 400, "local_time"),
        ({"enabled": True, "local_time": "25:00"}, 400, "local_time"),
        ({"enabled": "yes"}, 422, "enabled"),
        ({"enabled": True, "days": ["1"]}, 422, "days"),
        ({"enabled": True, "weekends": False}, 422, "weekends"),
        ({}, 422, "enabled"),
    ],
)
def test_a_policy_that_breaks_a_rule_is_refused_and_changes_nothing(
    api: ModuleType, body: dict[str, Any], status: int, where: str
) -> None:
    refused, answered = call(api, "PUT", "/retry-policy", body)
    assert refused == status, answered
    assert where in json.dumps(answered["errors"])
    assert call(api, "GET", "/retry-policy")[1]["enabled"] is False


def requests_counted(api: ModuleType) -> Counter[str]:
    """Every DynamoDB request the API's client makes, by operation (a botocore hook)."""
    counted: Counter[str] = Counter()
    api.transactions.adapters.entries._client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: counted.update([model.name])
    )
    return counted


def test_entries_show_the_next_automatic_retry_for_one_more_read(
    api: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The views' clock, the day of the failures: day 1 is ahead (later, missed attempts are
    # skipped: tests/unit/domain/test_auto_retry.py).
    monkeypatch.setattr(timestamps, "now", lambda: "2026-11-24T16:00:00.000000000Z")
    soft = failure()  # card_declined at 2026-11-24T15:30Z: day 1 is the 25th, 09:00 Toronto
    hard = failure(data__failure={"code": "stolen_card", "message": ""})
    counted = requests_counted(api)
    status, page = call(api, "GET", "/transactions")
    assert status == 200
    assert {i["id"]: i["next_automatic_retry_at"] for i in page["items"]} == {
        soft: None,
        hard: None,
    }
    assert counted == {"Query": 1, "BatchGetItem": 1}
    call(api, "PUT", "/retry-policy", {"enabled": True})
    counted.clear()
    status, page = call(api, "GET", "/transactions")
    assert {i["id"]: i["next_automatic_retry_at"] for i in page["items"]} == {
        soft: "2026-11-25T14:00:00Z",
        hard: None,
    }
    assert counted == {"Query": 1, "BatchGetItem": 1}
    status, one = call(api, "GET", f"/transactions/{soft}")
    assert (status, one["next_automatic_retry_at"]) == (200, "2026-11-25T14:00:00Z")


def test_a_page_with_nothing_to_retry_automatically_reads_no_policy(
    api: ModuleType,
) -> None:
    call(api, "PUT", "/retry-policy", {"enabled": True})
    failure(data__failure={"code": "stolen_card", "message": ""})
    counted = requests_counted(api)
    status, page = call(api, "GET", "/transactions")
    assert status == 200 and page["items"][0]["next_automatic_retry_at"] is None
    assert counted == {"Query": 1}
