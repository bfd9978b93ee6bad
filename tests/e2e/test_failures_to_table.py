"""Failures in, table out, end to end: a signed failure webhook lands in DynamoDB Local and a
billing admin sees it in the table, over HTTP through the local gateway (docs/contract.md §4.1,
§4.2)."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local import config
from tests.e2e.conftest import Api, MintToken, PostWebhook
from tests.shared import factories


def new_org() -> str:
    return f"org_{uuid.uuid4().hex[:10]}"


def fail(post_webhook: PostWebhook, org: str, **overrides: Any) -> Any:
    answer = post_webhook(
        "payments", factories.payment_failed(data__organization_id=org, **overrides)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_signed_failure_shows_in_the_table_with_its_audit(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    assert fail(post_webhook, org, data__payment_id="pay_e2e_1") == {"status": "accepted"}
    page = api.get("/transactions", token(org_id=org))
    assert page.status_code == 200
    [item] = page.json()["items"]
    assert item["payment_id"] == "pay_e2e_1"
    assert item["status"] == "failed" and item["attempts"] == 1
    detail = api.get(f"/transactions/{item['id']}", token(org_id=org, groups=["reader"]))
    assert detail.status_code == 200
    assert [event["action"] for event in detail.json()["audit"]] == ["received"]


def test_redelivery_and_resent_failure_make_one_entry(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    body = factories.payment_failed(data__organization_id=org)
    first = post_webhook("payments", body, webhook_id="msg_fixed_" + org)
    again = post_webhook("payments", body, webhook_id="msg_fixed_" + org)
    other_id = post_webhook("payments", body)
    assert [r.status_code for r in (first, again, other_id)] == [200, 200, 200]
    assert again.json() == {"status": "accepted"}
    assert other_id.json() == {"status": "ignored", "reason": "this failure is already recorded"}
    assert len(api.get("/transactions", token(org_id=org)).json()["items"]) == 1


def test_concurrent_deliveries_of_one_webhook_id_answer_200_or_409_never_5xx(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    body = factories.payment_failed(data__organization_id=org)
    webhook_id = f"msg_race_{org}"
    with ThreadPoolExecutor(6) as pool:
        statuses = list(
            pool.map(
                lambda _: post_webhook("payments", body, webhook_id=webhook_id).status_code,
                range(6),
            )
        )
    assert set(statuses) <= {200, 409}
    assert 200 in statuses
    assert len(api.get("/transactions", token(org_id=org)).json()["items"]) == 1


def test_bad_input_is_refused_and_stores_nothing(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    bad = factories.payment_failed(data__organization_id=org, data__amount=-5)
    assert post_webhook("payments", bad).status_code == 400
    not_json = post_webhook("payments", b"{not json")
    assert (not_json.status_code, not_json.json()["code"]) == (400, "invalid_payload")
    wrong_secret = post_webhook(
        "payments",
        factories.payment_failed(data__organization_id=org),
        secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
    )
    assert wrong_secret.status_code == 401
    billing_key = post_webhook(
        "payments",
        factories.payment_failed(data__organization_id=org),
        secret=config.BILLING_WEBHOOK_SECRET,
    )
    assert billing_key.status_code == 401
    unsigned = api.post("/webhooks/payments", data=json.dumps(bad))
    assert unsigned.status_code == 401
    huge = post_webhook("payments", b'{"type":"x","pad":"' + b"a" * (256 * 1024) + b'"}')
    assert huge.status_code == 413
    assert api.get("/transactions", token(org_id=org)).json()["items"] == []


def test_filters_pagination_and_limits_over_http(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    for day in range(1, 6):
        fail(
            post_webhook,
            org,
            occurred_at=f"2026-11-{day:02d}T12:00:00Z",
            data__account_holder__name="Zoé Lefèbvre" if day == 3 else "Sam Smith",
        )
    jwt = token(org_id=org)
    found = api.get("/transactions", jwt, params={"q": "zoe LEFEBVRE"}).json()["items"]
    assert [i["failed_at"] for i in found] == ["2026-11-03T12:00:00Z"]
    window = api.get(
        "/transactions", jwt, params={"from": "2026-11-02T12:00:00Z", "to": "2026-11-04T12:00:00Z"}
    )
    assert [i["failed_at"][:10] for i in window.json()["items"]] == [
        "2026-11-04",
        "2026-11-03",
        "2026-11-02",
    ]
    days, params = [], {"limit": "2"}
    while True:
        page = api.get("/transactions", jwt, params=params).json()
        days += [i["failed_at"][:10] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": "2", "cursor": page["next_cursor"]}
    assert days == [f"2026-11-{d:02d}" for d in range(5, 0, -1)]
    assert api.get("/transactions", jwt, params={"limit": "201"}).status_code == 422
    assert api.get("/transactions", jwt, params={"cursor": "forged"}).status_code == 400


def test_another_organization_sees_nothing_and_gets_404(
    api: Api, token: MintToken, post_webhook: PostWebhook
) -> None:
    org = new_org()
    fail(post_webhook, org)
    entry_id = api.get("/transactions", token(org_id=org)).json()["items"][0]["id"]
    intruder = token(org_id=new_org())
    assert api.get("/transactions", intruder).json()["items"] == []
    answer = api.get(f"/transactions/{entry_id}", intruder)
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
