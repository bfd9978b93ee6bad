"""The local-only endpoints of the gateway (README, local stack): never deployed, a fixed contract.

Each is a function of the running stack and the request, answering (status, JSON body), registered
under "METHOD /path" with @endpoint. Raise gateway.BadRequest for a 400.
"""

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from local import config, demo, scheduler
from local.gateway import BadRequest, LocalEndpoint, LocalRequest, Reply
from local.workers import FunctionError, FunctionTimeout

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
    """{"org_id", "sub", "email", "groups": [...]} -> {"token": "<JWT>"} the authorizer accepts:
    the user is registered (or updated) at the identity provider with these claims, then signs in
    to the console's client id by the authorization-code flow with PKCE (local/oidc.py), and the
    token is the ID token it gets."""
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
    stack.identity.register(body["sub"], body["email"], body["org_id"], groups)
    return 200, {"token": stack.identity.sign_in(body["sub"], config.JWT_AUDIENCE)}


@endpoint("GET /_local/health")
def health(stack: "LocalStack", request: LocalRequest) -> Reply:
    """200 {"status": "ready"}: reached only once the stack is ready. While it loads its demo
    data, the gateway answers this as every request: 503, code `starting` (local/gateway.py)."""
    return 200, {"status": "ready"}


@endpoint("GET /_local/webhook-secrets")
def webhook_secrets(stack: "LocalStack", request: LocalRequest) -> Reply:
    """The Standard Webhooks keys of /webhooks/payments and /webhooks/billing."""
    return 200, dict(config.WEBHOOK_SECRETS)


@endpoint("POST /_local/schedules/{name}")
def schedule(stack: "LocalStack", request: LocalRequest) -> Reply:
    """Optional {"now": "<RFC 3339>"}: run that schedule as it would fire at `now`.

    -> {"schedule", "now", "result": what the function returned}, once its fan-out is over (the
    SQS queues idle).
    """
    name = request.path_parameters["name"]
    if name not in stack.schedules:
        known = ", ".join(sorted(stack.schedules)) or "none"
        return 404, {"code": "not_found", "message": f"no schedule {name!r} (known: {known})"}
    body = request.json(default={})
    if not isinstance(body, dict) or set(body) - {"now"}:
        raise BadRequest('expected no body or a JSON object {"now": "<RFC 3339>"}')
    try:
        at = datetime.now(UTC) if body.get("now") is None else scheduler.parse_time(body["now"])
    except ValueError as error:
        raise BadRequest(f"now: {error}") from None
    try:
        return 200, stack.run_schedule(name, at)
    except FunctionTimeout as error:
        return 504, {"code": "function_timeout", "message": str(error)}
    except FunctionError as error:
        return 500, {"code": "function_error", "message": str(error)}
    except scheduler.FanoutTimeout as error:
        return 504, {"code": "fanout_timeout", "message": str(error), "result": error.result}


@endpoint("GET /_local/outbox")
def outbox(stack: "LocalStack", request: LocalRequest) -> Reply:
    """Every email SES accepted, oldest first: {"messages": [{"to", "subject", "html", "text"}]}
    (`to`: bare addresses)."""
    return 200, {"messages": stack.outbox()}


@endpoint("GET /_local/events")
def events(stack: "LocalStack", request: LocalRequest) -> Reply:
    """Every event put on the template's event buses, oldest first."""
    return 200, {"events": stack.events()}


@endpoint("GET /_local/sandbox/charges")
def sandbox_charges(stack: "LocalStack", request: LocalRequest) -> Reply:
    """Every call the sandbox processor received, oldest first."""
    return 200, {"charges": stack.sandbox.calls()}


SETTLE_OUTCOMES = ("succeeded", "failed")


@endpoint("POST /_local/sandbox/settle")
def sandbox_settle(stack: "LocalStack", request: LocalRequest) -> Reply:
    """{"transaction_id", "outcome": "succeeded" | "failed"}: the sandbox sends the signed webhook
    that settles that entry's pending e-check retry; 404 if none is pending at the sandbox."""
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest('expected a JSON object {"transaction_id", "outcome"}')
    transaction_id, outcome = body.get("transaction_id"), body.get("outcome")
    problems = []
    if not (isinstance(transaction_id, str) and transaction_id.strip()):
        problems.append("transaction_id must be a non-empty string")
    if outcome not in SETTLE_OUTCOMES:
        problems.append('outcome must be "succeeded" or "failed"')
    if problems:
        raise BadRequest("; ".join(problems))
    try:
        answer = stack.sandbox.settle(transaction_id, outcome)
    except demo.DeliveryRefused as error:
        return 502, {"code": "delivery_refused", "message": str(error)}
    if answer is None:
        return 404, {
            "code": "not_found",
            "message": f"no retry of {transaction_id!r} is pending at the sandbox processor",
        }
    return 200, {"status": "delivered", "webhook": answer}
