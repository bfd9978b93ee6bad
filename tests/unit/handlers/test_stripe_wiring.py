"""The functions with Processor=stripe (template.yaml): the API's 409 for an organization without
a Stripe account, the settings each function refuses at cold start, and the processor the retry
worker and the watchdog build (adapters/processors/choice.py)."""

import sys
from types import ModuleType
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.domain.entries import Status
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher
from tests.shared.lambdas import Context, answer, cold_start, http_event
from tests.shared.moto_aws import TABLE

ADMIN = {
    "sub": "user_1",
    "email": "admin@example.com",
    "org_id": "org_demo",
    "groups": "[billing_admin]",
}
DEADLINES = {"PENDING_DEADLINE_CREDIT_CARD_MINUTES": "30", "PENDING_DEADLINE_ECHECK_HOURS": "120"}


@pytest.fixture
def stripe_env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """Processor=stripe as deployed: the key's secret holds a restricted key."""
    arn = boto3.client("secretsmanager").create_secret(
        Name="stripe-key", SecretString="rk_test_unit"
    )["ARN"]
    monkeypatch.setenv("PROCESSOR", "stripe")
    monkeypatch.setenv("STRIPE_API_KEY_SECRET_ARN", arn)
    for name, value in DEADLINES.items():
        monkeypatch.setenv(name, value)
    return arn


def failure() -> str:
    store = DynamoEntryStore(boto3.client("dynamodb"), TABLE)
    result = payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(), factories.payment_failed()
    )
    assert result.entry_id is not None
    return result.entry_id


def upsert_organization(account: str | None) -> None:
    body = factories.organization_upserted(data__processor_account_id=account)
    billing = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    billing_webhook.handle_billing_event(billing, factories.delivery(of=body), body)


def retry(api: ModuleType, entry_id: str) -> tuple[int, Any]:
    event = http_event(
        "POST",
        f"/transactions/{entry_id}/retry",
        route="/transactions/{id}/retry",
        claims=ADMIN,
        path_parameters={"id": entry_id},
    )
    return answer(api.lambda_handler(event, Context()))


def test_a_retry_of_an_organization_without_a_stripe_account_is_a_409_that_says_why(
    stripe_env: str,
) -> None:
    entry_id = failure()
    upsert_organization(None)
    api = cold_start("api")

    status, body = retry(api, entry_id)

    assert status == 409
    assert body["code"] == "conflict"
    assert "processor_account_id" in body["message"]
    entry = DynamoEntryStore(boto3.client("dynamodb"), TABLE).get("org_demo", entry_id)
    assert entry.status is Status.FAILED


def test_a_retry_of_an_organization_with_a_stripe_account_is_accepted(stripe_env: str) -> None:
    entry_id = failure()
    upsert_organization("acct_1OrgDemo")

    status, body = retry(cold_start("api"), entry_id)

    assert (status, body["status"]) == (202, "retry_pending")


def test_the_sandbox_api_does_not_read_the_organization_to_retry(aws: dict[str, str]) -> None:
    entry_id = failure()  # no organization.upserted at all
    status, _ = retry(cold_start("api"), entry_id)
    assert status == 202


@pytest.mark.parametrize("function", ["retry_worker", "retry_watchdog"])
def test_stripe_without_its_key_secret_is_refused_at_cold_start(
    stripe_env: str, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    monkeypatch.delenv("STRIPE_API_KEY_SECRET_ARN")
    with pytest.raises(RuntimeError, match="STRIPE_API_KEY_SECRET_ARN"):
        cold_start(function)


@pytest.mark.parametrize("function", ["retry_worker", "retry_watchdog"])
def test_a_production_key_is_sent_to_stripe_only(
    stripe_env: str, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="STRIPE_API_BASE"):
        cold_start(function)


@pytest.mark.parametrize("function", ["retry_worker", "retry_watchdog"])
def test_stripe_runs_in_prod_and_builds_the_stripe_processor_with_the_secrets_key(
    stripe_env: str, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    module = cold_start(function)

    processor = module.adapters.processor

    assert type(processor).__name__ == "StripeProcessor"
    assert processor._api_key() == "rk_test_unit"


def test_the_sandbox_functions_never_import_the_stripe_sdk(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in DEADLINES.items():
        monkeypatch.setenv(name, value)
    # Put back afterwards (monkeypatch): other tests hold the SDK's classes.
    for name in [m for m in sys.modules if m == "stripe" or m.startswith("stripe.")]:
        monkeypatch.delitem(sys.modules, name)
    for function in ("retry_worker", "retry_watchdog"):
        module = cold_start(function)
        assert type(module.adapters.processor).__name__ == "SandboxProcessor"
    assert "stripe" not in sys.modules
