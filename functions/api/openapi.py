"""GET /openapi.json: this API's OpenAPI 3.1 document, generated from its routes, with the signed
events the webhooks function receives under `webhooks`."""

import functools
import json
from typing import Any, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router
from route_parts import ERROR_CONTENT

router = Router()

# The routes template.yaml opens without the JWT authorizer (Auth: NONE), besides the webhooks.
PUBLIC_ROUTES = {"/openapi.json": "get", "/me/notification-preferences/unsubscribe": "post"}


@router.get(
    "/openapi.json",
    responses={200: {"description": "this document", "content": {"application/json": {}}}},
)
def openapi() -> Response[Any]:
    """This OpenAPI 3.1 document: every route, and the webhooks under `webhooks`."""
    # include_router made api_resolver the resolver this router's routes belong to.
    resolver = cast(ApiGatewayResolver, router.api_resolver)
    return Response(200, "application/json", document(resolver))


@functools.cache
def document(resolver: ApiGatewayResolver) -> str:
    # Imported here: Powertools' OpenAPI models (about 200 ms of pydantic classes at a cold
    # start) and the webhooks' schemas are built only when the document is asked for.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    from payment_action_center.adapters.http.webhook_docs import with_webhooks  # noqa: PLC0415

    generated = json.loads(
        resolver.get_openapi_json_schema(
            title="Payment Action Center API",
            version="1.0.0",
            description="Failed payments of an organization and what its billing admins do.",
            security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")},
            security=[{"jwt": []}],
        )
    )
    # Powertools leaves out an empty `security` (no token), so the JWT default would apply.
    for path, method in PUBLIC_ROUTES.items():
        generated["paths"][path][method]["security"] = []
    with_gateway_answers(generated)
    return with_webhooks(json.dumps(generated))


# API Gateway's JWT authorizer answers a missing, expired or foreign token itself, before the
# function: its body, with a `www-authenticate` header saying why. A token the authorizer let
# through without a usable `org_id` or `sub` is the function's own 401 (docs/contract.md §4.2).
UNAUTHORIZED = {
    "description": (
        "no valid token: missing, expired or not from the configured issuer (API Gateway's"
        " answer), or without a usable org_id or sub (code unauthorized)"
    ),
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"message": {"type": "string", "const": "Unauthorized"}},
                        "required": ["message"],
                    },
                    {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string", "const": "unauthorized"},
                            "message": {"type": "string"},
                        },
                        "required": ["code", "message"],
                    },
                ]
            }
        }
    },
}


def with_gateway_answers(generated: dict[str, Any]) -> None:
    """What every route can answer besides its own: 401 on each route behind the authorizer,
    400 `invalid_cursor` on each route that takes a `cursor` (one it did not give out)."""
    for path, operations in generated["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if PUBLIC_ROUTES.get(path) != method:
                responses.setdefault("401", UNAUTHORIZED)
            if any(p["name"] == "cursor" for p in operation.get("parameters", [])):
                responses.setdefault(
                    "400",
                    {
                        "description": "a cursor this route did not give out (invalid_cursor)",
                        "content": ERROR_CONTENT,
                    },
                )
