"""Demo data for organization org_demo, delivered through the real webhook path: each event is
signed as the payment processor or the billing platform would sign it and POSTed to the gateway.

The failures are dated relative to the start-up, some of them over the 24 hours before it and the
newest at the start-up itself, so that the digest run at the next 07:00 in org_demo's time zone
(README, local stack) finds failures wherever that 07:00 falls; older ones fill the table.
"""

import base64
import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from local import config

PLATFORM = "https://plateforme.example/centre-demo"

ORGANIZATION = {
    "name": "Centre récréatif Démo",
    "billing_contact_email": "facturation@centre-demo.example",
    "locale": "fr-CA",
    "time_zone": "America/Toronto",
    "console_url": f"{PLATFORM}/centre-actions-paiement",
    "upcoming_payments_url_template": f"{PLATFORM}/clients/{{account_holder_id}}/paiements-a-venir",
    "client_url_template": f"{PLATFORM}/clients/{{account_holder_id}}",
    "card_update_url_template": f"{PLATFORM}/clients/{{account_holder_id}}/cartes",
}


def stripe_account(org_id: str) -> str:
    """The demo organization's Stripe Connect account, sent as its `processor_account_id`
    (org_demo: acct_1OrgDemo): with PROCESSOR=stripe the Stripe adapter charges on it at the
    fake Stripe API (local/fake_stripe.py); the sandbox ignores it."""
    return "acct_1" + "".join(c for c in org_id.title() if c.isalnum())[:63]


class DeliveryRefused(RuntimeError):
    """The gateway did not answer 200 to a demo delivery."""


class LocalEndpointRefused(RuntimeError):
    """A local-only endpoint (docs/contract.md §5) did not answer 200."""


@dataclass(frozen=True)
class Failure:
    kind: str  # one_time | installment | subscription | refund
    method: str  # credit_card | echeck
    holder: str
    amount: int  # cents
    code: str
    message: str
    token: str  # the sandbox processor decides a retry's outcome by it (README, retries)
    hours_ago: float  # before the start-up


FAILURES = [
    Failure("installment", "credit_card", "Gabriel Gagnon", 8250, "card_declined",
            "Carte refusée", "tok_success", 0),
    Failure("one_time", "echeck", "Léa Fortin", 3200, "nsf",
            "Provision insuffisante", "tok_echeck_pending", 0.05),  # 3 minutes
    Failure("subscription", "credit_card", "William Poirier", 2499, "expired_card",
            "Carte expirée", "tok_success", 0.75),
    Failure("refund", "credit_card", "Éloïse Tremblay", 4500, "insufficient_funds",
            "Fonds insuffisants dans le compte marchand", "tok_success", 2),
    Failure("one_time", "echeck", "François Côté", 8900, "nsf",
            "Provision insuffisante", "tok_echeck_pending", 5),
    Failure("installment", "credit_card", "Noah Roy", 7500, "card_declined",
            "Carte refusée", "tok_success", 9),
    Failure("subscription", "credit_card", "Amélie Morin", 3999, "expired_card",
            "Carte expirée", "tok_card_declined", 14),
    Failure("installment", "echeck", "Mathis Bouchard", 6250, "account_closed",
            "Compte fermé", "tok_echeck_pending", 20),
    Failure("subscription", "echeck", "Hélène Girard", 4999, "nsf",
            "Provision insuffisante", "tok_success", 27),
    Failure("refund", "credit_card", "Liam O'Brien", 12000, "insufficient_funds",
            "Insufficient funds in the merchant account", "tok_insufficient_funds", 33),
    Failure("installment", "credit_card", "Zoé Lévesque", 11000, "insufficient_funds",
            "Fonds insuffisants", "tok_insufficient_funds", 40),
    Failure("one_time", "echeck", "Olivia Smith", 15000, "account_closed",
            "Account closed", "tok_success", 47),
    Failure("subscription", "credit_card", "Jérôme Pelletier", 2999, "card_declined",
            "Carte refusée", "tok_success", 55),
    Failure("installment", "echeck", "Emma Wilson", 5400, "nsf",
            "Non-sufficient funds", "tok_success", 62),
    Failure("subscription", "credit_card", "Chloé Bélanger", 1999, "expired_card",
            "Carte expirée", "tok_success", 70),
]  # fmt: skip


def plain(name: str) -> str:
    """ "Éloïse Tremblay" -> "eloise_tremblay" (for ids and email addresses)."""
    letters = unicodedata.normalize("NFKD", name.lower()).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else "_" for c in letters if c != "'")


def rfc3339(at: datetime, timespec: str = "seconds") -> str:
    return at.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def payment_id(org_id: str, number: int) -> str:
    """The processor's id of the demo's failed payment (of the payment refunded, for a refund)."""
    return f"pay_{org_id}_{number:04d}"


def refunded_payments(org_id: str = config.DEMO_ORG_ID) -> list[tuple[str, Failure]]:
    """The payments the demo's failed refunds refund, by id: with PROCESSOR=stripe the stack
    makes them at the fake Stripe API first, so that a refund's retry has something to refund."""
    return [
        (payment_id(org_id, number), failure)
        for number, failure in enumerate(FAILURES, start=1)
        if failure.kind == "refund"
    ]


def failure_event(org_id: str, number: int, failure: Failure, now: datetime) -> dict[str, Any]:
    holder = plain(failure.holder)
    payment_method: dict[str, Any] = {"token": failure.token}
    if failure.method == "credit_card":
        last4 = f"{4242 + number * 111:04d}"[-4:]
        payment_method |= {
            "card_id": f"card_{org_id}_{number:02d}",
            "brand": "visa",
            "last4": last4,
        }
    first_item = failure.amount * 2 // 3  # two invoice items that add up to the amount
    data: dict[str, Any] = {
        "organization_id": org_id,
        "payment_id": payment_id(org_id, number),
        "kind": failure.kind,
        "method": failure.method,
        "amount": failure.amount,
        "currency": "CAD",
        "account_holder": {
            "id": f"ah_{holder}",
            "name": failure.holder,
            "email": f"{holder.replace('_', '.')}@example.com",
        },
        "payment_method": payment_method,
        "invoice_items": [
            {"invoice_id": f"inv_{org_id}_{number:04d}", "item_id": "item_1", "amount": first_item},
            {
                "invoice_id": f"inv_{org_id}_{number:04d}",
                "item_id": "item_2",
                "amount": failure.amount - first_item,
            },
        ],
        "failure": {"code": failure.code, "message": failure.message},
    }
    if failure.kind in ("installment", "subscription"):
        data["scheduled_payment_id"] = f"sched_{org_id}_{number:02d}"
    return {
        "type": "refund.failed" if failure.kind == "refund" else "payment.failed",
        "occurred_at": rfc3339(now - timedelta(hours=failure.hours_ago)),
        "data": data,
    }


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks v1 over the raw bytes (the standardwebhooks library signs text only,
    and a body need not be UTF-8)."""
    key = base64.b64decode(secret.removeprefix("whsec_").split()[0])
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def signed_headers(secret: str, webhook_id: str, body: bytes | str, at: datetime) -> dict[str, str]:
    """The headers a Standard Webhooks sender with `secret` attaches to `body` (bytes as sent,
    or text sent as UTF-8), signed at `at`."""
    raw = body.encode() if isinstance(body, str) else body
    timestamp = int(at.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, webhook_id, timestamp, raw),
    }


def mint_token(
    session: requests.Session,
    url: str,
    org_id: str,
    *,
    sub: str,
    email: str,
    groups: Sequence[str] = ("billing_admin",),
) -> str:
    """A JWT with these claims from the stack's POST /_local/token at the gateway `url`."""
    body = {"org_id": org_id, "sub": sub, "email": email, "groups": list(groups)}
    answer = session.post(f"{url}/_local/token", json=body, timeout=60)
    if answer.status_code != 200:
        raise LocalEndpointRefused(f"POST /_local/token: {answer.status_code} {answer.text}")
    return str(answer.json()["token"])


def webhook_secrets(session: requests.Session, url: str) -> dict[str, str]:
    """{"payments": ..., "billing": ...}: the stack's webhook secrets, from GET
    /_local/webhook-secrets at the gateway `url`."""
    answer = session.get(f"{url}/_local/webhook-secrets", timeout=60)
    if answer.status_code != 200:
        raise LocalEndpointRefused(
            f"GET /_local/webhook-secrets: {answer.status_code} {answer.text}"
        )
    return {str(name): str(secret) for name, secret in answer.json().items()}


def deliver(
    session: requests.Session, url: str, secret: str, webhook_id: str, event: dict[str, Any]
) -> dict[str, Any]:
    """Sign `event` (Standard Webhooks) and POST it; the answer's JSON, or an error if not 200."""
    body = json.dumps(event, ensure_ascii=False).encode()
    headers = signed_headers(secret, webhook_id, body, datetime.now(UTC))
    answer = session.post(url, data=body, headers=headers, timeout=60)
    if answer.status_code != 200:
        raise DeliveryRefused(f"{event['type']} to {url}: {answer.status_code} {answer.text}")
    return dict(answer.json())


def load(
    gateway_url: str,
    *,
    org_id: str = config.DEMO_ORG_ID,
    now: datetime | None = None,
    headers: Mapping[str, str] | None = None,
) -> list[str]:
    """Deliver the demo organization and its failures; the status each delivery answered.

    `headers` go with every delivery (the gateway's loader pass while the stack is starting).
    """
    now = now or datetime.now(UTC)
    outcomes = []
    with requests.Session() as session:
        session.headers.update(headers or {})
        organization = {
            "type": "organization.upserted",
            "occurred_at": rfc3339(now - timedelta(days=30)),
            "data": {
                "organization_id": org_id,
                **ORGANIZATION,
                "processor_account_id": stripe_account(org_id),
            },
        }
        answer = deliver(
            session,
            f"{gateway_url}/webhooks/billing",
            config.BILLING_WEBHOOK_SECRET,
            f"msg_{org_id}_organization",
            organization,
        )
        outcomes.append(str(answer.get("status")))
        for number, failure in enumerate(FAILURES, start=1):
            answer = deliver(
                session,
                f"{gateway_url}/webhooks/payments",
                config.PAYMENTS_WEBHOOK_SECRET,
                f"msg_{org_id}_{number:04d}",
                failure_event(org_id, number, failure, now),
            )
            outcomes.append(str(answer.get("status")))
    return outcomes
