"""POST /webhooks/stripe through the real handler, on moto: Connect events signed as Stripe signs
them (tests/shared/stripe_signing.py), routed to the organization of their connected account."""

import json
import time
from types import ModuleType
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import (
    AccountHolder,
    Entry,
    EntryType,
    Failure,
    InvoiceItem,
    Method,
    Network,
    PaymentKind,
    PaymentMethod,
    Status,
    entry_id_for,
)
from tests.shared import factories
from tests.shared.lambdas import Context, answer, cold_start, http_event, signed_headers
from tests.shared.moto_aws import BILLING_SECRET, STRIPE_SECRET, TABLE
from tests.shared.retry_events import pending_retry
from tests.shared.stripe_signing import (
    ACCOUNT,
    as_json,
    documented_metadata,
    event,
    payment_intent,
    refund,
    stripe_headers,
    stripe_signature,
)

PATH = "/webhooks/stripe"


@pytest.fixture
def webhooks(aws: dict[str, str]) -> ModuleType:
    """The webhooks function, with org_demo's Stripe account sent by the billing platform."""
    fn = cold_start("webhooks")
    body = as_json(factories.organization_upserted(data__processor_account_id=ACCOUNT))
    sent = fn.lambda_handler(
        http_event(
            "POST",
            "/webhooks/billing",
            headers=signed_headers(BILLING_SECRET, body, "msg_org"),
            body=body,
        ),
        Context(),
    )
    assert answer(sent) == (200, {"status": "accepted"})
    return fn


def deliver(
    fn: ModuleType,
    body: bytes,
    *,
    secret: str = STRIPE_SECRET,
    headers: dict[str, str] | None = None,
    at: int | None = None,
) -> tuple[int, Any]:
    sent = stripe_headers(secret, body, at) if headers is None else headers
    return answer(fn.lambda_handler(http_event("POST", PATH, headers=sent, body=body), Context()))


def entries_store() -> DynamoEntryStore:
    return DynamoEntryStore(boto3.client("dynamodb"), TABLE)


def stored(payment_id: str) -> Entry:
    return entries_store().get("org_demo", entry_id_for("org_demo", payment_id))


def table_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=TABLE)["Items"]


def entities() -> list[str]:
    return sorted(i["entity"]["S"] for i in table_items())


def rfc3339(created: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(created))


# ------------------------------------------------------------------ a failure becomes an entry


def test_the_networks_codes_stripe_passes_on_are_kept_for_the_decline_rules(
    webhooks: ModuleType,
) -> None:
    """Stripe's network_decline_code and network_advice_code (Mastercard's Merchant Advice
    Code) become the failure's; a value of another shape is dropped, never refused."""
    card = {"brand": "mastercard", "network": "mastercard", "last4": "4444"}
    declined = {
        "code": "card_declined",
        "decline_code": "do_not_honor",
        "message": "Declined.",
        "network_decline_code": "05",
        "network_advice_code": "03",
        "payment_method": {"id": "pm_1UnitMc", "type": "card", "card": card},
    }
    intent = payment_intent(last_payment_error=declined)
    assert deliver(webhooks, as_json(event("payment_intent.payment_failed", intent)))[0] == 200
    failure = stored(intent["id"]).failure
    assert (failure.network, failure.network_decline_code, failure.advice_code) == (
        Network.MASTERCARD,
        "05",
        "03",
    )

    odd = payment_intent(
        last_payment_error=declined
        | {"network_advice_code": "advice", "payment_method": {"id": "pm_1", "type": "card"}}
    )
    assert deliver(webhooks, as_json(event("payment_intent.payment_failed", odd)))[0] == 200
    failure = stored(odd["id"]).failure
    assert (failure.network, failure.advice_code) == (None, None)


def test_a_declined_payment_intent_with_the_documented_metadata_becomes_an_entry(
    webhooks: ModuleType,
) -> None:
    intent = payment_intent()
    sent = event("payment_intent.payment_failed", intent)
    assert deliver(webhooks, as_json(sent)) == (200, {"status": "accepted"})
    entry = stored(intent["id"])
    n = intent["metadata"]["account_holder_id"].removeprefix("ah_")
    assert (entry.type, entry.kind, entry.method, entry.status) == (
        EntryType.INSTALLMENT,
        PaymentKind.INSTALLMENT,
        Method.CREDIT_CARD,
        Status.FAILED,
    )
    assert (entry.amount, entry.currency, entry.payment_id) == (12500, "CAD", intent["id"])
    assert entry.account_holder == AccountHolder(f"ah_{n}", "Éloïse Tremblay", "eloise@example.com")
    assert entry.payment_method == PaymentMethod(
        token="pm_1UnitDeclined",
        card_id=f"card_{n}",
        brand="visa",
        last4="0341",
        customer_id="cus_UnitEloise",
    )
    # The card's network, as Stripe names it (the brand when it gives no network).
    assert entry.failure == Failure(
        "insufficient_funds", "Your card has insufficient funds.", network=Network.VISA
    )
    assert entry.failed_at == rfc3339(sent["created"])
    assert entry.scheduled_payment_id == f"sp_{n}"
    assert entry.invoice_items == (
        InvoiceItem(f"inv_{n}", "item_1", 10000),
        InvoiceItem(f"inv_{n}", "item_2", 2500),
    )
    [marker] = [i for i in table_items() if i["pk"]["S"] == f"DELIVERY#stripe#{sent['id']}"]
    assert marker["entity"]["S"] == "delivery"


def test_an_echeck_failure_without_card_details_takes_the_intents_method(
    webhooks: ModuleType,
) -> None:
    """No last_payment_error.payment_method: the type is the intent's first, the token its own."""
    intent = payment_intent(
        payment_method="pm_1UnitBank",
        payment_method_types=["us_bank_account"],
        last_payment_error={"code": "payment_method_microdeposit_failed", "message": "Returned."},
        metadata=documented_metadata(7, kind="one_time", scheduled_payment_id=None, card_id=None),
    )
    assert deliver(webhooks, as_json(event("payment_intent.payment_failed", intent)))[0] == 200
    entry = stored(intent["id"])
    assert (entry.type, entry.method) == (EntryType.ECHECK_PAYMENT, Method.ECHECK)
    assert entry.payment_method == PaymentMethod("pm_1UnitBank", customer_id="cus_UnitEloise")
    assert entry.failure == Failure("payment_method_microdeposit_failed", "Returned.")


def test_a_failed_refund_becomes_a_credit_card_refund_entry(webhooks: ModuleType) -> None:
    refunded = refund()
    assert deliver(webhooks, as_json(event("refund.failed", refunded))) == (
        200,
        {"status": "accepted"},
    )
    entry = stored(refunded["id"])
    assert (entry.type, entry.kind, entry.method) == (
        EntryType.CREDIT_CARD_REFUND,
        PaymentKind.REFUND,
        Method.CREDIT_CARD,
    )
    assert entry.payment_method.token == refunded["payment_intent"]
    assert entry.failure.code == "insufficient_funds"
    assert entry.failure.message.endswith("too low for the refund.")


def test_the_refund_updated_that_comes_with_refund_failed_makes_no_second_entry(
    webhooks: ModuleType,
) -> None:
    refunded = refund()
    deliver(webhooks, as_json(event("refund.failed", refunded)))
    assert deliver(webhooks, as_json(event("refund.updated", refunded))) == (
        200,
        {"status": "ignored", "reason": "this failure is already recorded"},
    )
    assert entities().count("entry") == 1


# --------------------------------------------------------------------- one effect, in any order


def test_the_same_event_delivered_twice_has_one_effect(webhooks: ModuleType) -> None:
    body = as_json(event("payment_intent.payment_failed", payment_intent()))
    deliver(webhooks, body)
    before = table_items()
    assert deliver(webhooks, body) == (200, {"status": "accepted"})
    assert table_items() == before


def test_a_second_event_for_the_same_payment_makes_no_second_entry(webhooks: ModuleType) -> None:
    intent = payment_intent()
    deliver(webhooks, as_json(event("payment_intent.payment_failed", intent)))
    assert deliver(webhooks, as_json(event("payment_intent.payment_failed", intent))) == (
        200,
        {"status": "ignored", "reason": "this failure is already recorded"},
    )
    assert entities().count("entry") == 1


def test_an_older_event_after_a_newer_one_changes_nothing(webhooks: ModuleType) -> None:
    intent = payment_intent()
    now = int(time.time())
    deliver(webhooks, as_json(event("payment_intent.payment_failed", intent, created=now)))
    before = stored(intent["id"])
    older = payment_intent(id=intent["id"], last_payment_error={"code": "expired_card"})
    deliver(webhooks, as_json(event("payment_intent.payment_failed", older, created=now - 60)))
    assert stored(intent["id"]) == before
    assert before.failed_at == rfc3339(now)


def test_an_event_from_the_future_is_400(webhooks: ModuleType) -> None:
    later = event("payment_intent.payment_failed", payment_intent(), created=int(time.time()) + 400)
    status, body = deliver(webhooks, as_json(later))
    assert (status, body["code"]) == (400, "invalid_payload")
    assert body["errors"] == [
        {"loc": "created", "msg": "is more than 300 s after the delivery was received"}
    ]
    assert entities() == ["delivery", "organization", "processor_account"]


# ------------------------------------------------------------------ ignored, never refused


def test_missing_metadata_is_ignored_naming_the_keys(webhooks: ModuleType) -> None:
    intent = payment_intent(metadata={"organization_id": "org_demo", "kind": "installment"})
    status, body = deliver(webhooks, as_json(event("payment_intent.payment_failed", intent)))
    assert (status, body["status"]) == (200, "ignored")
    for key in ("account_holder_id", "account_holder_name", "account_holder_email"):
        assert f"{key}: Field required" in body["reason"]
    assert "invoice_items: Field required" in body["reason"]
    assert "entry" not in entities()


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"invoice_items": "not json"}, "invoice_items"),
        ({"invoice_items": "[]"}, "invoice_items"),
        ({"account_holder_email": "nobody"}, "account_holder_email"),
        ({"kind": "layaway"}, "kind"),
        ({"scheduled_payment_id": None}, "scheduled_payment_id is required"),
    ],
    ids=["items not JSON", "no items", "bad email", "unknown kind", "installment without schedule"],
)
def test_invalid_metadata_is_ignored_saying_which_key(
    webhooks: ModuleType, metadata: dict[str, str | None], key: str
) -> None:
    intent = payment_intent(metadata=documented_metadata(1, **metadata))
    status, body = deliver(webhooks, as_json(event("payment_intent.payment_failed", intent)))
    assert (status, body["status"]) == (200, "ignored")
    assert key in body["reason"]
    assert "entry" not in entities()


def test_items_that_do_not_add_up_to_the_amount_are_ignored(webhooks: ModuleType) -> None:
    intent = payment_intent(amount=9999)
    status, body = deliver(webhooks, as_json(event("payment_intent.payment_failed", intent)))
    assert (status, body) == (
        200,
        {
            "status": "ignored",
            "reason": "the metadata's invoice_items add up to 12500, not to amount 9999",
        },
    )


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        ("acct_1SomeoneElse", "no organization has the connected account acct_1SomeoneElse"),
        (None, "the event names no connected account: not a Connect event"),
    ],
    ids=["unknown account", "no account"],
)
def test_an_event_of_no_known_account_is_ignored(
    webhooks: ModuleType, account: str | None, reason: str
) -> None:
    sent = event("payment_intent.payment_failed", payment_intent(), account=account)
    assert deliver(webhooks, as_json(sent)) == (200, {"status": "ignored", "reason": reason})
    assert "entry" not in entities()


def test_metadata_naming_another_organization_is_ignored(webhooks: ModuleType) -> None:
    intent = payment_intent(metadata=documented_metadata(1, organization_id="org_other"))
    status, body = deliver(webhooks, as_json(event("payment_intent.payment_failed", intent)))
    assert (status, body["status"]) == (200, "ignored")
    assert "organization_id" in body["reason"]
    assert "entry" not in entities()


def test_another_type_is_ignored_naming_the_handled_ones(webhooks: ModuleType) -> None:
    sent = event("charge.failed", {"id": "ch_1", "object": "charge"})
    assert deliver(webhooks, as_json(sent)) == (
        200,
        {
            "status": "ignored",
            "reason": "unknown event type 'charge.failed'",
            "known_types": [
                "payment_intent.payment_failed",
                "payment_intent.succeeded",
                "refund.failed",
                "refund.updated",
            ],
        },
    )


def test_a_pending_refund_update_is_ignored(webhooks: ModuleType) -> None:
    sent = event("refund.updated", refund(status="pending", failure_reason=None))
    status, body = deliver(webhooks, as_json(sent))
    assert (status, body["status"]) == (200, "ignored")
    assert body["reason"].endswith("is pending: not settled yet")


def test_a_success_that_settles_no_retry_is_ignored(webhooks: ModuleType) -> None:
    intent = payment_intent(status="succeeded", last_payment_error=None, payment_method="pm_1")
    assert deliver(webhooks, as_json(event("payment_intent.succeeded", intent))) == (
        200,
        {"status": "ignored", "reason": "a success that settles no retry"},
    )


def test_a_card_checkout_failure_is_not_tracked(webhooks: ModuleType) -> None:
    intent = payment_intent(metadata=documented_metadata(1, kind="one_time"))
    assert deliver(webhooks, as_json(event("payment_intent.payment_failed", intent))) == (
        200,
        {"status": "ignored", "reason": "one_time by credit_card is not tracked"},
    )


# ----------------------------------------------------------------------------- the signature


def refusals(body: bytes) -> dict[str, dict[str, str]]:
    good = stripe_headers(STRIPE_SECRET, body)
    return {
        "no header": {"content-type": "application/json"},
        "empty header": good | {"stripe-signature": ""},
        "wrong secret": stripe_headers("whsec_someoneElsesSecret", body),
        "the payments secret": signed_headers(STRIPE_SECRET, body, "msg_1"),
        "signed 301 s ago": stripe_headers(STRIPE_SECRET, body, int(time.time()) - 301),
        "no v1": good | {"stripe-signature": good["stripe-signature"].replace("v1=", "v0=")},
        "no timestamp": good | {"stripe-signature": good["stripe-signature"].split(",")[1]},
        "not ASCII": good | {"stripe-signature": f"t={int(time.time())},v1={'é' * 64}"},
        "body tampered": stripe_headers(STRIPE_SECRET, body.replace(b"12500", b"12501")),
    }


@pytest.mark.parametrize("case", list(refusals(b"{}")))
def test_any_signature_failure_is_401_and_stores_nothing(webhooks: ModuleType, case: str) -> None:
    body = as_json(event("payment_intent.payment_failed", payment_intent()))
    before = table_items()
    status, answered = deliver(webhooks, body, headers=refusals(body)[case])
    assert (status, answered) == (
        401,
        {"code": "invalid_signature", "message": "invalid webhook signature"},
    )
    assert table_items() == before


def test_a_signature_over_a_body_that_is_not_utf8_is_401(webhooks: ModuleType) -> None:
    body = b'{"id": "\xff"}'
    timestamp = int(time.time())
    header = stripe_signature(STRIPE_SECRET, b"", timestamp)
    assert deliver(webhooks, body, headers={"stripe-signature": header})[0] == 401


def test_a_body_over_256_kib_is_413(webhooks: ModuleType) -> None:
    body = json.dumps({"id": "evt_1", "pad": "a" * (256 * 1024)}).encode()
    assert deliver(webhooks, body)[0] == 413


def test_a_signed_body_that_is_not_a_stripe_event_is_400(webhooks: ModuleType) -> None:
    status, body = deliver(webhooks, b'{"type": "payment_intent.payment_failed"}')
    assert (status, body["code"]) == (400, "invalid_payload")
    status, body = deliver(webhooks, b"[1, 2]")
    assert (status, body["code"]) == (400, "invalid_payload")


def rotating(monkeypatch: pytest.MonkeyPatch, value: str) -> ModuleType:
    arn = boto3.client("secretsmanager").create_secret(Name="stripe-rotating", SecretString=value)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_ARN", arn["ARN"])
    return cold_start("webhooks")


def test_during_a_roll_either_secret_is_accepted(
    webhooks: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = "whsec_unitNewStripeEndpointSecret9876543"
    fn = rotating(monkeypatch, f"{new} {STRIPE_SECRET}")
    for secret in (new, STRIPE_SECRET):
        body = as_json(event("payment_intent.payment_failed", payment_intent()))
        assert deliver(fn, body, secret=secret) == (200, {"status": "accepted"})
    stale = as_json(event("payment_intent.payment_failed", payment_intent()))
    assert deliver(fn, stale, secret="whsec_unitRetiredSecret")[0] == 401


def test_a_secret_that_is_not_whsec_fails_the_invocation_naming_it_by_position(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template's placeholder, before the operator stores the endpoint's secret."""
    fn = rotating(monkeypatch, f"{STRIPE_SECRET} unset")
    body = as_json(event("payment_intent.payment_failed", payment_intent()))
    with pytest.raises(ValueError, match="secret 2 of the Stripe webhook secret") as raised:
        deliver(fn, body)
    assert "unset" not in str(raised.value)


# --------------------------------------------------------------- a pending e-check retry settles


def pending_echeck() -> Entry:
    """An e-check subscription that failed, retried by an admin, left pending by the processor."""
    entry_id, work = pending_retry("tok_echeck_pending", data__method="echeck")
    worker = cold_start("retry_worker")
    assert worker.lambda_handler(work, Context()) == {"batchItemFailures": []}
    entry = entries_store().get("org_demo", entry_id)
    assert entry.status is Status.RETRY_PENDING
    assert entry.retry is not None and entry.retry.processor_payment_id is not None
    return entry


def settlement(entry: Entry, event_type: str, created: int, **overrides: Any) -> bytes:
    """What Stripe sends of the PaymentIntent the retry made: its metadata as the Stripe
    processor writes it (stripe_processor.py `stripe_metadata`)."""
    assert entry.retry is not None and entry.retry.processor_payment_id is not None
    assert entry.scheduled_payment_id is not None  # an installment
    holder = entry.account_holder
    metadata = {
        "idempotency_key": entry.retry.idempotency_key(entry.id),
        "transaction_id": entry.id,
        "organization_id": entry.organization_id,
        "retry_of": entry.id,
        "payment_id": entry.payment_id,
        "kind": entry.kind.value,
        "account_holder_id": holder.id,
        "account_holder_name": holder.name,
        "account_holder_email": holder.email,
        "scheduled_payment_id": str(entry.scheduled_payment_id),
        "invoice_items": json.dumps(
            [
                {"amount": i.amount, "invoice_id": i.invoice_id, "item_id": i.item_id}
                for i in entry.invoice_items
            ],
            separators=(",", ":"),
            sort_keys=True,
        ),
    }
    intent = payment_intent(
        id=entry.retry.processor_payment_id,
        amount=entry.amount,
        payment_method="pm_1UnitBank",
        payment_method_types=["us_bank_account"],
        last_payment_error=None,
        status="succeeded",
        metadata=metadata,
    )
    return as_json(event(event_type, intent | overrides, created=created))


def test_a_succeeded_retry_settles_the_pending_echeck_as_recovered(webhooks: ModuleType) -> None:
    entry = pending_echeck()
    body = settlement(entry, "payment_intent.succeeded", int(time.time()) + 1)
    assert deliver(webhooks, body) == (200, {"status": "accepted"})
    settled = entries_store().get("org_demo", entry.id)
    assert settled.status is Status.RECOVERED
    assert entry.retry is not None
    assert settled.recovered_payment_id == entry.retry.processor_payment_id


def test_a_failed_retry_settles_the_pending_echeck_as_failed_again(webhooks: ModuleType) -> None:
    entry = pending_echeck()
    failed = {
        "status": "requires_payment_method",
        "last_payment_error": {"code": "insufficient_funds", "message": "NSF: returned."},
    }
    body = settlement(entry, "payment_intent.payment_failed", int(time.time()) + 1, **failed)
    assert deliver(webhooks, body) == (200, {"status": "accepted"})
    settled = entries_store().get("org_demo", entry.id)
    assert (settled.status, settled.attempts) == (Status.FAILED, 2)
    assert settled.failure == Failure("insufficient_funds", "NSF: returned.")


def test_a_late_older_outcome_does_not_undo_the_settlement(webhooks: ModuleType) -> None:
    entry = pending_echeck()
    now = int(time.time())
    deliver(webhooks, settlement(entry, "payment_intent.succeeded", now + 2))
    failed = {"last_payment_error": {"code": "insufficient_funds", "message": "Returned."}}
    late = settlement(entry, "payment_intent.payment_failed", now + 1, **failed)
    status, body = deliver(webhooks, late)
    assert (status, body["status"]) == (200, "ignored")
    assert entries_store().get("org_demo", entry.id).status is Status.RECOVERED


def test_a_settlement_for_another_organizations_account_changes_nothing(
    webhooks: ModuleType,
) -> None:
    entry = pending_echeck()
    body = settlement(entry, "payment_intent.succeeded", int(time.time()) + 1)
    other = json.loads(body) | {"account": "acct_1SomeoneElse"}
    status, answered = deliver(webhooks, as_json(other))
    assert (status, answered["status"]) == (200, "ignored")
    assert entries_store().get("org_demo", entry.id).status is Status.RETRY_PENDING


def test_a_retry_settles_on_its_retry_of_alone(webhooks: ModuleType) -> None:
    """The Stripe processor leaves out of its metadata what would not fit Stripe's limits (a long
    list of invoice items, stripe_processor.py `stripe_metadata`): the retry still settles."""
    entry = pending_echeck()
    body = json.loads(settlement(entry, "payment_intent.succeeded", int(time.time()) + 1))
    metadata = body["data"]["object"]["metadata"]
    for key in ("invoice_items", "account_holder_name", "account_holder_email", "kind"):
        del metadata[key]

    assert deliver(webhooks, as_json(body)) == (200, {"status": "accepted"})
    assert entries_store().get("org_demo", entry.id).status is Status.RECOVERED


def test_a_retry_of_that_is_no_id_is_ignored_saying_so(webhooks: ModuleType) -> None:
    entry = pending_echeck()
    body = json.loads(settlement(entry, "payment_intent.succeeded", int(time.time()) + 1))
    body["data"]["object"]["metadata"]["retry_of"] = "not an id #"

    status, answered = deliver(webhooks, as_json(body))

    assert (status, answered["status"]) == (200, "ignored")
    assert "retry_of" in answered["reason"]
    assert entries_store().get("org_demo", entry.id).status is Status.RETRY_PENDING


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("idempotency_key", "forged:retry:1"),  # not a request this retry sent
        ("amount", 1),  # a cent paid against the whole amount
        ("currency", "usd"),
    ],
)
def test_only_the_pending_attempts_own_payment_settles_it(
    webhooks: ModuleType, field: str, value: Any
) -> None:
    """Anyone able to create a PaymentIntent on the connected account could write `retry_of`:
    the key the retry sent, its amount and currency must be the attempt's, or nothing settles."""
    entry = pending_echeck()
    body = json.loads(settlement(entry, "payment_intent.succeeded", int(time.time()) + 1))
    intent = body["data"]["object"]
    if field == "idempotency_key":
        intent["metadata"][field] = value
    else:
        intent[field] = value

    status, answered = deliver(webhooks, as_json(body))

    assert (status, answered["status"]) == (200, "ignored")
    assert entries_store().get("org_demo", entry.id).status is Status.RETRY_PENDING


def test_an_event_dated_to_the_second_before_the_request_still_settles_it(
    webhooks: ModuleType,
) -> None:
    """Stripe dates events in whole seconds: the attempt's own payment settles it even when its
    `created` falls before the request's instant, since its key says whose it is."""
    entry = pending_echeck()
    assert entry.retry is not None
    requested = timestamps.epoch_seconds(entry.retry.requested_at)

    body = settlement(entry, "payment_intent.succeeded", requested - 1)

    assert deliver(webhooks, body) == (200, {"status": "accepted"})
    assert entries_store().get("org_demo", entry.id).status is Status.RECOVERED
