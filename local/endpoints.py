"""The local-only endpoints of the gateway (design §5): never deployed, a fixed contract.

Each is a function of the running stack and the request, answering (status, JSON body), registered
under "METHOD /path" with @endpoint. Raise gateway.BadRequest for a 400.
"""

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from local import auth, config
from local.gateway import BadRequest, LocalEndpoint, LocalRequest, Reply

if TYPE_CHECKING:
    from local.stack import LocalStack

type StackEndpoint = Callable[["LocalStack", LocalRequest], Reply]

ENDPOINTS: dict[str, StackEndpoint] = {}


def endpoint(route: str) -> Callable[[StackEndpoint], StackEndpoint]:
    def register(function: StackEndpoint) -> StackEndpoint:
        ENDPOINTS[route] = function
        return function

    return register


def bound(stack: "LocalStack") -> dict[str, LocalEndpoint]:
    """The endpoints as the gateway calls them, with the stack given."""
    return {route: functools.partial(function, stack) for route, function in ENDPOINTS.items()}


@endpoint("POST /_local/token")
def token(stack: "LocalStack", request: LocalRequest) -> Reply:
    """{"org_id", "sub", "email", "groups": [...]} -> {"token": "<JWT>"} the authorizer accepts."""
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest('expected a JSON object {"org_id", "sub", "email", "groups": [...]}')
    problems = [
        f"{name} must be a non-empty string"
        for name in ("org_id", "sub", "email")
        if not (isinstance(body.get(name), str) and body[name].strip())
    ]
    groups: Any = body.get("groups")
    if not (isinstance(groups, list) and all(isinstance(g, str) and g for g in groups)):
        problems.append("groups must be a list of non-empty strings")
    if problems:
        raise BadRequest("; ".join(problems))
    minted = auth.mint_token(body["org_id"], body["sub"], body["email"], groups)
    return 200, {"token": minted}


@endpoint("GET /_local/webhook-secrets")
def webhook_secrets(stack: "LocalStack", request: LocalRequest) -> Reply:
    """The Standard Webhooks keys of /webhooks/payments and /webhooks/billing."""
    return 200, dict(config.WEBHOOK_SECRETS)
