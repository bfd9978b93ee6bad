"""The retry worker and the watchdog through their real handlers with PROCESSOR=stripe: the
Stripe adapter, built as the functions build it (adapters/processors/choice.py: the key from
Secrets Manager, STRIPE_API_BASE), against the fake Stripe API (local/fake_stripe.py) on loopback;
AWS on moto in-process. The sandbox's counterpart: test_retry_worker_on_sandbox.py."""

from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest

from local import config
from local.fake_stripe import FakeStripe, running
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import billing_webhook
from payment_action_center.domain.entries import Status
from tests.shared import factories
from tests.shared.lambdas import Context, cold_start
from tests.shared.moto_aws import TABLE
from tests.shared.retry_events import pending_retry

ACCOUNT = "acct_1OrgDemo"


@pytest.fixture
def fake(
    aws: dict[str, str], loopback_only: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeStripe]:
    """The fake Stripe API, and the environment the template gives the functions with
    Processor=stripe; org_demo has its connected account."""
    secret = boto3.client("secretsmanager").create_secret(
        Name="stripe-api-key", SecretString=config.STRIPE_API_KEY
    )["ARN"]
    monkeypatch.setenv("PROCESSOR", "stripe")
    monkeypatch.setenv("STRIPE_API_KEY_SECRET_ARN", secret)
    body = factories.organization_upserted(data__processor_account_id=ACCOUNT)
    billing_webhook.handle_billing_event(
        DynamoBillingStore(boto3.client("dynamodb"), TABLE),
        factories.delivery(of=body),
        body,
    )
    with running(FakeStripe(search_lag=0.0, api_key=config.STRIPE_API_KEY)) as served:
        monkeypatch.setenv("STRIPE_API_BASE", served.url)
        yield served


@pytest.fixture
def worker(fake: FakeStripe) -> ModuleType:
    return cold_start("retry_worker")


def store() -> DynamoEntryStore:
    return DynamoEntryStore(boto3.client("dynamodb"), TABLE)


def test_a_retry_with_a_good_card_recovers_with_one_payment_intent(
    worker: ModuleType, fake: FakeStripe
) -> None:
    entry_id, event = pending_retry()
    assert worker.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert store().get("org_demo", entry_id).status is Status.RECOVERED
    [intent] = fake.created("payment_intent")
    assert (intent["_account"], intent["amount"], intent["currency"]) == (ACCOUNT, 12500, "cad")
    assert intent["metadata"]["idempotency_key"] == f"{entry_id}:retry:1"
    assert [(c.method, c.idempotency_key, c.status) for c in fake.calls] == [
        ("POST", f"{entry_id}:retry:1", 200)
    ]


def test_a_declined_card_comes_back_failed(worker: ModuleType) -> None:
    entry_id, event = pending_retry("tok_insufficient_funds")
    worker.lambda_handler(event, Context())
    entry = store().get("org_demo", entry_id)
    assert entry.failure is not None
    assert (entry.status, entry.attempts, entry.failure.code) == (
        Status.FAILED,
        2,
        "insufficient_funds",
    )


def test_no_answer_is_a_batch_item_failure_and_the_retry_stays_pending(
    worker: ModuleType, fake: FakeStripe
) -> None:
    entry_id, event = pending_retry("tok_timeout")
    assert worker.lambda_handler(event, Context()) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert store().get("org_demo", entry_id).status is Status.RETRY_PENDING
    # Redelivered: the worker asks for the status, which Stripe cannot tell either.
    worker.lambda_handler(event, Context())
    assert store().get("org_demo", entry_id).status is Status.RETRY_PENDING
    assert fake.created("payment_intent") == []
    paths = {c.path for c in fake.calls}
    assert paths == {"/v1/payment_intents", "/v1/payment_intents/search"}


def test_a_lost_answer_is_found_on_redelivery_and_never_charged_twice(
    worker: ModuleType, fake: FakeStripe
) -> None:
    fake.hang_seconds = 0.2
    fake.fail_next(3, "timeout")  # the adapter's try and the SDK's two retries
    entry_id, event = pending_retry()
    assert worker.lambda_handler(event, Context()) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert store().get("org_demo", entry_id).status is Status.RETRY_PENDING

    assert worker.lambda_handler(event, Context()) == {"batchItemFailures": []}

    assert store().get("org_demo", entry_id).status is Status.RECOVERED
    assert len(fake.created("payment_intent")) == 1
    creates = [c for c in fake.calls if c.path == "/v1/payment_intents"]
    assert [c.status for c in creates] == [None, None, None]  # found by its status: not resent


def test_a_redelivered_message_after_success_does_nothing(
    worker: ModuleType, fake: FakeStripe
) -> None:
    _, event = pending_retry()
    worker.lambda_handler(event, Context())
    assert worker.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert len(fake.created("payment_intent")) == 1


def test_the_watchdog_flags_a_pending_bank_debit_past_its_deadline(
    worker: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "PENDING_DEADLINE_CREDIT_CARD_MINUTES": "30",
        "PENDING_DEADLINE_ECHECK_HOURS": "120",
    }.items():
        monkeypatch.setenv(name, value)
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
