"""GET /transactions, GET /transactions/{id} and GET /openapi.json through the real handler."""

import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.app.transactions import entry_filter
from payment_action_center.domain.listing import Position, encode_cursor
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher
from tests.shared.lambdas import Context, answer, cold_start, http_event
from tests.shared.moto_aws import IDEMPOTENCY_TABLE, TABLE

ADMIN = {
    "sub": "user_1",
    "email": "admin@example.com",
    "org_id": "org_demo",
    "groups": "[billing_admin]",
}


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    return cold_start("api")


def failure(**overrides: Any) -> str:
    store = DynamoEntryStore(boto3.client("dynamodb"), TABLE)
    result = payment_webhook.handle_payment_event(
        store, RecordingPublisher(), factories.delivery(), factories.payment_failed(**overrides)
    )
    assert result.entry_id is not None
    return result.entry_id


def get(
    api: ModuleType,
    path: str,
    *,
    route: str | None = None,
    query: dict[str, str] | None = None,
    claims: dict[str, str] | None = ADMIN,
    path_parameters: dict[str, str] | None = None,
) -> tuple[int, Any]:
    event = http_event(
        "GET", path, route=route, query=query, claims=claims, path_parameters=path_parameters
    )
    return answer(api.lambda_handler(event, Context()))


def get_entry(api: ModuleType, entry_id: str, claims: dict[str, str] = ADMIN) -> tuple[int, Any]:
    return get(
        api,
        f"/transactions/{entry_id}",
        route="/transactions/{id}",
        claims=claims,
        path_parameters={"id": entry_id},
    )


def test_the_table_lists_open_entries_newest_failure_first(api: ModuleType) -> None:
    older = failure(occurred_at="2026-11-20T10:00:00Z")
    newer = failure(occurred_at="2026-11-21T10:00:00Z")
    status, body = get(api, "/transactions")
    assert status == 200
    assert [item["id"] for item in body["items"]] == [newer, older]
    assert body["next_cursor"] is None
    item = body["items"][0]
    assert set(item) == {
        "id",
        "type",
        "method",
        "status",
        "amount",
        "currency",
        "account_holder",
        "payment_id",
        "failure",
        "failed_at",
        "attempts",
        "scheduled_payment_id",
        "invoice_items",
        "actions",
        "needs_attention",
        "next_automatic_retry_at",
        "recommended_action",
        "decline_class",
        "decline_reason",
        "retry_not_allowed",
    }
    assert item["failed_at"] == "2026-11-21T10:00:00Z"
    assert item["actions"] == ["retry", "dismiss", "change_payment_method"]


def test_a_page_of_open_entries_costs_one_query_and_one_batch_get(api: ModuleType) -> None:
    for day in range(1, 6):
        failure(occurred_at=f"2026-11-{day:02d}T10:00:00Z")
    calls: list[str] = []
    api.transactions.adapters.entries._client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    status, body = get(api, "/transactions", query={"limit": "2"})
    assert status == 200 and len(body["items"]) == 2
    # The BatchGetItem: the automatic retry policy and the time zone, read once for a page
    # that holds a soft decline (`next_automatic_retry_at`; test_retry_policy_api.py).
    assert calls == ["Query", "BatchGetItem"]


def test_the_cursor_walks_every_page_once(api: ModuleType) -> None:
    made = {failure(occurred_at=f"2026-11-{day:02d}T10:00:00Z") for day in range(1, 8)}
    seen: list[str] = []
    query = {"limit": "3"}
    while True:
        status, body = get(api, "/transactions", query=query)
        assert status == 200
        seen += [item["id"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        query = {"limit": "3", "cursor": body["next_cursor"]}
    assert sorted(seen) == sorted(made) and len(seen) == 7


def test_filters_reach_the_query(api: ModuleType) -> None:
    wanted = failure(data__account_holder__name="Gaëlle Bédard", data__method="echeck")
    failure(data__account_holder__name="Someone Else")
    status, body = get(api, "/transactions", query={"q": "GAELLE bedard", "method": "echeck"})
    assert status == 200
    assert [item["id"] for item in body["items"]] == [wanted]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "ten"},
        {"status": "dismissed"},
        {"status": "lost"},
        {"type": "gift_card"},
        {"method": "cash"},
        {"from": "yesterday"},
        {"to": "2026-13-01T00:00:00Z"},
        {"min_amount": "-1"},
    ],
)
def test_bad_query_parameters_are_422_naming_the_field(
    api: ModuleType, query: dict[str, str]
) -> None:
    status, body = get(api, "/transactions", query=query)
    assert status == 422
    assert body["code"] == "validation_error"
    assert next(iter(query)) in body["message"]


def test_a_cursor_that_was_not_issued_is_400(api: ModuleType) -> None:
    status, body = get(api, "/transactions", query={"cursor": "bm90LWEtY3Vyc29y"})
    assert (status, body["code"]) == (400, "invalid_cursor")


def test_a_cursor_is_bound_to_its_filters(api: ModuleType) -> None:
    for day in range(1, 4):
        failure(occurred_at=f"2026-11-{day:02d}T10:00:00Z")
    cursor = get(api, "/transactions", query={"limit": "1"})[1]["next_cursor"]
    status, _ = get(
        api, "/transactions", query={"limit": "1", "cursor": cursor, "method": "echeck"}
    )
    assert status == 400


def test_a_cursor_outside_its_own_time_range_is_400_not_a_failed_query(api: ModuleType) -> None:
    """Cursors are not signed: one made with the query's own fingerprint but a position outside
    its `from`/`to` range was never issued (DynamoDB would refuse the start key: a 500)."""
    window = entry_filter(failed_from="2026-11-10T00:00:00Z", failed_to="2026-11-20T00:00:00Z")
    outside = Position("2026-11-02T10:00:00.000000000Z", "txn_" + "a" * 26)
    forged = encode_cursor(outside, window.fingerprint(ADMIN["org_id"]))
    query = {"from": "2026-11-10T00:00:00Z", "to": "2026-11-20T00:00:00Z", "cursor": forged}
    status, body = get(api, "/transactions", query=query)
    assert (status, body["code"]) == (400, "invalid_cursor")


def test_one_entry_with_its_audit_trail(api: ModuleType) -> None:
    entry_id = failure()
    status, body = get_entry(api, entry_id)
    assert status == 200
    assert body["id"] == entry_id
    assert [event["action"] for event in body["audit"]] == ["received"]
    assert body["audit"][0]["actor"] == {"type": "system", "id": "payment-processor", "email": None}


def test_an_id_prefix_is_404_not_another_entry(api: ModuleType) -> None:
    failure()
    for prefix in ("txn_", "t", "txn"):
        assert get_entry(api, prefix)[0] == 404


def test_another_organizations_entry_is_404_never_403(api: ModuleType) -> None:
    theirs = failure(data__organization_id="org_other")
    status, body = get_entry(api, theirs)
    assert (status, body["code"]) == (404, "not_found")
    assert get(api, "/transactions")[1]["items"] == []


def test_a_request_without_claims_is_401(api: ModuleType) -> None:
    status, body = get(api, "/transactions", claims={})
    assert (status, body["code"]) == (401, "unauthorized")


def test_the_openapi_document_is_served_without_claims(api: ModuleType) -> None:
    status, body = get(api, "/openapi.json", claims=None)
    assert status == 200
    assert body["openapi"].startswith("3.1")
    assert "/transactions" in body["paths"]


def post(
    api: ModuleType,
    path: str,
    route: str,
    entry_id: str,
    *,
    claims: dict[str, str] = ADMIN,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    event = http_event(
        "POST",
        path,
        route=route,
        claims=claims,
        body=body,
        headers=headers,
        path_parameters={"id": entry_id},
    )
    return answer(api.lambda_handler(event, Context()))


def retry(api: ModuleType, entry_id: str, **kwargs: Any) -> tuple[int, Any]:
    return post(
        api, f"/transactions/{entry_id}/retry", "/transactions/{id}/retry", entry_id, **kwargs
    )


def dismiss(api: ModuleType, entry_id: str, **kwargs: Any) -> tuple[int, Any]:
    return post(
        api, f"/transactions/{entry_id}/dismiss", "/transactions/{id}/dismiss", entry_id, **kwargs
    )


def queued() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="pac-unit-retries")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_retry_answers_202_pending_and_queues_the_work(api: ModuleType) -> None:
    entry_id = failure()
    status, body = retry(api, entry_id)
    assert (status, body["status"]) == (202, "retry_pending")
    assert body["actions"] == ["change_payment_method"]
    assert queued() == [{"organization_id": "org_demo", "entry_id": entry_id, "attempt": 1}]


def test_retry_refusals_change_nothing(api: ModuleType) -> None:
    entry_id = failure()
    reader = ADMIN | {"groups": "[reader]"}
    assert retry(api, entry_id, claims=reader)[0] == 403
    assert retry(api, "txn_aaaaaaaaaaaaaaaaaaaaaaaaaa")[0] == 404
    assert retry(api, entry_id, claims=ADMIN | {"org_id": "org_other"})[0] == 404
    assert get_entry(api, entry_id)[1]["status"] == "failed"
    assert queued() == []
    assert retry(api, entry_id)[0] == 202
    status, body = retry(api, entry_id)
    assert (status, body["code"]) == (409, "conflict")


def test_the_same_idempotency_key_answers_as_the_first_time(api: ModuleType) -> None:
    entry_id = failure()
    key = {"idempotency-key": "click-1"}
    first = retry(api, entry_id, headers=key)
    again = retry(api, entry_id, headers=key)
    assert first == again and first[0] == 202
    assert len(queued()) == 1
    assert retry(api, entry_id, headers={"idempotency-key": "click-2"})[0] == 409


def test_idempotency_records_are_in_their_own_table_one_partition_each(api: ModuleType) -> None:
    """Keyed by `id` alone (Powertools' default layout), none in the main table."""
    for click in ("click-1", "click-2"):
        retry(api, failure(), headers={"idempotency-key": click})
    ddb = boto3.client("dynamodb")
    records = ddb.scan(TableName=IDEMPOTENCY_TABLE)["Items"]
    assert len(records) == 2
    assert len({r["id"]["S"] for r in records}) == 2
    assert all({"id", "expiration", "status"} <= set(r) for r in records)
    main = ddb.scan(TableName=TABLE)["Items"]
    assert not [i for i in main if "IDEMPOTENCY" in i["pk"]["S"].upper()]


def test_dismiss_with_a_reason_and_its_audit(api: ModuleType) -> None:
    entry_id = failure()
    status, body = dismiss(api, entry_id, body=json.dumps({"reason": "paid by cheque"}))
    assert (status, body["status"]) == (200, "dismissed")
    detail = get_entry(api, entry_id)[1]
    assert detail["audit"][-1]["action"] == "dismissed"
    assert detail["audit"][-1]["actor"]["email"] == "admin@example.com"
    assert detail["audit"][-1]["detail"] == {"reason": "paid by cheque"}
    assert get(api, "/transactions")[1]["items"] == []
    assert dismiss(api, entry_id)[0] == 409


def test_dismiss_without_a_body_and_bad_bodies(api: ModuleType) -> None:
    entry_id = failure()
    assert dismiss(api, entry_id, body=json.dumps({"reason": "x" * 501}))[0] == 422
    assert dismiss(api, entry_id, claims=ADMIN | {"groups": "[]"})[0] == 403
    assert dismiss(api, entry_id)[0] == 200


def test_payment_method_link_by_type(api: ModuleType) -> None:
    store = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    billing_webhook.handle_billing_event(
        store, factories.billing_delivery(), factories.organization_upserted()
    )
    installment = failure(data__account_holder__id="ah_7")
    refund = failure(type="refund.failed", data__kind="refund", data__scheduled_payment_id=None)

    def link(entry_id: str) -> tuple[int, Any]:
        return get(
            api,
            f"/transactions/{entry_id}/payment-method-link",
            route="/transactions/{id}/payment-method-link",
            path_parameters={"id": entry_id},
        )

    status, body = link(installment)
    assert status == 200 and "ah_7" in body["url"]
    status, body = link(refund)
    assert status == 409 and "new refund" in body["message"]


def test_a_cold_start_shares_no_route_module_with_the_one_before(aws: dict[str, str]) -> None:
    first, second = cold_start("api"), cold_start("api")
    assert first.transactions is not second.transactions
    assert first.transactions.router.api_resolver is first.app
    assert second.transactions.router.api_resolver is second.app


def test_the_organization_reads_as_the_billing_platform_sent_it(api: ModuleType) -> None:
    assert get(api, "/organization", route="/organization")[0] == 404
    store = DynamoBillingStore(boto3.client("dynamodb"), TABLE)
    billing_webhook.handle_billing_event(
        store, factories.billing_delivery(), factories.organization_upserted()
    )
    status, body = get(api, "/organization", route="/organization")
    sent = factories.organization_upserted()["data"]
    assert status == 200
    assert body == {
        "id": "org_demo",
        "name": sent["name"],
        "locale": sent["locale"],
        "time_zone": sent["time_zone"],
        "client_url_template": sent["client_url_template"],
        "upcoming_payments_url_template": sent["upcoming_payments_url_template"],
    }
