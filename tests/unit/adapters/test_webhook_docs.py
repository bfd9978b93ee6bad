"""The webhooks in openapi.json: generated from the wire models the webhooks function validates
with, and only when the document is asked for."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from payment_action_center.adapters.http import billing_webhook, stripe_webhook
from payment_action_center.adapters.http.payment_webhook import (
    PAYMENT_EVENT_TYPES,
    PaymentEvent,
    parse,
)
from tests.shared import factories, stripe_signing
from tests.shared.lambdas import ROOT, Context, answer, as_json, cold_start, http_event
from tests.shared.moto_aws import BILLING_SECRET, PAYMENTS_SECRET
from tests.unit.handlers.test_webhooks import deliver

# What each endpoint's handler validates a body with, by event type: read from the code.
EVENT_MODELS: dict[str, dict[str, type[BaseModel]]] = {
    "payments": dict.fromkeys(PAYMENT_EVENT_TYPES, PaymentEvent),
    "billing": dict(billing_webhook.BILLING_EVENTS),
}
SECRETS = {"payments": PAYMENTS_SECRET, "billing": BILLING_SECRET}

# One valid body per event type, as the handler tests send them.
VALID_BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "payment.failed": factories.payment_failed,
    "payment.succeeded": lambda: factories.payment_failed(
        type="payment.succeeded", data__failure=None
    ),
    "refund.failed": factories.refund_failed,
    "refund.succeeded": lambda: factories.refund_failed(
        type="refund.succeeded", data__failure=None
    ),
    "organization.upserted": factories.organization_upserted,
    "scheduled_payment.upserted": factories.scheduled_payment_upserted,
    "scheduled_payment.ended": factories.scheduled_payment_ended,
    "card.upserted": factories.card_upserted,
    "card.deleted": factories.card_deleted,
}


@pytest.fixture
def document(aws: dict[str, str]) -> dict[str, Any]:
    return dict(json.loads(cold_start("api").openapi_document()))


def component(document: dict[str, Any], ref: str) -> dict[str, Any]:
    return dict(document["components"]["schemas"][ref.removeprefix("#/components/schemas/")])


def request_schema(document: dict[str, Any], endpoint: str) -> dict[str, Any]:
    body = document["webhooks"][endpoint]["post"]["requestBody"]
    return dict(body["content"]["application/json"]["schema"])


def documented_events(document: dict[str, Any], endpoint: str) -> dict[str, dict[str, Any]]:
    """The event schemas of one webhook, by the `type` each pins."""
    schemas = [component(document, o["$ref"]) for o in request_schema(document, endpoint)["oneOf"]]
    return {schema["properties"]["type"]["const"]: schema for schema in schemas}


def test_each_webhook_is_documented_with_its_path(document: dict[str, Any]) -> None:
    assert set(document["webhooks"]) == set(EVENT_MODELS) | {"stripe"}
    for endpoint, item in document["webhooks"].items():
        assert f"POST /webhooks/{endpoint}" in item["post"]["description"]
        assert item["post"]["security"] == []


def test_every_event_type_the_handlers_take_is_documented(document: dict[str, Any]) -> None:
    for endpoint, models in EVENT_MODELS.items():
        assert set(documented_events(document, endpoint)) == set(models)
        mapping = request_schema(document, endpoint)["discriminator"]["mapping"]
        assert set(mapping) == set(models)


@pytest.mark.parametrize("endpoint", sorted(EVENT_MODELS))
def test_the_handler_validates_each_documented_type_and_ignores_any_other(
    aws: dict[str, str], document: dict[str, Any], endpoint: str
) -> None:
    webhooks = cold_start("webhooks")

    def send(event_type: str) -> tuple[int, Any]:
        body = {"type": event_type, "occurred_at": "2026-11-24T15:30:00Z", "data": {}}
        return deliver(
            webhooks,
            as_json(body),
            webhook_id=f"msg_{event_type}",
            secret=SECRETS[endpoint],
            path=f"/webhooks/{endpoint}",
        )

    for event_type in documented_events(document, endpoint):
        status, answered = send(event_type)
        assert (status, answered["code"]) == (400, "invalid_payload"), event_type
    status, answered = send("customer.created")
    assert (status, answered["status"]) == (200, "ignored")


def test_a_required_field_of_a_data_model_is_required_in_the_document(
    document: dict[str, Any],
) -> None:
    for endpoint, models in EVENT_MODELS.items():
        for event_type, event in documented_events(document, endpoint).items():
            data_model = models[event_type].model_fields["data"].annotation
            assert isinstance(data_model, type) and issubclass(data_model, BaseModel)
            required = {name for name, f in data_model.model_fields.items() if f.is_required()}
            data = component(document, event["properties"]["data"]["$ref"])
            assert set(data["required"]) == required, event_type
            assert {"type", "occurred_at", "data"} <= set(event["required"])
    payment = component(document, "#/components/schemas/PaymentData")
    assert "invoice_items" in payment["required"]
    assert "retry_of" not in payment["required"]


def validator(document: dict[str, Any], endpoint: str) -> Draft202012Validator:
    # References point into components/schemas: carry them along in the root schema.
    schema = request_schema(document, endpoint) | {"components": document["components"]}
    return Draft202012Validator(schema)


def test_a_body_the_handler_takes_matches_its_documented_schema(
    document: dict[str, Any],
) -> None:
    assert set(VALID_BODIES) == {t for models in EVENT_MODELS.values() for t in models}
    for endpoint, models in EVENT_MODELS.items():
        for event_type, model in models.items():
            body = VALID_BODIES[event_type]()
            parse(model, body)
            assert list(validator(document, endpoint).iter_errors(body)) == [], event_type


def test_a_body_without_a_required_field_does_not_match_the_document(
    document: dict[str, Any],
) -> None:
    body = factories.payment_failed()
    del body["data"]["invoice_items"]
    assert not validator(document, "payments").is_valid(body)


def test_the_served_document_has_the_webhooks(aws: dict[str, str]) -> None:
    api = cold_start("api")
    status, served = answer(api.lambda_handler(http_event("GET", "/openapi.json"), Context()))
    assert status == 200
    assert served == json.loads(api.openapi_document())
    assert set(served["webhooks"]) == {"payments", "billing", "stripe"}


def test_the_stripe_webhook_documents_its_types_its_header_and_a_body_it_takes(
    document: dict[str, Any],
) -> None:
    """Stripe's endpoint (adapters/http/stripe_webhook.py): its own signature header, its event
    types, and the events Stripe sends matching their schemas."""
    post = document["webhooks"]["stripe"]["post"]
    assert [p["name"] for p in post["parameters"]] == ["Stripe-Signature"]
    assert set(documented_events(document, "stripe")) == stripe_webhook.STRIPE_EVENT_TYPES
    bodies = [
        stripe_signing.event("payment_intent.payment_failed", stripe_signing.payment_intent()),
        stripe_signing.event("refund.failed", stripe_signing.refund()),
    ]
    for body in bodies:
        assert list(validator(document, "stripe").iter_errors(body)) == [], body["type"]
    without_id = bodies[0] | {"id": None}
    assert not validator(document, "stripe").is_valid(without_id)


def test_the_api_function_builds_the_webhook_schemas_only_for_the_document(
    aws: dict[str, str],
) -> None:
    # What only the document needs.
    docs = [
        "payment_action_center.adapters.http.webhook_docs",
        "payment_action_center.adapters.http.signatures",
    ]
    # A fresh interpreter: this one has imported everything already.
    script = (
        "import sys\n"
        "from tests.shared.lambdas import cold_start\n"
        "api = cold_start('api')\n"
        f"print([m for m in {docs!r} if m in sys.modules])\n"
        "api.openapi_document()\n"
        f"print([m for m in {docs!r} if m in sys.modules])\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=os.environ
        | {"PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), str(ROOT)])},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert ran.stdout.splitlines() == ["[]", str(docs)]
