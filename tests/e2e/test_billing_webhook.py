"""Billing-platform webhooks end to end: signed events POSTed to the local gateway, applied to
DynamoDB Local by the real handler (docs/contract.md §4.1)."""

import uuid

from local import config
from tests.e2e.conftest import PostWebhook
from tests.shared import factories


def new_org() -> str:
    return f"org_{uuid.uuid4().hex[:10]}"


def test_an_organization_upsert_is_accepted(post_webhook: PostWebhook) -> None:
    answer = post_webhook(
        "billing", factories.organization_upserted(data__organization_id=new_org())
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "accepted"}


def test_an_older_event_after_a_newer_one_is_ignored(post_webhook: PostWebhook) -> None:
    org = new_org()
    newer = factories.organization_upserted(
        data__organization_id=org, occurred_at="2026-11-22T10:00:00.000000002Z"
    )
    older = factories.organization_upserted(
        data__organization_id=org, occurred_at="2026-11-22T10:00:00.000000001Z"
    )
    assert post_webhook("billing", newer).json() == {"status": "accepted"}
    answer = post_webhook("billing", older)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"
    assert answer.json()["reason"].startswith("stale: ")


def test_a_scheduled_payment_ended_before_its_upsert_stays_ended(
    post_webhook: PostWebhook,
) -> None:
    org = new_org()
    ended = factories.scheduled_payment_ended(
        data__organization_id=org, data__scheduled_payment_id="sp_e2e"
    )
    upsert = factories.scheduled_payment_upserted(
        data__organization_id=org, data__scheduled_payment_id="sp_e2e"
    )
    assert post_webhook("billing", ended).json() == {"status": "accepted"}
    ignored = post_webhook("billing", upsert).json()
    assert ignored["status"] == "ignored" and ignored["reason"].startswith("stale: ")


def test_redelivery_of_a_webhook_id_answers_accepted(post_webhook: PostWebhook) -> None:
    body = factories.organization_upserted(data__organization_id=new_org())
    webhook_id = f"msg_{uuid.uuid4().hex}"
    first = post_webhook("billing", body, webhook_id=webhook_id)
    again = post_webhook("billing", body, webhook_id=webhook_id)
    assert [first.json(), again.json()] == [{"status": "accepted"}] * 2


def test_an_invalid_event_is_400_with_its_reasons(post_webhook: PostWebhook) -> None:
    body = factories.organization_upserted(
        data__organization_id=new_org(), data__time_zone="America/Atlantis", data__locale="fr"
    )
    answer = post_webhook("billing", body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_payload"
    assert {"data.time_zone", "data.locale"} <= {e["loc"] for e in answer.json()["errors"]}


def test_an_incomplete_card_event_is_400(post_webhook: PostWebhook) -> None:
    body = {
        "type": "card.upserted",
        "occurred_at": "2026-11-22T10:00:00Z",
        "data": {"organization_id": new_org(), "card_id": "card_1"},
    }
    answer = post_webhook("billing", body)
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_payload")


def test_the_payments_secret_is_401_on_the_billing_endpoint(post_webhook: PostWebhook) -> None:
    body = factories.organization_upserted(data__organization_id=new_org())
    answer = post_webhook("billing", body, secret=config.WEBHOOK_SECRETS["payments"])
    assert answer.status_code == 401
    assert answer.json()["code"] == "invalid_signature"
