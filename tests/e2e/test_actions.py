"""End to end on the local stack: retry (through SQS, the worker and the processor), dismiss,
change payment method, settlement webhooks and the watchdog, over HTTP.

The retry tests run twice (`world`): on the package's stack with the sandbox processor, and on a
stack with PROCESSOR=stripe, where the Stripe adapter talks to the fake Stripe API
(local/fake_stripe.py), which takes the sandbox's tokens with the same outcomes. What each
processor received and made is read through its local-only endpoints (GET /_local/sandbox/charges,
GET /_local/stripe/requests) and a pending e-check is settled through them (POST
/_local/sandbox/settle: the sandbox's webhook; POST /_local/stripe/settle: Stripe's Connect event
to POST /webhooks/stripe).
"""

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from local import config
from local.stack import LocalStack
from tests.e2e.conftest import Api, MintToken, PostWebhook, mint_token, signed_post
from tests.shared import factories


def new_org() -> str:
    return f"org_{uuid.uuid4().hex[:10]}"


def stripe_account(org: str) -> str:
    """The Stripe Connect account the tests give an organization."""
    return f"acct_1{org.removeprefix('org_')}"


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


def events_for(api: Api, entry_id: str) -> list[dict[str, Any]]:
    return [e for e in api.local_events() if e["detail"].get("transaction_id") == entry_id]


# ----------------------------------------------------------------------------- both processors

# A Stripe object's or answer's state in the sandbox's words (its ledger's outcomes); no usable
# answer (a 5xx, a rate limit, a lost response) is the sandbox's `timeout`.
_OUTCOMES = {
    "succeeded": "succeeded",
    "processing": "pending",
    "pending": "pending",
    "requires_payment_method": "failed",
    "failed": "failed",
    "card_error": "failed",
}


@dataclass(frozen=True)
class Sent:
    """One request the processor received about an entry, and what it answered."""

    operation: str
    idempotency_key: str
    outcome: str


@dataclass
class World:
    """One stack and its processor, seen the same way whichever it is."""

    processor: str
    stack: LocalStack
    api: Api

    def account(self, org: str) -> str | None:
        """The organization's Stripe Connect account, as the processor charges on it (the
        sandbox charges on no account)."""
        return stripe_account(org) if self.processor == "stripe" else None

    def new_org(self) -> tuple[str, str]:
        """A new organization, upserted with its Stripe account (the Stripe adapter charges on
        it; the sandbox ignores it), and a billing_admin's token of it."""
        org = new_org()
        upserted = factories.organization_upserted(
            data__organization_id=org, data__processor_account_id=stripe_account(org)
        )
        assert self.post_webhook("billing", upserted).json() == {"status": "accepted"}
        return org, mint_token(self.api, org_id=org)

    def post_webhook(self, endpoint: str, body: dict[str, Any], **kwargs: Any) -> Any:
        return signed_post(self.api, endpoint, body, **kwargs)

    def failure(self, jwt: str, org: str, token: str, **overrides: Any) -> str:
        return failure(self.post_webhook, self.api, jwt, org, token, **overrides)

    def queues_idle(self, timeout: float = 60.0) -> None:
        assert self.stack.wait_for_queues_idle(timeout), f"queues still busy after {timeout} s"

    def sent(self, entry_id: str) -> list[Sent]:
        """Every charge or refund request the processor received for the entry, oldest first:
        the sandbox's ledger calls; the fake Stripe API's creates (each try of the SDK)."""
        if self.processor == "sandbox":
            return [
                Sent(c["operation"], c["idempotency_key"], c["outcome"])
                for c in self.api.sandbox_charges()
                if c["idempotency_key"].startswith(f"{entry_id}:")
            ]
        operations = {"/v1/payment_intents": "charge", "/v1/refunds": "refund"}
        return [
            Sent(
                operations[c["path"]],
                c["idempotency_key"],
                _OUTCOMES.get(c["answered"] or "", "timeout"),
            )
            for c in self.api.stripe_requests()["calls"]
            if c["method"] == "POST"
            and c["path"] in operations
            and (c["idempotency_key"] or "").startswith(f"{entry_id}:")
        ]

    def made(self, entry_id: str) -> list[dict[str, Any]]:
        """The charges the processor holds for the entry, one per idempotency key: the
        sandbox's ledger rows (as first answered), the fake's PaymentIntents and Refunds (as they
        are now), with the connected account they were made on."""
        if self.processor == "sandbox":
            first: dict[str, dict[str, Any]] = {}
            for c in self.api.sandbox_charges():
                if c["idempotency_key"].startswith(f"{entry_id}:"):
                    first.setdefault(
                        c["idempotency_key"],
                        {
                            "idempotency_key": c["idempotency_key"],
                            "amount": c["amount"],
                            "currency": c["currency"],
                            "outcome": c["outcome"],
                            "account": None,
                        },
                    )
            return list(first.values())
        return [
            {
                "idempotency_key": o["metadata"]["idempotency_key"],
                "amount": o["amount"],
                "currency": o["currency"].upper(),
                "outcome": _OUTCOMES[o["status"]],
                "account": o["account"],
            }
            for o in self.api.stripe_requests()["objects"]
            if o["metadata"].get("idempotency_key", "").startswith(f"{entry_id}:")
        ]

    def settle(self, entry_id: str, outcome: str) -> Any:
        """The processor settles the entry's pending e-check and sends its webhook."""
        if self.processor == "sandbox":
            return self.api.settle(entry_id, outcome)
        return self.api.stripe_settle(entry_id, outcome)


@pytest.fixture(scope="module")
def stripe_api(stripe_stack: LocalStack) -> Iterator[Api]:
    with Api(stripe_stack.url) as client:
        yield client


@pytest.fixture(params=config.PROCESSORS)
def world(request: pytest.FixtureRequest) -> World:
    """The retry tests' stack: the sandbox's (the package's), or the Stripe one's."""
    if request.param == "sandbox":
        return World("sandbox", request.getfixturevalue("stack"), request.getfixturevalue("api"))
    return World(
        "stripe", request.getfixturevalue("stripe_stack"), request.getfixturevalue("stripe_api")
    )


def test_a_retry_recovers_through_the_queue_with_one_charge_and_one_event(world: World) -> None:
    org, jwt = world.new_org()
    entry_id = world.failure(jwt, org, "tok_success")
    answer = world.api.post(f"/transactions/{entry_id}/retry", jwt)
    assert (answer.status_code, answer.json()["status"]) == (202, "retry_pending")
    world.queues_idle()
    recovered = entry(world.api, jwt, entry_id)
    assert recovered["status"] == "recovered" and recovered["actions"] == []
    assert [a["action"] for a in recovered["audit"]] == [
        "received",
        "retry_requested",
        "charge_sent",
        "recovered",
    ]
    # Stripe: one PaymentIntent, on the organization's connected account, under the entry's key.
    assert world.made(entry_id) == [
        {
            "idempotency_key": f"{entry_id}:retry:1",
            "amount": 12500,
            "currency": "CAD",
            "outcome": "succeeded",
            "account": world.account(org),
        }
    ]
    assert world.sent(entry_id) == [Sent("charge", f"{entry_id}:retry:1", "succeeded")]
    [event] = events_for(world.api, entry_id)
    assert event["detail_type"] == "PaymentRecovered"
    assert sum(a["amount"] for a in event["detail"]["allocation"]) == 12500
    assert world.api.get("/transactions", jwt).json()["items"] == []


def test_ten_concurrent_clicks_one_202_nine_409_one_charge(world: World) -> None:
    org, jwt = world.new_org()
    entry_id = world.failure(jwt, org, "tok_success")

    def click(_: int) -> int:
        with world.api.fresh() as mine:
            return int(mine.post(f"/transactions/{entry_id}/retry", jwt).status_code)

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(click, range(10)))
    assert sorted(statuses) == [202] + [409] * 9
    world.queues_idle()
    assert len(world.made(entry_id)) == 1
    assert len(world.sent(entry_id)) == 1


def test_the_same_idempotency_key_answers_as_the_first_time_from_the_idempotency_table(
    world: World,
) -> None:
    """The local stack provisions IdempotencyTable from template.yaml and the API keeps its
    Idempotency-Key records there, one `id` each; none in the main table."""
    org, jwt = world.new_org()
    entry_id = world.failure(jwt, org, "tok_success")
    key = {"idempotency-key": f"click-{uuid.uuid4().hex}"}
    first = world.api.post(f"/transactions/{entry_id}/retry", jwt, headers=key)
    world.queues_idle()
    again = world.api.post(f"/transactions/{entry_id}/retry", jwt, headers=key)
    assert (first.status_code, first.json()["status"]) == (202, "retry_pending")
    assert (again.status_code, again.json()) == (202, first.json())
    assert entry(world.api, jwt, entry_id)["status"] == "recovered"
    assert len(world.made(entry_id)) == 1
    ddb = world.stack.endpoints.client("dynamodb")
    table = world.stack.values.refs["IdempotencyTable"]

    def scan(name: str) -> list[dict[str, Any]]:
        pages = ddb.get_paginator("scan").paginate(TableName=name)
        return [item for page in pages for item in page["Items"]]

    [record] = [r for r in scan(table) if entry_id in r.get("data", {}).get("S", "")]
    assert record["status"]["S"] == "COMPLETED" and "expiration" in record
    schema = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    assert schema == [{"AttributeName": "id", "KeyType": "HASH"}]
    main = scan(world.stack.values.refs["Table"])
    assert not [i for i in main if i["pk"]["S"].upper().startswith("IDEMPOTENCY")]


def test_a_declined_retry_comes_back_in_the_table_with_attempt_two(world: World) -> None:
    org, jwt = world.new_org()
    entry_id = world.failure(jwt, org, "tok_insufficient_funds")
    world.api.post(f"/transactions/{entry_id}/retry", jwt)
    world.queues_idle()
    [item] = world.api.get("/transactions", jwt).json()["items"]
    assert (item["id"], item["status"], item["attempts"]) == (entry_id, "failed", 2)
    assert item["failure"]["code"] == "insufficient_funds"
    assert item["actions"] == ["retry", "dismiss", "change_payment_method"]
    [made] = world.made(entry_id)
    assert (made["outcome"], made["account"]) == ("failed", world.account(org))


def test_an_echeck_retry_waits_for_the_settlement_webhook(world: World) -> None:
    org, jwt = world.new_org()
    entry_id = world.failure(
        jwt, org, "tok_echeck_pending", data__method="echeck", data__kind="subscription"
    )
    world.api.post(f"/transactions/{entry_id}/retry", jwt)
    world.queues_idle()
    assert entry(world.api, jwt, entry_id)["status"] == "retry_pending"
    settled = world.settle(entry_id, "succeeded")
    assert settled.status_code == 200, settled.text
    assert settled.json()["webhook"] == {"status": "accepted"}
    assert entry(world.api, jwt, entry_id)["status"] == "recovered"
    assert world.settle(entry_id, "succeeded").status_code == 404  # nothing pending any more
    assert [s.outcome for s in world.sent(entry_id)] == ["pending"]  # what it answered
    assert [e["detail_type"] for e in events_for(world.api, entry_id)] == ["PaymentRecovered"]


def test_the_watchdog_flags_a_retry_that_never_settles(world: World) -> None:
    org, jwt = world.new_org()
    entry_id = world.failure(jwt, org, "tok_timeout")
    world.api.post(f"/transactions/{entry_id}/retry", jwt)
    world.queues_idle()
    assert entry(world.api, jwt, entry_id)["status"] == "retry_pending"
    summary = world.api.run_schedule("retry-watchdog", now="2099-01-01T00:00:00Z")
    assert summary["result"]["flagged"] >= 1
    flagged = entry(world.api, jwt, entry_id)
    assert flagged["status"] == "retry_pending" and flagged["needs_attention"]
    # Sent once, no answer: the sandbox's one call; each of the Stripe SDK's tries, and Stripe
    # made nothing (the sandbox's ledger keeps the unanswered call).
    sent = world.sent(entry_id)
    assert {s.outcome for s in sent} == {"timeout"}
    assert {s.idempotency_key for s in sent} == {f"{entry_id}:retry:1"}
    if world.processor == "stripe":
        assert world.made(entry_id) == []


# ----------------------------------------------------------------------------- Stripe only


def test_a_lost_stripe_answer_is_found_by_the_watchdog_and_never_charged_twice(
    stripe_stack: LocalStack, stripe_api: Api
) -> None:
    world = World("stripe", stripe_stack, stripe_api)
    org, jwt = world.new_org()
    entry_id = world.failure(jwt, org, "tok_success")
    # Every try of the worker (the adapter's first and the SDK's two retries) reaches Stripe,
    # which charges, and loses its answer.
    stripe_api.stripe_faults("timeout", 3)
    stripe_api.post(f"/transactions/{entry_id}/retry", jwt)
    world.queues_idle()
    assert entry(stripe_api, jwt, entry_id)["status"] == "retry_pending"
    assert world.sent(entry_id) == [Sent("charge", f"{entry_id}:retry:1", "timeout")] * 3
    [made] = world.made(entry_id)
    assert (made["outcome"], made["account"]) == ("succeeded", world.account(org))

    time.sleep(config.STRIPE_SEARCH_LAG_SECONDS)  # until Stripe's search finds it
    stripe_api.run_schedule("retry-watchdog", now="2099-01-01T00:00:00Z")

    assert entry(stripe_api, jwt, entry_id)["status"] == "recovered"
    assert len(world.made(entry_id)) == 1
    assert len(world.sent(entry_id)) == 3  # found by its status: nothing sent again
    [event] = events_for(stripe_api, entry_id)
    assert event["detail_type"] == "PaymentRecovered"


def test_a_returned_echeck_comes_back_failed_through_the_stripe_event(
    stripe_stack: LocalStack, stripe_api: Api
) -> None:
    world = World("stripe", stripe_stack, stripe_api)
    org, jwt = world.new_org()
    entry_id = world.failure(
        jwt, org, "tok_echeck_pending", data__method="echeck", data__kind="subscription"
    )
    stripe_api.post(f"/transactions/{entry_id}/retry", jwt)
    world.queues_idle()

    settled = stripe_api.stripe_settle(entry_id, "failed")

    assert settled.status_code == 200, settled.text
    returned = entry(stripe_api, jwt, entry_id)
    assert (returned["status"], returned["attempts"]) == ("failed", 2)
    assert returned["failure"]["code"] == "insufficient_funds"


def test_a_stripe_retry_needs_the_organizations_account(stripe_api: Api) -> None:
    org = new_org()  # never upserted: no processor_account_id
    jwt = mint_token(stripe_api, org_id=org)
    entry_id = failure(
        lambda endpoint, body: signed_post(stripe_api, endpoint, body),
        stripe_api,
        jwt,
        org,
        "tok_success",
    )
    answer = stripe_api.post(f"/transactions/{entry_id}/retry", jwt)
    assert answer.status_code == 409, answer.text
    calls = stripe_api.stripe_requests()["calls"]
    assert not [c for c in calls if (c["idempotency_key"] or "").startswith(entry_id)]


def test_each_processors_local_endpoints_answer_404_on_the_other(api: Api, stripe_api: Api) -> None:
    for path in ("/_local/stripe/requests",):
        answer = api.get(path)
        assert answer.status_code == 404 and "PROCESSOR=stripe" in answer.json()["message"]
    settle = {"transaction_id": "txn_x", "outcome": "succeeded"}
    assert api.post("/_local/stripe/settle", json=settle).status_code == 404
    assert api.post("/_local/stripe/faults", json={"kind": "timeout"}).status_code == 404
    answer = stripe_api.get("/_local/sandbox/charges")
    assert answer.status_code == 404 and "PROCESSOR=sandbox" in answer.json()["message"]
    assert stripe_api.post("/_local/sandbox/settle", json=settle).status_code == 404
    assert stripe_api.stripe_settle("txn_none", "succeeded").status_code == 404
    bad = stripe_api.post("/_local/stripe/faults", json={"kind": "meteor", "count": 0})
    assert bad.status_code == 400
    assert "kind must be one of" in bad.text and "count must be" in bad.text


# ----------------------------------------------------------------------------- sandbox stack


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
