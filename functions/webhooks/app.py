"""Signed webhooks in: the payment processor, the billing platform and Stripe (docs/contract.md
§4.1, docs/webhooks.md)."""

import base64
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from payment_action_center.adapters.aws.messaging import EventBridgePublisher
from payment_action_center.adapters.clients import built, client
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook, signatures, stripe_webhook
from payment_action_center.adapters.http.billing_webhook import handle_billing_event
from payment_action_center.adapters.http.errors import domain_error_response, json_response
from payment_action_center.adapters.settings import Settings
from payment_action_center.domain import timestamps
from payment_action_center.domain.errors import DomainError


class WebhooksSettings(Settings):
    payments_secret_arn: str = Field(alias="PAYMENTS_WEBHOOK_SECRET_ARN", min_length=1)
    billing_secret_arn: str = Field(alias="BILLING_WEBHOOK_SECRET_ARN", min_length=1)
    stripe_secret_arn: str = Field(alias="STRIPE_WEBHOOK_SECRET_ARN", min_length=1)
    secret_max_age_seconds: int = Field(alias="WEBHOOK_SECRET_MAX_AGE", default=300, ge=0)
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)


settings = WebhooksSettings.from_env()
logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()


class Wiring:
    """What this function talks to, each built on first use and kept for the warm container."""

    billing = built(lambda: DynamoBillingStore(client("dynamodb"), settings.table_name))
    entries = built(lambda: DynamoEntryStore(client("dynamodb"), settings.table_name))
    publisher = built(lambda: EventBridgePublisher(client("events"), settings.event_bus_name))


adapters = Wiring()


def secret(arn: str) -> str:
    """Cached by Powertools for max_age seconds; never logged."""
    value = parameters.get_secret(arn, max_age=settings.secret_max_age_seconds)
    return str(value)


def raw_body() -> bytes:
    event = app.current_event
    raw = event.body or ""
    return base64.b64decode(raw) if event.is_base64_encoded else raw.encode()


def verified(endpoint: str, secret_arn: str) -> tuple[signatures.Delivery, dict[str, Any]]:
    event = app.current_event
    body = raw_body()
    delivery = signatures.verify(
        secret(secret_arn),
        body,
        dict(event.headers or {}),
        endpoint=endpoint,
        received_at=timestamps.now(),
    )
    logger.append_keys(webhook_id=delivery.webhook_id)
    return delivery, signatures.json_object(body)


@app.post("/webhooks/payments")
def payments() -> Response[Any]:
    delivery, body = verified("payments", settings.payments_secret_arn)
    result = payment_webhook.handle_payment_event(
        adapters.entries, adapters.publisher, delivery, body
    )
    logger.info(
        "payment event handled",
        extra={
            "event_type": body.get("type"),
            "outcome": result.outcome,
            "reason": result.reason,
            "entry_id": result.entry_id,
        },
    )
    metrics.add_metric(name=f"PaymentEvent_{result.outcome.value}", unit=MetricUnit.Count, value=1)
    return json_response(200, result.answer())


@app.post("/webhooks/billing")
def billing() -> Response[Any]:
    delivery, body = verified("billing", settings.billing_secret_arn)
    result = handle_billing_event(adapters.billing, delivery, body)
    logger.info(
        "billing event handled",
        extra={"event_type": body.get("type"), "outcome": result.outcome, "reason": result.reason},
    )
    metrics.add_metric(name=f"BillingEvent_{result.outcome.value}", unit=MetricUnit.Count, value=1)
    return json_response(200, result.answer())


@app.post("/webhooks/stripe")
def stripe_events() -> Response[Any]:
    """Connect events of the organizations' Stripe accounts: signed as Stripe signs
    (Stripe-Signature), kept once by event id (adapters/http/stripe_webhook.py)."""
    body = raw_body()
    headers = dict(app.current_event.headers or {})
    stripe_webhook.verify(secret(settings.stripe_secret_arn), body, headers)
    event = signatures.json_object(body)
    event_id = event.get("id")
    if isinstance(event_id, str):
        logger.append_keys(webhook_id=event_id)
    result = stripe_webhook.handle_stripe_event(
        adapters.billing, adapters.entries, adapters.publisher, event, timestamps.now()
    )
    logger.info(
        "stripe event handled",
        extra={
            "event_type": event.get("type"),
            "account": event.get("account"),
            "outcome": result.outcome,
            "reason": result.reason,
            "entry_id": result.entry_id,
        },
    )
    metrics.add_metric(name=f"StripeEvent_{result.outcome.value}", unit=MetricUnit.Count, value=1)
    return json_response(200, result.answer())


@app.exception_handler(DomainError)
def refuse(error: DomainError) -> Response[Any]:
    logger.info("webhook refused", extra={"code": error.code, "reason": error.message})
    metrics.add_metric(name=f"WebhookRefused_{error.code}", unit=MetricUnit.Count, value=1)
    return domain_error_response(error)


@app.not_found
def no_route(_: Exception) -> Response[Any]:
    return json_response(404, {"code": "not_found", "message": "no such route"})


# clear_state: a delivery's webhook_id must not label the next request (a refused one, say).
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
