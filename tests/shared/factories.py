"""One factory per kind of thing the tests build: events, entries, deliveries, processor
requests."""

import copy
import itertools
from datetime import timedelta
from typing import Any

from payment_action_center.adapters.http.payment_webhook import PaymentEvent, parse
from payment_action_center.adapters.http.signatures import Delivery
from payment_action_center.app import payment_events
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Entry, Method
from payment_action_center.ports import ChargeRequest, Operation

_ids = itertools.count(1)


def payment_failed(**overrides: Any) -> dict[str, Any]:
    """A valid `payment.failed` body (an installment by card); `data__x=…` overrides data.x."""
    n = next(_ids)
    body: dict[str, Any] = {
        "type": "payment.failed",
        "occurred_at": "2026-11-24T15:30:00Z",
        "data": {
            "organization_id": "org_demo",
            "payment_id": f"pay_{n:05d}",
            "kind": "installment",
            "method": "credit_card",
            "amount": 12500,
            "currency": "CAD",
            "account_holder": {
                "id": f"ah_{n}",
                "name": "Éloïse Tremblay",
                "email": "eloise@example.com",
            },
            "payment_method": {
                "token": "tok_card_declined",
                "card_id": f"card_{n}",
                "brand": "visa",
                "last4": "4242",
            },
            "scheduled_payment_id": f"sp_{n}",
            "invoice_items": [
                {"invoice_id": f"inv_{n}", "item_id": "item_1", "amount": 10000},
                {"invoice_id": f"inv_{n}", "item_id": "item_2", "amount": 2500},
            ],
            "failure": {"code": "card_declined", "message": "The card was declined."},
        },
    }
    for key, value in overrides.items():
        target = body
        *path, last = key.split("__")
        for part in path:
            target = target[part]
        target[last] = copy.deepcopy(value)
    return body


def refund_failed(**overrides: Any) -> dict[str, Any]:
    defaults = {
        "type": "refund.failed",
        "data__kind": "refund",
        "data__method": "credit_card",
        "data__scheduled_payment_id": None,
        "data__failure": {"code": "insufficient_funds", "message": "Merchant balance too low."},
    }
    return payment_failed(**(defaults | overrides))


RECEIVED_AT = "2026-11-24T15:30:01.000000000Z"


def delivery(
    webhook_id: str | None = None,
    received_at: str | None = None,
    *,
    of: dict[str, Any] | None = None,
) -> Delivery:
    """A delivery received at `received_at`; else a second after the `occurred_at` of the body it
    brings (`of`), as a sender delivers at once; else at RECEIVED_AT."""
    if received_at is None:
        received_at = RECEIVED_AT
        if of is not None:
            received_at = timestamps.plus(
                timestamps.canonical(of["occurred_at"]), timedelta(seconds=1)
            )
    return Delivery("payments", webhook_id or f"msg_{next(_ids)}", received_at)


def entry(**overrides: Any) -> Entry:
    """An open entry as the webhook would record it."""
    event = parse(PaymentEvent, payment_failed(**overrides))
    made = payment_events.new_entry(event.report(), received_at="2026-11-24T15:30:01.000000000Z")
    assert made is not None
    return made


def charge_request(
    idempotency_key: str,
    token: str = "tok_success",
    *,
    operation: Operation = Operation.CHARGE,
    transaction_id: str = "txn_x",
) -> ChargeRequest:
    """A retry's e-check charge (or refund) as the worker sends it to the processor."""
    return ChargeRequest(
        operation=operation,
        transaction_id=transaction_id,
        token=token,
        method=Method.ECHECK,
        amount=500,
        currency="CAD",
        idempotency_key=idempotency_key,
        metadata={
            "organization_id": "org_demo",
            "payment_id": "pay_00001",
            "kind": "subscription",
            "account_holder": {"id": "ah_1", "name": "Zoé", "email": "zoe@example.com"},
            "scheduled_payment_id": "sp_1",
            "invoice_items": [{"invoice_id": "inv_1", "item_id": "i1", "amount": 500}],
        },
    )


# ------------------------------------------------------------------ billing platform events


def _overridden(body: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        target = body
        *path, last = key.split("__")
        for part in path:
            target = target[part]
        target[last] = copy.deepcopy(value)
    return body


def organization_upserted(**overrides: Any) -> dict[str, Any]:
    """A valid `organization.upserted` body for org_demo; `data__x=…` overrides data.x."""
    platform = "https://plateforme.example/centre-demo"
    body: dict[str, Any] = {
        "type": "organization.upserted",
        "occurred_at": "2026-11-20T12:00:00Z",
        "data": {
            "organization_id": "org_demo",
            "name": "Centre récréatif Démo",
            "billing_contact_email": "facturation@centre-demo.example",
            "locale": "fr-CA",
            "time_zone": "America/Toronto",
            "console_url": f"{platform}/centre-actions-paiement",
            "upcoming_payments_url_template": (
                f"{platform}/clients/{{account_holder_id}}/paiements-a-venir"
            ),
            "client_url_template": f"{platform}/clients/{{account_holder_id}}",
            "card_update_url_template": f"{platform}/clients/{{account_holder_id}}/cartes",
        },
    }
    return _overridden(body, overrides)


def scheduled_payment_upserted(**overrides: Any) -> dict[str, Any]:
    """A valid `scheduled_payment.upserted` body (an installment by card)."""
    n = next(_ids)
    body: dict[str, Any] = {
        "type": "scheduled_payment.upserted",
        "occurred_at": "2026-11-20T12:00:00Z",
        "data": {
            "organization_id": "org_demo",
            "scheduled_payment_id": f"sp_{n}",
            "kind": "installment",
            "account_holder": {
                "id": f"ah_{n}",
                "name": "Noah Roy",
                "email": "noah@example.com",
            },
            "payment_method": {"token": "tok_success", "card_id": f"card_{n}"},
            "method": "credit_card",
            "next_payment_at": "2026-12-01T14:00:00Z",
            "amount": 7500,
            "currency": "CAD",
        },
    }
    return _overridden(body, overrides)


def scheduled_payment_ended(**overrides: Any) -> dict[str, Any]:
    """A valid `scheduled_payment.ended` body; name the payment with data__scheduled_payment_id."""
    body: dict[str, Any] = {
        "type": "scheduled_payment.ended",
        "occurred_at": "2026-11-21T12:00:00Z",
        "data": {"organization_id": "org_demo", "scheduled_payment_id": f"sp_{next(_ids)}"},
    }
    return _overridden(body, overrides)


def billing_delivery(
    webhook_id: str | None = None, received_at: str = "2026-11-24T15:30:01.000000000Z"
) -> Delivery:
    """A verified delivery to /webhooks/billing."""
    return Delivery("billing", webhook_id or f"msg_{next(_ids)}", received_at)


def card_upserted(**overrides: Any) -> dict[str, Any]:
    """A valid `card.upserted` body: a wallet card of org_demo expiring in December 2026."""
    n = next(_ids)
    body: dict[str, Any] = {
        "type": "card.upserted",
        "occurred_at": "2026-11-20T12:00:00Z",
        "data": {
            "organization_id": "org_demo",
            "card_id": f"card_{n}",
            "account_holder": {
                "id": f"ah_{n}",
                "name": "Éloïse Tremblay",
                "email": "eloise@example.com",
            },
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2026,
            "in_wallet": True,
        },
    }
    return _overridden(body, overrides)


def card_deleted(**overrides: Any) -> dict[str, Any]:
    """A valid `card.deleted` body; name the card with data__card_id."""
    body: dict[str, Any] = {
        "type": "card.deleted",
        "occurred_at": "2026-11-21T12:00:00Z",
        "data": {"organization_id": "org_demo", "card_id": f"card_{next(_ids)}"},
    }
    return _overridden(body, overrides)
