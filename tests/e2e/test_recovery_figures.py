"""GET /metrics/recovery over HTTP on the local stack (docs/contract.md §4.2): failures by
webhook, retries through the queue, the worker and the sandbox processor, an e-check settled by
the sandbox's webhook, a scheduled payment's method changed before its retry, a dismissal; then
the figures, exact."""

import uuid
from typing import Any

from tests.e2e.conftest import Api, MintToken, PostWebhook, WaitForQueues
from tests.shared import factories


def fail(
    post_webhook: PostWebhook, api: Api, jwt: str, org: str, token: str, amount: int, **more: Any
) -> tuple[str, dict[str, Any]]:
    body = factories.payment_failed(
        data__organization_id=org,
        data__payment_method={"token": token, "card_id": f"card_{uuid.uuid4().hex[:8]}"},
        data__amount=amount,
        data__invoice_items=[{"invoice_id": "inv_1", "item_id": "item_1", "amount": amount}],
        **more,
    )
    assert post_webhook("payments", body).json() == {"status": "accepted"}
    items = api.get("/transactions", jwt, params={"q": body["data"]["payment_id"]}).json()["items"]
    return str(items[0]["id"]), body


def test_a_month_of_failures_retries_and_dismissals_gives_exact_figures(
    api: Api, token: MintToken, post_webhook: PostWebhook, queues_idle: WaitForQueues
) -> None:
    org = f"org_{uuid.uuid4().hex[:10]}"
    jwt = token(org_id=org)
    recovers, _ = fail(post_webhook, api, jwt, org, "tok_success", 12500)
    declines, _ = fail(post_webhook, api, jwt, org, "tok_card_declined", 5000)
    changed, body = fail(post_webhook, api, jwt, org, "tok_card_declined", 7000)
    echeck, _ = fail(
        post_webhook,
        api,
        jwt,
        org,
        "tok_echeck_pending",
        3000,
        data__method="echeck",
        data__kind="subscription",
    )
    dismissed, _ = fail(post_webhook, api, jwt, org, "tok_card_declined", 2000)
    # The customer saves a card that works on the failed installment's scheduled payment.
    new_method = factories.scheduled_payment_upserted(
        occurred_at="2026-11-25T12:00:00Z",
        data__organization_id=org,
        data__scheduled_payment_id=body["data"]["scheduled_payment_id"],
        data__payment_method={"token": "tok_success", "card_id": "card_new"},
    )
    assert post_webhook("billing", new_method).json() == {"status": "accepted"}
    for entry_id in (recovers, declines, changed, echeck):
        assert api.post(f"/transactions/{entry_id}/retry", jwt).status_code == 202
    assert api.post(f"/transactions/{dismissed}/dismiss", jwt, json={}).status_code == 200
    queues_idle()
    assert api.settle(echeck, "succeeded").status_code == 200
    statuses = {
        i: api.get(f"/transactions/{i}", jwt).json()["status"]
        for i in (recovers, declines, changed, echeck, dismissed)
    }
    assert statuses == {
        recovers: "recovered",
        declines: "failed",
        changed: "recovered",
        echeck: "recovered",
        dismissed: "dismissed",
    }

    answer = api.get("/metrics/recovery", token(org_id=org, groups=[]))  # any member reads
    assert answer.status_code == 200, answer.text
    [cad] = answer.json()["currencies"]
    assert {k: cad[k] for k in ("failed", "recovered", "dismissed", "at_risk")} == {
        "failed": {"amount": 29500, "count": 5},
        "recovered": {"amount": 22500, "count": 3},
        "dismissed": {"amount": 2000, "count": 1},
        "at_risk": {"amount": 5000, "count": 1},
    }
    assert cad["recovered_by"] == {
        "manual_retry": {"amount": 15500, "count": 2},
        "automatic_retry": {"amount": 0, "count": 0},
        "payment_method_changed": {"amount": 7000, "count": 1},
    }
    assert (cad["recovery_rate"], cad["median_hours_to_recovery"]) == (0.7627, 0)
    assert sum(day["failed"]["amount"] for day in cad["days"]) == 29500
    # Another organization sees none of it.
    other = api.get("/metrics/recovery", token(org_id=f"org_{uuid.uuid4().hex[:10]}"))
    assert (other.status_code, other.json()["currencies"]) == (200, [])


def test_a_bad_period_is_400_over_http(api: Api, token: MintToken) -> None:
    answer = api.get("/metrics/recovery", token(), params={"from": "2026-13-01"})
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "invalid_period",
        "message": "from must be a date, YYYY-MM-DD; got '2026-13-01'",
    }
