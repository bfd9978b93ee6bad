"""Stripe's webhook signature, written out as Stripe documents it rather than with the SDK that
verifies it (so a mistake in one is not repeated in the other): `Stripe-Signature:
t=<unix seconds>,v1=<hex HMAC-SHA256>`, keyed with the endpoint's secret string as UTF-8 (the
whole `whsec_…`, not decoded), over `<t>.<body>`. And Stripe events as its webhooks send them."""

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

_ids = itertools.count(1)

ACCOUNT = "acct_1UnitOrgDemo"


def stripe_signature(secret: str, payload: bytes, at: int | None = None) -> str:
    """The Stripe-Signature header's value for `payload`, signed at `at` (unix seconds; now)."""
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def stripe_headers(secret: str, payload: bytes, at: int | None = None) -> dict[str, str]:
    return {
        "stripe-signature": stripe_signature(secret, payload, at),
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }


def as_json(event: dict[str, Any]) -> bytes:
    """As Stripe sends it: indented JSON text (the signature covers these exact bytes)."""
    return json.dumps(event, indent=2, ensure_ascii=False).encode()


def documented_metadata(n: int, **overrides: str | None) -> dict[str, str]:
    """The metadata keys docs/webhooks.md asks the billing platform to set (an installment);
    an override of None leaves the key out."""
    metadata: dict[str, str | None] = {
        "organization_id": "org_demo",
        "kind": "installment",
        "account_holder_id": f"ah_{n}",
        "account_holder_name": "Éloïse Tremblay",
        "account_holder_email": "eloise@example.com",
        "scheduled_payment_id": f"sp_{n}",
        "invoice_items": json.dumps(
            [
                {"invoice_id": f"inv_{n}", "item_id": "item_1", "amount": 10000},
                {"invoice_id": f"inv_{n}", "item_id": "item_2", "amount": 2500},
            ],
            separators=(",", ":"),
        ),
        "card_id": f"card_{n}",
    } | overrides
    return {key: value for key, value in metadata.items() if value is not None}


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    created: int | None = None,
    account: str | None = ACCOUNT,
) -> dict[str, Any]:
    """A Connect event (Stripe API version 2025 shape) of `account`; None: the platform's own."""
    body: dict[str, Any] = {
        "id": f"evt_1Unit{next(_ids):08d}",
        "object": "event",
        "api_version": "2025-10-29.clover",
        "created": int(time.time()) - 5 if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account is not None:
        body["account"] = account
    return body


def declined_card_error(payment_method_id: str = "pm_1UnitDeclined") -> dict[str, Any]:
    """A PaymentIntent's last_payment_error for a card its bank declined."""
    return {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "payment_method": {
            "id": payment_method_id,
            "object": "payment_method",
            "type": "card",
            "customer": "cus_UnitEloise",
            "card": {
                "brand": "visa",
                "last4": "0341",
                "exp_month": 4,
                "exp_year": 2030,
                "funding": "credit",
                "country": "CA",
            },
            "billing_details": {"email": None, "name": None},
        },
    }


def payment_intent(**overrides: Any) -> dict[str, Any]:
    """A PaymentIntent whose off-session charge was declined, with the documented metadata;
    keyword arguments replace its fields (metadata whole)."""
    n = next(_ids)
    intent: dict[str, Any] = {
        "id": f"pi_3Unit{n:08d}",
        "object": "payment_intent",
        "amount": 12500,
        "amount_received": 0,
        "currency": "cad",
        "customer": "cus_UnitEloise",
        "payment_method": None,
        "payment_method_types": ["card"],
        "last_payment_error": declined_card_error(),
        "latest_charge": f"ch_3Unit{n:08d}",
        "status": "requires_payment_method",
        "metadata": documented_metadata(n),
        "livemode": False,
    }
    return intent | overrides


def refund(**overrides: Any) -> dict[str, Any]:
    """A refund that failed for the connected account's balance, with the documented metadata
    of a refund."""
    n = next(_ids)
    refunded: dict[str, Any] = {
        "id": f"re_3Unit{n:08d}",
        "object": "refund",
        "amount": 12500,
        "currency": "cad",
        "charge": f"ch_3Unit{n:08d}",
        "payment_intent": f"pi_3Unit{n:08d}",
        "status": "failed",
        "failure_reason": "insufficient_funds",
        "reason": "requested_by_customer",
        "metadata": documented_metadata(n, kind="refund", scheduled_payment_id=None),
    }
    return refunded | overrides
