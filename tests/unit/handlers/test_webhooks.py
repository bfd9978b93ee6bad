"""POST /webhooks/payments and /webhooks/billing through the real handler, on moto."""

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.shared import factories
from tests.shared.lambdas import Context, answer, as_json, cold_start, http_event, signed_headers
from tests.shared.moto_aws import BILLING_SECRET, PAYMENTS_SECRET, TABLE


@pytest.fixture
def webhooks(aws: dict[str, str]) -> ModuleType:
    return cold_start("webhooks")


def deliver(
    fn: ModuleType,
    body: bytes,
    *,
    webhook_id: str = "msg_1",
    secret: str = PAYMENTS_SECRET,
    path: str = "/webhooks/payments",
    headers: dict[str, str] | None = None,
    at: datetime | None = None,
) -> tuple[int, Any]:
    sent = signed_headers(secret, body, webhook_id, at) if headers is None else headers
    return answer(fn.lambda_handler(http_event("POST", path, headers=sent, body=body), Context()))


def table_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=TABLE)["Items"]


def test_a_signed_failure_is_accepted_and_stored(webhooks: ModuleType) -> None:
    status, body = deliver(webhooks, as_json(factories.payment_failed()))
    assert (status, body) == (200, {"status": "accepted"})
    entities = sorted(i["entity"]["S"] for i in table_items())
    # recovery_day: the day's recovery counters, added to in the same transaction.
    assert entities == ["audit", "delivery", "entry", "failure", "recovery_day"]


def test_a_new_failure_costs_one_write_request(webhooks: ModuleType) -> None:
    calls: list[str] = []
    client = webhooks.adapters.entries._client
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    deliver(webhooks, as_json(factories.payment_failed()))
    assert calls == ["TransactWriteItems"]


def test_redelivery_of_a_webhook_id_answers_200_and_changes_nothing(webhooks: ModuleType) -> None:
    body = as_json(factories.payment_failed())
    deliver(webhooks, body, webhook_id="msg_again")
    before = table_items()
    assert deliver(webhooks, body, webhook_id="msg_again") == (200, {"status": "accepted"})
    assert table_items() == before


def test_the_same_failure_under_a_new_webhook_id_makes_no_second_entry(
    webhooks: ModuleType,
) -> None:
    body = factories.payment_failed()
    deliver(webhooks, as_json(body), webhook_id="msg_a")
    assert deliver(webhooks, as_json(body), webhook_id="msg_b") == (
        200,
        {"status": "ignored", "reason": "this failure is already recorded"},
    )
    assert sum(i["entity"]["S"] == "entry" for i in table_items()) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            factories.payment_failed(
                data__kind="one_time", data__method="credit_card", data__scheduled_payment_id=None
            ),
            "one_time by credit_card is not tracked",
        ),
        (factories.refund_failed(data__method="echeck"), "refund by echeck is not tracked"),
    ],
    ids=["card checkout failure", "echeck refund"],
)
def test_untracked_failures_are_ignored_saying_why(
    webhooks: ModuleType, body: Any, reason: str
) -> None:
    assert deliver(webhooks, as_json(body)) == (200, {"status": "ignored", "reason": reason})
    assert table_items() == []


def test_a_misspelled_type_is_ignored_naming_the_known_types(webhooks: ModuleType) -> None:
    body = factories.payment_failed(type="payment.faild")
    assert deliver(webhooks, as_json(body)) == (
        200,
        {
            "status": "ignored",
            "reason": "unknown event type 'payment.faild'",
            "known_types": [
                "payment.failed",
                "payment.succeeded",
                "refund.failed",
                "refund.succeeded",
            ],
        },
    )
    assert table_items() == []


def wrong_headers(body: bytes) -> dict[str, dict[str, str]]:
    good = signed_headers(PAYMENTS_SECRET, body, "msg_x")
    return {
        "no signature": {k: v for k, v in good.items() if k != "webhook-signature"},
        "no id": {k: v for k, v in good.items() if k != "webhook-id"},
        "no timestamp": {k: v for k, v in good.items() if k != "webhook-timestamp"},
        "malformed signature": good | {"webhook-signature": "garbage"},
        "bad base64": good | {"webhook-signature": "v1,@@@"},
        "other endpoint's secret": signed_headers(BILLING_SECRET, body, "msg_x"),
        "stale": signed_headers(
            PAYMENTS_SECRET, body, "msg_x", datetime.now(UTC) - timedelta(seconds=310)
        ),
        "from the future": signed_headers(
            PAYMENTS_SECRET, body, "msg_x", datetime.now(UTC) + timedelta(seconds=310)
        ),
        "id changed after signing": good | {"webhook-id": "msg_y"},
    }


@pytest.mark.parametrize("case", list(wrong_headers(b"{}")))
def test_any_verification_failure_is_401_and_stores_nothing(
    webhooks: ModuleType, case: str
) -> None:
    body = as_json(factories.payment_failed())
    status, answer_body = deliver(webhooks, body, headers=wrong_headers(body)[case])
    assert status == 401
    assert answer_body["code"] == "invalid_signature"
    assert table_items() == []


def test_a_body_changed_after_signing_is_401(webhooks: ModuleType) -> None:
    body = as_json(factories.payment_failed())
    headers = signed_headers(PAYMENTS_SECRET, body, "msg_t")
    tampered = body.replace(b"12500", b"12501")
    assert deliver(webhooks, tampered, headers=headers)[0] == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", None),
        (b"[1, 2]", None),
        (as_json(factories.payment_failed(data__amount=0)), "data.amount"),
        (as_json(factories.payment_failed(data__amount=12.5)), "data.amount"),
        (as_json(factories.payment_failed(data__currency="cad")), "data.currency"),
        (as_json(factories.payment_failed(data__kind="layaway")), "data.kind"),
        (as_json(factories.payment_failed(data__method="cash")), "data.method"),
        (
            as_json(factories.payment_failed(data__account_holder__email="nope")),
            "data.account_holder.email",
        ),
        (as_json(factories.payment_failed(data__amount=99)), "data"),
        (as_json(factories.payment_failed(occurred_at="yesterday")), "occurred_at"),
    ],
)
def test_a_body_that_does_not_validate_is_400_with_reasons(
    webhooks: ModuleType, body: bytes, field: str | None
) -> None:
    status, answer_body = deliver(webhooks, body)
    assert status == 400
    assert answer_body["code"] == "invalid_payload"
    if field:
        assert field in [e["loc"] for e in answer_body["errors"]]
    assert table_items() == []


def duplicated_organization() -> bytes:
    text = as_json(factories.payment_failed()).decode()
    return text.replace('"data": {', '"data": {"organization_id": "org_other", ', 1).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested deeper than 32 levels"),
        (duplicated_organization(), "the name 'organization_id' appears twice"),
        (as_json(factories.payment_failed(data__account_holder__name="Ann\x00e")), "U+0000"),
        (
            as_json(factories.payment_failed()).replace(
                b'"amount": 12500', b'"amount": ' + b"9" * 5000, 1
            ),
            "more than 32 characters",
        ),
    ],
)
def test_a_hostile_signed_body_is_400_saying_why_and_stores_nothing(
    webhooks: ModuleType, body: bytes, reason: str
) -> None:
    status, answer_body = deliver(webhooks, body)
    assert (status, answer_body["code"]) == (400, "invalid_payload"), answer_body
    assert reason in answer_body["message"]
    assert table_items() == []


@pytest.mark.parametrize("endpoint", ["payments", "billing"])
def test_an_event_from_the_future_is_400_and_stores_nothing(
    webhooks: ModuleType, endpoint: str
) -> None:
    """An organization.upserted dated 9999 would otherwise be the newest forever, and every
    real one after it ignored as older."""
    event = (
        factories.payment_failed(occurred_at="9999-12-31T23:59:59Z")
        if endpoint == "payments"
        else factories.organization_upserted(occurred_at="9999-12-31T23:59:59Z")
    )
    secret = PAYMENTS_SECRET if endpoint == "payments" else BILLING_SECRET
    status, answer_body = deliver(
        webhooks, as_json(event), secret=secret, path=f"/webhooks/{endpoint}"
    )
    assert (status, answer_body["code"]) == (400, "invalid_payload"), answer_body
    assert answer_body["errors"] == [
        {"loc": "occurred_at", "msg": "is more than 300 s after the delivery was received"}
    ]
    assert table_items() == []


def test_a_missing_required_field_is_400(webhooks: ModuleType) -> None:
    body = factories.payment_failed()
    del body["data"]["payment_id"]
    status, answer_body = deliver(webhooks, as_json(body))
    assert status == 400
    assert "data.payment_id" in [e["loc"] for e in answer_body["errors"]]


def test_a_body_over_256_kib_is_413(webhooks: ModuleType) -> None:
    body = json.dumps({"type": "x", "pad": "a" * (256 * 1024)}).encode()
    assert deliver(webhooks, body)[0] == 413
    assert table_items() == []


def test_the_billing_endpoint_checks_its_own_secret(webhooks: ModuleType) -> None:
    body = as_json({"type": "customer.noted", "occurred_at": "2026-11-24T10:00:00Z", "data": {}})
    assert deliver(webhooks, body, path="/webhooks/billing")[0] == 401
    assert deliver(webhooks, body, path="/webhooks/billing", secret=BILLING_SECRET)[0] == 200


def test_cold_start_fails_clearly_without_its_settings(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYMENTS_WEBHOOK_SECRET_ARN")
    with pytest.raises(RuntimeError, match="PAYMENTS_WEBHOOK_SECRET_ARN"):
        cold_start("webhooks")


# ----------------------------------------------------------------------------- network codes


def test_the_network_s_and_the_bank_s_codes_are_kept_with_the_entry(webhooks: ModuleType) -> None:
    """failure.network, network_decline_code and advice_code on a card; return_code on a debit;
    attributes of the entry item, written only when sent."""
    card = factories.payment_failed(
        data__failure={
            "code": "card_declined",
            "message": "Declined.",
            "network": "mastercard",
            "network_decline_code": "05",
            "advice_code": "03",
        }
    )
    debit = factories.payment_failed(
        data__payment_id="pay_debit",
        data__method="echeck",
        data__failure={"code": "debit_returned", "message": "Returned.", "return_code": "R10"},
    )
    assert deliver(webhooks, as_json(card))[0] == 200
    assert deliver(webhooks, as_json(debit), webhook_id="msg_2")[0] == 200
    entries = {
        i["payment_id"]["S"]: {k: v.get("S") for k, v in i.items()}
        for i in table_items()
        if i.get("entity") == {"S": "entry"}
    }
    stored = entries[card["data"]["payment_id"]]
    assert (stored["failure_network"], stored["failure_advice_code"]) == ("mastercard", "03")
    assert stored["failure_network_decline_code"] == "05"
    assert "failure_return_code" not in stored
    assert entries["pay_debit"]["failure_return_code"] == "R10"
    assert "failure_network" not in entries["pay_debit"]


@pytest.mark.parametrize(
    ("method", "failure", "field"),
    [
        ("credit_card", {"network": "cash"}, "data.failure.network"),
        (
            "credit_card",
            {"network_decline_code": "05 and more"},
            "data.failure.network_decline_code",
        ),
        ("credit_card", {"advice_code": "3"}, "data.failure.advice_code"),
        ("credit_card", {"advice_code": "ab"}, "data.failure.advice_code"),
        ("echeck", {"return_code": "R1"}, "data.failure.return_code"),
        ("echeck", {"return_code": "801"}, "data.failure.return_code"),
        ("echeck", {"return_code": "r01"}, "data.failure.return_code"),
        # A network's codes on a debit, or a bank's on a card, would be read by the wrong rules.
        ("echeck", {"advice_code": "03"}, "(body)"),
        ("echeck", {"network": "visa"}, "(body)"),
        ("credit_card", {"return_code": "R01"}, "(body)"),
    ],
)
def test_a_network_or_bank_code_of_the_wrong_shape_or_method_is_400(
    webhooks: ModuleType, method: str, failure: dict[str, str], field: str
) -> None:
    body = factories.payment_failed(
        data__method=method, data__failure={"code": "declined", "message": ""} | failure
    )
    status, answer_body = deliver(webhooks, as_json(body))
    assert (status, answer_body["code"]) == (400, "invalid_payload"), answer_body
    assert field in [e["loc"] for e in answer_body["errors"]], answer_body
    assert table_items() == []


def test_a_success_is_not_refused_for_the_failure_fields_it_need_not_carry(
    webhooks: ModuleType,
) -> None:
    """`failure` means nothing on a success: a sender that leaves a card's codes on an e-check
    settlement must not have the settlement refused (it would leave a retry pending)."""
    body = factories.payment_failed(
        type="payment.succeeded",
        data__method="echeck",
        data__failure={"code": "x", "message": "", "network": "visa"},
    )
    status, answer_body = deliver(webhooks, as_json(body))
    assert status == 200, answer_body
