"""The retry worker and the watchdog through their real handlers, on moto with the sandbox."""

import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from local.sandbox import SandboxLedger
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.domain.entries import Caller, Status
from tests.shared.lambdas import Context, cold_start
from tests.shared.moto_aws import TABLE
from tests.shared.retry_events import pending_retry, sqs_event

ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))


@pytest.fixture
def worker(aws: dict[str, str]) -> ModuleType:
    return cold_start("retry_worker")


def store() -> DynamoEntryStore:
    return DynamoEntryStore(boto3.client("dynamodb"), TABLE)


def charges() -> list[dict[str, Any]]:
    """The calls the sandbox received, as GET /_local/sandbox/charges lists them."""
    return SandboxLedger(boto3.client("dynamodb"), TABLE).calls()


def test_a_retry_with_a_good_card_recovers_with_one_charge(worker: ModuleType) -> None:
    entry_id, event = pending_retry()
    assert worker.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert store().get("org_demo", entry_id).status is Status.RECOVERED
    [charge] = charges()
    assert charge == {
        "operation": "charge",
        "token": "tok_success",
        "amount": 12500,
        "currency": "CAD",
        "idempotency_key": f"{entry_id}:retry:1",
        "outcome": "succeeded",
    }


def test_a_declined_card_comes_back_failed(worker: ModuleType) -> None:
    entry_id, event = pending_retry("tok_card_declined")
    worker.lambda_handler(event, Context())
    entry = store().get("org_demo", entry_id)
    assert (entry.status, entry.attempts, entry.failure.code) == (Status.FAILED, 2, "card_declined")


def test_a_timeout_is_a_batch_item_failure_and_the_retry_stays_pending(worker: ModuleType) -> None:
    entry_id, event = pending_retry("tok_timeout")
    assert worker.lambda_handler(event, Context()) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert store().get("org_demo", entry_id).status is Status.RETRY_PENDING
    # Redelivered: the worker asks for the status, and never charges twice.
    worker.lambda_handler(event, Context())
    assert [c["outcome"] for c in charges()] == ["timeout"]
    assert store().get("org_demo", entry_id).status is Status.RETRY_PENDING


def test_a_redelivered_message_after_success_does_nothing(worker: ModuleType) -> None:
    _, event = pending_retry()
    worker.lambda_handler(event, Context())
    assert worker.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert len(charges()) == 1


def test_one_bad_message_does_not_fail_the_batch(worker: ModuleType) -> None:
    entry_id, good = pending_retry()
    event = sqs_event(good["Records"][0]["body"], "not json")
    assert worker.lambda_handler(event, Context()) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }
    assert store().get("org_demo", entry_id).status is Status.RECOVERED


def test_the_watchdog_flags_a_pending_echeck_past_its_deadline(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "PENDING_DEADLINE_CREDIT_CARD_MINUTES": "30",
        "PENDING_DEADLINE_ECHECK_HOURS": "120",
    }.items():
        monkeypatch.setenv(name, value)
    worker = cold_start("retry_worker")
    watchdog = cold_start("retry_watchdog")
    entry_id, event = pending_retry(
        "tok_echeck_pending", data__method="echeck", data__kind="subscription"
    )
    worker.lambda_handler(event, Context())
    assert store().get("org_demo", entry_id).retry.awaiting == "pending"
    assert watchdog.lambda_handler({"scheduled_time": "2099-01-01T00:00:00Z"}, Context()) == {
        "now": "2099-01-01T00:00:00Z",
        "flagged": 1,
    }
    entry = store().get("org_demo", entry_id)
    assert entry.status is Status.RETRY_PENDING and entry.retry.needs_attention
    assert json.loads(json.dumps(watchdog.lambda_handler({}, Context())))["now"]
