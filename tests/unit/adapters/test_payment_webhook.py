"""Validation of processor events (docs/contract.md §4.1): each rule is a 400 whose reasons name
the field."""

from typing import Any

import pytest

from payment_action_center.adapters.http.payment_webhook import PaymentEvent, parse
from payment_action_center.domain.errors import InvalidPayload, Problem
from tests.shared.factories import payment_failed

MISSING = object()


def event(**overrides: Any) -> dict[str, Any]:
    """A valid `payment.failed` body; `data__amount=0` overrides data.amount, MISSING removes it.

    Built on the project's factory; paths may name list positions (`data__invoice_items__0__…`).
    """
    removed = [path for path, value in overrides.items() if value is MISSING]
    body = payment_failed(**{path: v for path, v in overrides.items() if v is not MISSING})
    for path in removed:
        *parents, last = path.split("__")
        target: Any = body
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[int(last) if isinstance(target, list) else last]
    return body


def reasons(body: dict[str, Any]) -> list[Problem]:
    with pytest.raises(InvalidPayload) as refused:
        parse(PaymentEvent, body)
    return refused.value.problems


def names(problem: Problem, field: str) -> bool:
    """The problem is at the field, or at a parent of it and says the field's name."""
    parts = field.split(".")
    parents = {"(body)"} | {".".join(parts[:n]) for n in range(1, len(parts))}
    return problem.loc == field or (problem.loc in parents and parts[-1] in problem.msg)


def assert_refused(body: dict[str, Any], field: str) -> None:
    problems = reasons(body)
    assert any(names(problem, field) for problem in problems), (
        f"expected a problem naming {field}, got {problems}"
    )


def test_valid_event_is_read_with_a_canonical_occurred_at() -> None:
    parsed = parse(PaymentEvent, event(occurred_at="2026-11-24T10:30:00.5-05:00"))

    assert parsed.failed
    assert parsed.occurred_at == "2026-11-24T15:30:00.500000000Z"
    assert parsed.data.amount == 12500
    assert sum(item.amount for item in parsed.data.invoice_items) == 12500


def test_refund_of_one_item_without_scheduled_payment_is_valid() -> None:
    body = event(
        type="refund.failed",
        data__kind="refund",
        data__scheduled_payment_id=MISSING,
        data__amount=2500,
        data__invoice_items=[{"invoice_id": "inv_1", "item_id": "item_2", "amount": 2500}],
    )

    assert parse(PaymentEvent, body).data.scheduled_payment_id is None


def test_fields_the_contract_does_not_name_are_ignored() -> None:
    assert parse(PaymentEvent, event(data__processor_extra={"x": 1})).data.amount == 12500


@pytest.mark.parametrize(
    "amount", [0, -1, -12500, 12.5, 12500.0, "1250", "12500", True, None, 10**15]
)
def test_amount_that_is_not_a_positive_integer_is_refused(amount: object) -> None:
    assert_refused(event(data__amount=amount), "data.amount")


@pytest.mark.parametrize("amount", [0, -100, 2.5, "100", True])
def test_invoice_item_amount_that_is_not_a_positive_integer_is_refused(amount: object) -> None:
    items = [{"invoice_id": "inv_1", "item_id": "item_1", "amount": amount}]

    assert_refused(event(data__invoice_items=items), "data.invoice_items.0.amount")


@pytest.mark.parametrize("currency", ["cad", "CA", "CADD", "Cad", "C4D", "", " CAD", 124])
def test_currency_that_is_not_three_capitals_is_refused(currency: object) -> None:
    assert_refused(event(data__currency=currency), "data.currency")


@pytest.mark.parametrize(
    "amounts",
    [
        [10000, 2000],  # short by 500
        [10000, 2500, 1],  # over by 1
        [12499],
    ],
)
def test_invoice_items_that_do_not_add_up_to_the_amount_are_refused(amounts: list[int]) -> None:
    items = [
        {"invoice_id": "inv_1", "item_id": f"item_{n}", "amount": amount}
        for n, amount in enumerate(amounts)
    ]

    assert_refused(event(data__amount=12500, data__invoice_items=items), "data.invoice_items")


def test_event_without_invoice_items_is_refused() -> None:
    assert_refused(event(data__invoice_items=[]), "data.invoice_items")


@pytest.mark.parametrize("kind", ["donation", "ONE_TIME", "", None, 1])
def test_unknown_kind_is_refused(kind: object) -> None:
    assert_refused(event(data__kind=kind), "data.kind")


@pytest.mark.parametrize("method", ["cash", "ach", "CREDIT_CARD", "card", "", None])
def test_unknown_method_is_refused(method: object) -> None:
    assert_refused(event(data__method=method), "data.method")


@pytest.mark.parametrize(
    "field",
    [
        "type",
        "occurred_at",
        "data",
        "data.organization_id",
        "data.payment_id",
        "data.kind",
        "data.method",
        "data.amount",
        "data.currency",
        "data.account_holder",
        "data.account_holder.id",
        "data.account_holder.name",
        "data.account_holder.email",
        "data.payment_method",
        "data.payment_method.token",
        "data.invoice_items",
        "data.invoice_items.0.invoice_id",
        "data.invoice_items.0.item_id",
        "data.invoice_items.0.amount",
        "data.failure.code",
    ],
)
def test_event_missing_a_required_field_is_refused(field: str) -> None:
    assert_refused(event(**{field.replace(".", "__"): MISSING}), field)


@pytest.mark.parametrize(
    "email",
    [
        "not-an-address",
        "eloise@",
        "@example.com",
        "eloise example@example.com",
        "eloise@@example.com",
        "",
        "eloise@example.com\nBcc: all@example.com",
    ],
)
def test_account_holder_email_that_is_not_an_address_is_refused(email: str) -> None:
    assert_refused(event(data__account_holder__email=email), "data.account_holder.email")


def test_refund_failure_of_an_installment_is_refused() -> None:
    assert_refused(event(type="refund.failed", data__kind="installment"), "data.kind")


def test_payment_failure_carrying_kind_refund_is_refused() -> None:
    body = event(type="payment.failed", data__kind="refund", data__scheduled_payment_id=MISSING)

    assert_refused(body, "data.kind")


@pytest.mark.parametrize("failure", [MISSING, None])
def test_payment_failure_without_failure_is_refused(failure: object) -> None:
    assert_refused(event(data__failure=failure), "data.failure")


@pytest.mark.parametrize("kind", ["installment", "subscription"])
@pytest.mark.parametrize("scheduled_payment_id", [MISSING, None])
def test_scheduled_payment_without_scheduled_payment_id_is_refused(
    kind: str, scheduled_payment_id: object
) -> None:
    body = event(data__kind=kind, data__scheduled_payment_id=scheduled_payment_id)

    assert_refused(body, "data.scheduled_payment_id")


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-11-24T15:30:00",
        "2026-11-24T15:30:00.123456789",
        "2026-11-24",
        "24/11/2026 15:30",
        "yesterday",
        1795626287,
    ],
)
def test_occurred_at_without_a_zone_is_refused(occurred_at: object) -> None:
    assert_refused(event(occurred_at=occurred_at), "occurred_at")


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_occurred_at_outside_the_calendar_in_utc_is_a_400_not_a_crash(occurred_at: str) -> None:
    # Valid RFC 3339 text whose UTC instant no datetime can hold: the sender must hear why (400),
    # where an OverflowError out of the validator would be a 500.
    assert_refused(event(occurred_at=occurred_at), "occurred_at")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data__organization_id", "org#demo"),
        ("data__payment_id", "pay 1"),
        ("data__payment_id", ""),
        ("data__account_holder__id", "ah/1"),
        ("data__payment_method__last4", "42"),
        ("data__payment_method__last4", "\u0664\u0662\u0664\u0662"),  # Arabic-Indic digits
        ("data__payment_method__last4", "\uff14\uff12\uff14\uff12"),  # full-width digits
    ],
)
def test_ids_that_are_not_url_safe_are_refused(field: str, value: str) -> None:
    assert_refused(event(**{field: value}), field.replace("__", "."))


def test_every_problem_of_a_body_is_listed() -> None:
    problems = reasons(event(data__amount=0, data__currency="cad", data__method="cash"))

    assert {problem.loc for problem in problems} >= {
        "data.amount",
        "data.currency",
        "data.method",
    }


def test_body_that_is_not_an_object_is_refused_as_a_whole() -> None:
    assert_refused([event()], "(body)")  # type: ignore[arg-type]
