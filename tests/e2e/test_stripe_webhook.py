"""Stripe's webhook end to end: an organization sent with its Stripe Connect account through
/webhooks/billing, then a Connect event of that account, signed as Stripe signs with the local
stack's Stripe secret, POSTed to /webhooks/stripe through the local gateway, and the entry it
opens listed by GET /transactions (docs/webhooks.md §9)."""

import uuid
from typing import Any

from local import config
from tests.e2e.conftest import Api, MintToken, PostWebhook
from tests.shared import factories
from tests.shared.stripe_signing import (
    as_json,
    documented_metadata,
    event,
    payment_intent,
    stripe_headers,
)


def post_stripe(api: Api, body: dict[str, Any], secret: str = config.STRIPE_WEBHOOK_SECRET) -> Any:
    raw = as_json(body)
    return api.post("/webhooks/stripe", data=raw, headers=stripe_headers(secret, raw))


def organization_with_account(post_webhook: PostWebhook) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    org, account = f"org_{suffix}", f"acct_1E2e{suffix}"
    upserted = factories.organization_upserted(
        data__organization_id=org, data__processor_account_id=account
    )
    answer = post_webhook("billing", upserted)
    assert answer.json() == {"status": "accepted"}, answer.text
    return org, account


def test_a_stripe_failure_of_a_connected_account_shows_in_its_organizations_table(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org, account = organization_with_account(post_webhook)
    intent = payment_intent(metadata=documented_metadata(1, organization_id=org))
    failed = event("payment_intent.payment_failed", intent, account=account)

    answer = post_stripe(api, failed)
    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    [item] = api.get("/transactions", token(org_id=org)).json()["items"]
    assert item["payment_id"] == intent["id"]
    assert (item["type"], item["status"], item["attempts"]) == ("installment", "failed", 1)
    assert (item["amount"], item["currency"]) == (12500, "CAD")
    detail = api.get(f"/transactions/{item['id']}", token(org_id=org)).json()
    assert detail["failure"]["code"] == "insufficient_funds"
    [received] = detail["audit"]
    assert received["detail"]["webhook_id"] == failed["id"]

    # Stripe's retry of the same event: accepted again, no second effect.
    assert post_stripe(api, failed).json() == {"status": "accepted"}
    assert len(api.get("/transactions", token(org_id=org)).json()["items"]) == 1


def test_an_event_of_an_account_no_organization_has_is_ignored_and_a_bad_signature_refused(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org, _ = organization_with_account(post_webhook)
    intent = payment_intent(metadata=documented_metadata(2, organization_id=org))
    stranger = event("payment_intent.payment_failed", intent, account="acct_1E2eNobody")
    answer = post_stripe(api, stranger)
    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")

    forged = post_stripe(api, event("payment_intent.payment_failed", intent), "whsec_forged")
    assert (forged.status_code, forged.json()["code"]) == (401, "invalid_signature")
    assert api.get("/transactions", token(org_id=org)).json()["items"] == []
