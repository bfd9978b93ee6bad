"""The signed webhooks in the OpenAPI document (its 3.1 `webhooks` key), generated from the wire
models the webhooks function validates with (payment_webhook.py for the payment processor,
billing_webhook.py for the billing platform). Only the HTTP API's `openapi_document` imports this
module, so building the schemas costs nothing at cold start.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, Field, TypeAdapter, create_model
from pydantic.json_schema import JsonSchemaMode

from payment_action_center.adapters.http import errors as http_errors
from payment_action_center.adapters.http import stripe_webhook
from payment_action_center.adapters.http.billing_webhook import BILLING_EVENTS
from payment_action_center.adapters.http.errors import STATUS
from payment_action_center.adapters.http.payment_webhook import (
    PAYMENT_EVENT_TYPES,
    PaymentEvent,
    WireModel,
)
from payment_action_center.adapters.http.signatures import (
    MAX_BODY_BYTES,
    TIMESTAMP_PATTERN,
    V1_SIGNATURE_PATTERN,
    WEBHOOK_ID_PATTERN,
)
from payment_action_center.app.results import Outcome
from payment_action_center.domain import errors

SCHEMAS = "#/components/schemas/"


@dataclass(frozen=True)
class Endpoint:
    """One route of functions/webhooks/app.py: who posts to it, and for each event type it
    dispatches on, the model that validates the body. `signature`: Standard Webhooks v1, or
    Stripe's own scheme (stripe_webhook.py), whose event schemas are named `Stripe…`."""

    name: str
    sender: str
    events: Mapping[str, type[BaseModel]]
    signature: Literal["standard", "stripe"] = "standard"

    @property
    def schema_prefix(self) -> str:
        return "Stripe" if self.signature == "stripe" else ""

    @property
    def path(self) -> str:
        return f"/webhooks/{self.name}"


def stripe_event_model(event_type: str) -> type[BaseModel]:
    """A Stripe event with its `data.object`: a PaymentIntent or a Refund. The handler reads the
    envelope first (stripe_webhook.py StripeEvent), then the object, then its metadata: an object
    or metadata that does not validate is answered 200 `ignored`, not 400."""
    is_refund = event_type.startswith("refund.")
    obj = stripe_webhook.StripeRefund if is_refund else stripe_webhook.StripePaymentIntent
    name = "StripeRefundData" if is_refund else "StripePaymentIntentData"
    data = create_model(name, __base__=WireModel, object=(obj, ...))
    return create_model(
        f"StripeBase{name.removeprefix('Stripe').removesuffix('Data')}Event",
        __base__=stripe_webhook.StripeEvent,
        data=(data, ...),
    )


ENDPOINTS = (
    Endpoint(
        "payments",
        "the payment processor",
        dict.fromkeys(sorted(PAYMENT_EVENT_TYPES), PaymentEvent),
    ),
    Endpoint("billing", "the billing platform", dict(sorted(BILLING_EVENTS.items()))),
    Endpoint(
        "stripe",
        "Stripe, for the organizations' connected accounts",
        {
            event_type: stripe_event_model(event_type)
            for event_type in sorted(stripe_webhook.STRIPE_EVENT_TYPES)
        },
        signature="stripe",
    ),
)


class WebhookAnswer(TypedDict):
    """The delivery was taken: `accepted` (it took effect, or this webhook-id already did) or
    `ignored` (an unknown type, an untracked kind of payment, a stale state). Either way the
    sender need not deliver it again."""

    status: Outcome
    reason: NotRequired[Annotated[str, Field(description="why, in words for a person")]]
    known_types: NotRequired[
        Annotated[list[str], Field(description="the event types this endpoint takes")]
    ]


class PayloadProblem(TypedDict):
    loc: Annotated[str, Field(description="where: a dotted path in the body, or (body)")]
    msg: str


class WebhookRefusal(TypedDict):
    """The delivery was refused and nothing was stored."""

    code: str
    message: str
    errors: NotRequired[
        Annotated[list[PayloadProblem], Field(description="with invalid_payload: what failed")]
    ]


REFUSALS: dict[type[errors.DomainError], str] = {
    errors.InvalidPayload: "The body is not a JSON object, or the event does not validate, "
    "including rules across fields that the schema cannot state: `errors` says where and why.",
    http_errors.WebhookRejected: "Missing or malformed webhook headers, a signature that does not "
    "verify with this endpoint's secret, or a timestamp more than 300 s off. The reason is "
    "logged, never sent back.",
    errors.DeliveryInFlight: "Another delivery of the same webhook-id (or of the same change) "
    "is being written: deliver it again later.",
    http_errors.PayloadTooLarge: f"The body is over {MAX_BODY_BYTES // 1024} KiB; it is not read.",
}


def with_webhooks(document: str) -> str:
    """The HTTP API's OpenAPI document (JSON) with the webhooks and the schemas they use."""
    openapi = json.loads(document)
    refs, generated = _schemas()
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in generated.items():
        # Shared names (the Method enum) must be the same schema, or one would hide the other.
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name}")
    webhooks = {endpoint.name: _path_item(endpoint, refs) for endpoint in ENDPOINTS}
    ordered: dict[str, Any] = {}
    for key, value in openapi.items():
        ordered[key] = value
        if key == "paths":
            ordered["webhooks"] = webhooks
    ordered.setdefault("webhooks", webhooks)
    return json.dumps(ordered, indent=2, ensure_ascii=False)


def event_model(event_type: str, model: type[BaseModel], prefix: str = "") -> type[BaseModel]:
    """The model a body of this type validates with, its `type` pinned: the handler reads the
    type first (payment_webhook.py's Envelope) and picks the model by it."""
    words = "".join(word.capitalize() for word in re.split(r"[._]", event_type))
    name = f"{prefix}{words}Event"
    # A Literal of a value known only at run time: no type a checker can follow, hence Any.
    pinned: Any = Literal[event_type]
    return create_model(name, __base__=model, type=(pinned, ...))


type SchemaKey = tuple[str, str]


def _schemas() -> tuple[dict[SchemaKey, str], dict[str, Any]]:
    """Every schema the webhooks use, with its references pointing into components/schemas."""
    inputs: list[tuple[SchemaKey, JsonSchemaMode, TypeAdapter[Any]]] = [
        (
            (endpoint.name, event_type),
            "validation",
            TypeAdapter(event_model(event_type, model, endpoint.schema_prefix)),
        )
        for endpoint in ENDPOINTS
        for event_type, model in endpoint.events.items()
    ]
    inputs += [
        (("answer", "200"), "serialization", TypeAdapter(WebhookAnswer)),
        (("answer", "refusal"), "serialization", TypeAdapter(WebhookRefusal)),
    ]
    found, defs = TypeAdapter.json_schemas(inputs, ref_template=SCHEMAS + "{model}")
    refs = {key: schema["$ref"] for (key, _), schema in found.items()}
    return refs, defs["$defs"]


def _path_item(endpoint: Endpoint, refs: Mapping[SchemaKey, str]) -> dict[str, Any]:
    events = {event_type: refs[endpoint.name, event_type] for event_type in endpoint.events}
    body = {
        "oneOf": [{"$ref": ref} for ref in events.values()],
        "discriminator": {"propertyName": "type", "mapping": events},
    }
    refusal = refs["answer", "refusal"]
    responses: dict[str, Any] = {
        "200": {
            "description": "The delivery was taken: accepted or ignored.",
            "content": {"application/json": {"schema": {"$ref": refs["answer", "200"]}}},
        }
    }
    for kind, description in REFUSALS.items():
        code = {"properties": {"code": {"const": kind.code}}}
        responses[str(int(STATUS[kind]))] = {
            "description": description,
            "content": {"application/json": {"schema": {"allOf": [{"$ref": refusal}, code]}}},
        }
    return {
        "post": {
            "operationId": f"receive_{endpoint.name}_event",
            "summary": f"An event from {endpoint.sender}",
            "description": _description(endpoint),
            # Signed, not a bearer token: the document's global JWT requirement does not apply.
            "security": [],
            "parameters": _stripe_headers()
            if endpoint.signature == "stripe"
            else _signature_headers(),
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": responses,
        }
    }


def _description(endpoint: Endpoint) -> str:
    if endpoint.signature == "stripe":
        return (
            f"`POST {endpoint.path}`, Connect events signed by Stripe (`Stripe-Signature`) with "
            "the endpoint's signing secret. The signature is checked before the body is read; "
            "the event's `account` names the organization, its id keeps it once, and the "
            "object's metadata (docs/webhooks.md §9.4) completes the entry. A type not listed "
            "here, an unknown account, or metadata missing or invalid answers 200 `ignored`."
        )
    return (
        f"`POST {endpoint.path}`, signed by {endpoint.sender} per Standard Webhooks v1 "
        "with this endpoint's own secret. The signature is checked before the body is "
        "read; then `type` picks the event model. A type not listed here answers 200 "
        "`ignored`."
    )


def _stripe_headers() -> list[dict[str, Any]]:
    """Stripe's signature header (stripe_webhook.py `verify`)."""
    return [
        _header(
            "Stripe-Signature",
            r"(^|,)t=[0-9]+(,|$)",
            "`t=<unix seconds>,v1=<hex>` (several `v1=` while a secret rolls): the HMAC-SHA256, "
            "keyed with the whole `whsec_…` secret, of `{t}.{raw body}`; a `t` more than 300 s "
            "old is refused (401).",
        )
    ]


def _signature_headers() -> list[dict[str, Any]]:
    """The Standard Webhooks headers, with the patterns signatures.py checks them against."""
    entry = V1_SIGNATURE_PATTERN.pattern.removeprefix("^").removesuffix("$")
    return [
        _header(
            "webhook-id",
            WEBHOOK_ID_PATTERN.pattern,
            "The message id: a delivery of an id that already took effect answers as the "
            "first one did and changes nothing.",
        ),
        _header(
            "webhook-timestamp",
            TIMESTAMP_PATTERN.pattern,
            "When the message was signed, in Unix seconds; more than 300 s from the "
            "receiver's clock either way is refused (401).",
        ),
        _header(
            "webhook-signature",
            f"(^| ){entry}( |$)",
            "Space-separated `v1,<base64>` entries (several while a secret rotates); one must "
            "be the HMAC-SHA256, keyed with the base64-decoded part of the secret after "
            "`whsec_`, of `{webhook-id}.{webhook-timestamp}.{raw body}`.",
        ),
    ]


def _header(name: str, pattern: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }
