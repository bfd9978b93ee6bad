"""POST /webhooks/billing through the real handler, on moto."""

from types import ModuleType
from typing import Any

import pytest

from tests.shared import factories
from tests.shared.lambdas import as_json, cold_start
from tests.shared.moto_aws import BILLING_SECRET, PAYMENTS_SECRET
from tests.unit.handlers.test_webhooks import deliver, table_items


@pytest.fixture
def webhooks(aws: dict[str, str]) -> ModuleType:
    return cold_start("webhooks")


def send(
    fn: ModuleType, body: dict[str, Any] | bytes, webhook_id: str = "msg_1", **kwargs: Any
) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else as_json(body)
    return deliver(
        fn,
        raw,
        webhook_id=webhook_id,
        path="/webhooks/billing",
        secret=kwargs.pop("secret", BILLING_SECRET),
        **kwargs,
    )


def test_an_organization_upsert_is_accepted_and_stored(webhooks: ModuleType) -> None:
    assert send(webhooks, factories.organization_upserted()) == (200, {"status": "accepted"})
    settings = webhooks.adapters.billing.organization("org_demo")
    assert settings.time_zone == "America/Toronto"
    assert settings.upcoming_payments_url("ah 1") == (
        "https://plateforme.example/centre-demo/clients/ah%201/paiements-a-venir"
    )
    assert sorted(i["entity"]["S"] for i in table_items()) == ["delivery", "organization"]


def test_an_organizations_processor_account_is_stored_with_its_settings(
    webhooks: ModuleType,
) -> None:
    account = "acct_" + "A1" * 32  # the longest Stripe-like id the pattern takes
    body = factories.organization_upserted(data__processor_account_id=account)
    assert send(webhooks, body) == (200, {"status": "accepted"})
    assert webhooks.adapters.billing.organization("org_demo").processor_account_id == account
    [stored] = [i for i in table_items() if i["entity"]["S"] == "organization"]
    assert stored["processor_account_id"] == {"S": account}


def test_an_organization_without_a_processor_account_stores_none(webhooks: ModuleType) -> None:
    body = factories.organization_upserted(data__processor_account_id=None)
    assert send(webhooks, body) == (200, {"status": "accepted"})
    assert webhooks.adapters.billing.organization("org_demo").processor_account_id is None
    assert all("processor_account_id" not in item for item in table_items())


@pytest.mark.parametrize(
    "body",
    [
        factories.organization_upserted(),
        factories.scheduled_payment_upserted(),
        factories.scheduled_payment_ended(),
    ],
    ids=["organization.upserted", "scheduled_payment.upserted", "scheduled_payment.ended"],
)
def test_a_billing_event_costs_one_write_request(
    webhooks: ModuleType, body: dict[str, Any]
) -> None:
    calls: list[str] = []
    client = webhooks.adapters.billing._client
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    assert send(webhooks, body) == (200, {"status": "accepted"})
    # Scheduled payments are read first (their cards' index entries depend on them).
    assert [c for c in calls if c not in ("GetItem", "BatchGetItem")] == ["TransactWriteItems"]


def test_a_stale_event_answers_ignored_and_changes_nothing(webhooks: ModuleType) -> None:
    newer = factories.organization_upserted(occurred_at="2026-11-22T00:00:00Z", data__name="B")
    send(webhooks, newer, webhook_id="msg_newer")
    before = table_items()
    older = factories.organization_upserted(occurred_at="2026-11-21T00:00:00Z", data__name="A")
    status, answer = send(webhooks, older, webhook_id="msg_older")
    assert (status, answer["status"]) == (200, "ignored")
    assert answer["reason"] == (
        "stale: a state newer than 2026-11-21T00:00:00.000000000Z is recorded"
    )
    assert table_items() == before


def test_an_end_then_an_older_upsert_stays_ended(webhooks: ModuleType) -> None:
    ended = factories.scheduled_payment_ended(data__scheduled_payment_id="sp_1")
    upsert = factories.scheduled_payment_upserted(
        occurred_at="2026-11-20T00:00:00Z", data__scheduled_payment_id="sp_1"
    )
    assert send(webhooks, ended, webhook_id="msg_end") == (200, {"status": "accepted"})
    status, answer = send(webhooks, upsert, webhook_id="msg_up")
    assert (status, answer["status"]) == (200, "ignored")
    assert answer["reason"].startswith("stale: ")
    assert webhooks.adapters.billing.scheduled_payment("org_demo", "sp_1").active is False


def test_redelivery_of_a_webhook_id_answers_200_and_changes_nothing(webhooks: ModuleType) -> None:
    body = factories.scheduled_payment_upserted()
    send(webhooks, body, webhook_id="msg_again")
    before = table_items()
    assert send(webhooks, body, webhook_id="msg_again") == (200, {"status": "accepted"})
    assert table_items() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", None),
        (b'"a string"', None),
        (as_json(factories.organization_upserted(data__time_zone="Mars/Base")), "data.time_zone"),
        (as_json(factories.organization_upserted(data__locale="en-US")), "data.locale"),
        (
            as_json(
                factories.organization_upserted(
                    data__client_url_template="https://p.example/clients"
                )
            ),
            "data.client_url_template",
        ),
        *[
            (
                as_json(factories.organization_upserted(data__processor_account_id=account)),
                "data.processor_account_id",
            )
            for account in ["acct_", "acct_1-2", "ACCT_1", "ca_1", "acct_" + "a" * 65, 42]
        ],
        (as_json(factories.scheduled_payment_upserted(data__amount=12.5)), "data.amount"),
        (as_json(factories.scheduled_payment_upserted(data__currency="cad")), "data.currency"),
    ],
)
def test_a_billing_event_that_does_not_validate_is_400_with_reasons(
    webhooks: ModuleType, body: bytes, field: str | None
) -> None:
    status, answer_body = send(webhooks, body)
    assert status == 400
    assert answer_body["code"] == "invalid_payload"
    if field:
        assert field in [e["loc"] for e in answer_body["errors"]]
    assert table_items() == []


def test_unknown_types_are_ignored_naming_the_known_types(webhooks: ModuleType) -> None:
    body = {"type": "card.updated", "occurred_at": "2026-11-24T10:00:00Z", "data": {}}
    assert send(webhooks, body) == (
        200,
        {
            "status": "ignored",
            "reason": "unknown event type 'card.updated'",
            "known_types": [
                "card.deleted",
                "card.upserted",
                "organization.upserted",
                "scheduled_payment.ended",
                "scheduled_payment.upserted",
            ],
        },
    )
    assert table_items() == []


def test_a_payment_event_on_the_billing_endpoint_is_ignored_as_unknown(
    webhooks: ModuleType,
) -> None:
    status, answer = send(webhooks, factories.payment_failed())
    assert (status, answer["status"]) == (200, "ignored")
    assert answer["reason"] == "unknown event type 'payment.failed'"
    assert "payment.failed" not in answer["known_types"]
    assert table_items() == []


@pytest.mark.parametrize("event_type", ["card.upserted", "card.deleted"])
def test_an_incomplete_card_event_is_400(webhooks: ModuleType, event_type: str) -> None:
    body = {"type": event_type, "occurred_at": "2026-11-24T10:00:00Z", "data": {}}
    assert send(webhooks, body)[0] == 400
    assert table_items() == []


def test_the_payments_secret_is_refused_on_the_billing_endpoint(webhooks: ModuleType) -> None:
    status, answer_body = send(webhooks, factories.organization_upserted(), secret=PAYMENTS_SECRET)
    assert status == 401
    assert answer_body["code"] == "invalid_signature"
    assert table_items() == []


def test_the_billing_secret_is_refused_on_the_payments_endpoint(webhooks: ModuleType) -> None:
    body = as_json(factories.payment_failed())
    assert deliver(webhooks, body, secret=BILLING_SECRET)[0] == 401
