"""GET /openapi.json: this API's OpenAPI 3.1 document, generated from its routes, with the signed
events the webhooks function receives under `webhooks`."""

import functools
import json
from typing import Any, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router

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
    return with_webhooks(json.dumps(generated))
