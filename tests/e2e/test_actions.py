"""End to end on the local stack: retry (through SQS, the worker and the sandbox),
dismiss, change payment method, settlement webhooks and the watchdog, over HTTP."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.stack import LocalStack
from tests.e2e.conftest import Api, MintToken, PostWebhook, WaitForQueues
from tests.shared import factories


def new_org() -> str:
    return f"org_{uuid.uuid4().hex[:10]}"


def failure(
    post_webhook: PostWebhook, api: Api, jwt: str, org: str, token: str, **overrides: Any
) -> str:
    body = factories.payment_failed(
        data__organization_id=org, data__payment_method={"token": token}, **overrides
    )
    assert post_webhook("payments", body).json() == {"status": "accepted"}
    items = api.get("/transactions", jwt, params={"q": body["data"]["payment_id"]}).json()["items"]
    return str(items[0]["id"])


def entry(api: Api, jwt: str, entry_id: str) -> dict[str, Any]:
    answer = api.get(f"/transactions/{entry_id}", jwt)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def charges_for(api: Api, entry_id: str) -> list[dict[str, Any]]:
    return [c for c in api.sandbox_charges() if c["idempotency_key"].startswith(entry_id)]


def events_for(api: Api, entry_id: str) -> list[dict[str, Any]]:
    return [e for e in api.local_events() if e["detail"].get("transaction_id") == entry_id]


def test_a_retry_recovers_through_the_queue_with_one_charge_and_one_event(
    api: Api, token: MintToken, post_webhook: PostWebhook, queues_idle: WaitForQueues
) -> None:
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org, "tok_success")
    answer = api.post(f"/transactions/{entry_id}/retry", jwt)
    assert (answer.status_code, answer.json()["status"]) == (202, "retry_pending")
    queues_idle()
    recovered = entry(api, jwt, entry_id)
    assert recovered["status"] == "recovered" and recovered["actions"] == []
    assert [a["action"] for a in recovered["audit"]] == [
        "received",
        "retry_requested",
        "charge_sent",
        "recovered",
    ]
    assert charges_for(api, entry_id) == [
        {
            "operation": "charge",
            "token": "tok_success",
            "amount": 12500,
            "currency": "CAD",
            "idempotency_key": f"{entry_id}:retry:1",
            "outcome": "succeeded",
        }
    ]
    [event] = events_for(api, entry_id)
    assert event["detail_type"] == "PaymentRecovered"
    assert sum(a["amount"] for a in event["detail"]["allocation"]) == 12500
    assert api.get("/transactions", jwt).json()["items"] == []


def test_ten_concurrent_clicks_one_202_nine_409_one_charge(
    api: Api, token: MintToken, post_webhook: PostWebhook, queues_idle: WaitForQueues
) -> None:
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org, "tok_success")
    with ThreadPoolExecutor(10) as pool:
        statuses = list(
            pool.map(
                lambda _: api.post(f"/transactions/{entry_id}/retry", jwt).status_code, range(10)
            )
        )
    assert sorted(statuses) == [202] + [409] * 9
    queues_idle()
    assert len(charges_for(api, entry_id)) == 1


def test_the_same_idempotency_key_answers_as_the_first_time_from_the_idempotency_table(
    api: Api,
    token: MintToken,
    post_webhook: PostWebhook,
    queues_idle: WaitForQueues,
    stack: LocalStack,
) -> None:
    """The local stack provisions IdempotencyTable from template.yaml and the API keeps its
    Idempotency-Key records there, one `id` each; none in the main table."""
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org, "tok_success")
    key = {"idempotency-key": f"click-{uuid.uuid4().hex}"}
    first = api.post(f"/transactions/{entry_id}/retry", jwt, headers=key)
    queues_idle()
    again = api.post(f"/transactions/{entry_id}/retry", jwt, headers=key)
    assert (first.status_code, first.json()["status"]) == (202, "retry_pending")
    assert (again.status_code, again.json()) == (202, first.json())
    assert entry(api, jwt, entry_id)["status"] == "recovered"
    assert len(charges_for(api, entry_id)) == 1
    ddb = stack.endpoints.client("dynamodb")
    table = stack.values.refs["IdempotencyTable"]

    def scan(name: str) -> list[dict[str, Any]]:
        pages = ddb.get_paginator("scan").paginate(TableName=name)
        return [item for page in pages for item in page["Items"]]

    [record] = [r for r in scan(table) if entry_id in r.get("data", {}).get("S", "")]
    assert record["status"]["S"] == "COMPLETED" and "expiration" in record
    schema = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    assert schema == [{"AttributeName": "id", "KeyType": "HASH"}]
    main = scan(stack.values.refs["Table"])
    assert not [i for i in main if i["pk"]["S"].upper().startswith("IDEMPOTENCY")]


def test_a_declined_retry_comes_back_in_the_table_with_attempt_two(
    api: Api, token: MintToken, post_webhook: PostWebhook, queues_idle: WaitForQueues
) -> None:
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org, "tok_insufficient_funds")
    api.post(f"/transactions/{entry_id}/retry", jwt)
    queues_idle()
    [item] = api.get("/transactions", jwt).json()["items"]
    assert (item["id"], item["status"], item["attempts"]) == (entry_id, "failed", 2)
    assert item["failure"]["code"] == "insufficient_funds"
    assert item["actions"] == ["retry", "dismiss", "change_payment_method"]


def test_an_echeck_retry_waits_for_the_settlement_webhook(
    api: Api, token: MintToken, post_webhook: PostWebhook, queues_idle: WaitForQueues
) -> None:
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(
        post_webhook,
        api,
        jwt,
        org,
        "tok_echeck_pending",
        data__method="echeck",
        data__kind="subscription",
    )
    api.post(f"/transactions/{entry_id}/retry", jwt)
    queues_idle()
    assert entry(api, jwt, entry_id)["status"] == "retry_pending"
    assert api.settle(entry_id, "succeeded").status_code == 200
    assert entry(api, jwt, entry_id)["status"] == "recovered"
    assert api.settle(entry_id, "succeeded").status_code == 404  # nothing pending any more
    assert [c["outcome"] for c in charges_for(api, entry_id)] == ["pending"]  # what it answered
    assert [e["detail_type"] for e in events_for(api, entry_id)] == ["PaymentRecovered"]


def test_dismiss_removes_from_the_table_keeps_the_audit_and_tells_the_bus(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org, "tok_success")
    reader = token(org_id=org, groups=["reader"])
    assert api.post(f"/transactions/{entry_id}/dismiss", reader).status_code == 403
    answer = api.post(f"/transactions/{entry_id}/dismiss", jwt, json={"reason": "paid in cash"})
    assert (answer.status_code, answer.json()["status"]) == (200, "dismissed")
    assert api.get("/transactions", jwt).json()["items"] == []
    assert entry(api, jwt, entry_id)["audit"][-1]["detail"] == {"reason": "paid in cash"}
    [event] = events_for(api, entry_id)
    assert (event["detail_type"], event["detail"]["reason"]) == (
        "TransactionDismissed",
        "paid in cash",
    )
    assert api.post(f"/transactions/{entry_id}/retry", jwt).status_code == 409


def test_the_payment_method_link_needs_the_organization_settings(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org, "tok_success", data__account_holder__id="ah_55")
    path = f"/transactions/{entry_id}/payment-method-link"
    assert api.get(path, jwt).status_code == 409
    settings = factories.organization_upserted(data__organization_id=org)
    assert post_webhook("billing", settings).json() == {"status": "accepted"}
    answer = api.get(path, jwt)
    assert (
        answer.status_code == 200 and answer.json()["url"].endswith("ah_55")
    ) or "ah_55" in answer.json()["url"]


def test_the_watchdog_flags_a_retry_that_never_settles(
    api: Api, token: MintToken, post_webhook: PostWebhook, queues_idle: WaitForQueues
) -> None:
    org = new_org()
    jwt = token(org_id=org)
    entry_id = failure(post_webhook, api, jwt, org, "tok_timeout")
    api.post(f"/transactions/{entry_id}/retry", jwt)
    queues_idle()
    assert entry(api, jwt, entry_id)["status"] == "retry_pending"
    summary = api.run_schedule("retry-watchdog", now="2099-01-01T00:00:00Z")
    assert summary["result"]["flagged"] >= 1
    flagged = entry(api, jwt, entry_id)
    assert flagged["status"] == "retry_pending" and flagged["needs_attention"]
    assert [c["outcome"] for c in charges_for(api, entry_id)] == ["timeout"]
