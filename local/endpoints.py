"""The local-only endpoints of the gateway (README, local stack): never deployed, a fixed contract.

Each is a function of the running stack and the request, answering (status, JSON body), registered
under "METHOD /path" with @endpoint. Raise gateway.BadRequest for a 400.
"""

import functools
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from local import config, demo, scheduler
from local.fake_stripe import FAULTS
from local.gateway import BadRequest, LocalEndpoint, LocalRequest, Reply
from local.oidc import SignInFailed
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


# A claim's value: OpenID Connect caps `sub` at 255 characters; the others take the same cap.
MAX_CLAIM_LENGTH = 255
MAX_GROUPS = 100


def text_problem(name: str, value: object) -> str | None:
    """Why this field is not a claim the provider takes: a non-empty string of at most
    MAX_CLAIM_LENGTH characters, none of them a control character."""
    if not (isinstance(value, str) and value.strip()):
        return f"{name} must be a non-empty string"
    if len(value) > MAX_CLAIM_LENGTH:
        return f"{name} must be at most {MAX_CLAIM_LENGTH} characters"
    if any(unicodedata.category(character) == "Cc" for character in value):
        return f"{name} must not contain control characters"
    return None


def token_problems(body: dict[str, Any]) -> list[str]:
    """What is wrong with a POST /_local/token body, if anything."""
    problems = [text_problem(name, body.get(name)) for name in ("org_id", "sub", "email")]
    sub = body.get("sub")
    if problems[1] is None and isinstance(sub, str) and ("/" in sub or sub in (".", "..")):
        # The provider's PUT /users/{sub} cannot address these: its path would change.
        problems[1] = "sub must not contain '/' nor be '.' or '..'"
    groups = body.get("groups")
    if not isinstance(groups, list):
        problems.append("groups must be a list of non-empty strings")
    elif len(groups) > MAX_GROUPS:
        problems.append(f"groups must hold at most {MAX_GROUPS} names")
    else:
        problems.extend(text_problem(f"groups[{i}]", group) for i, group in enumerate(groups))
    return [problem for problem in problems if problem is not None]


@endpoint("POST /_local/token")
def token(stack: "LocalStack", request: LocalRequest) -> Reply:
    """{"org_id", "sub", "email", "groups": [...]} -> {"token": "<JWT>"} the authorizer accepts:
    the user is registered (or updated) at the identity provider with these claims, then signs in
    to the console's client id by the authorization-code flow with PKCE (local/oidc.py), and the
    token is the ID token it gets.

    400 for a body the provider would not take (token_problems); 502 `identity_provider_failed`
    if the provider fails the registration or the sign-in all the same."""
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest('expected a JSON object {"org_id", "sub", "email", "groups": [...]}')
    problems = token_problems(body)
    if problems:
        raise BadRequest("; ".join(problems))
    try:
        stack.identity.register(body["sub"], body["email"], body["org_id"], body["groups"])
        return 200, {"token": stack.identity.sign_in(body["sub"], config.JWT_AUDIENCE)}
    except SignInFailed as error:
        return 502, {"code": "identity_provider_failed", "message": str(error)}


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


def other_processor(stack: "LocalStack", wanted: str) -> Reply | None:
    """The 404 of a processor's endpoint when the stack runs with the other one; None if not."""
    if stack.processor == wanted:
        return None
    return 404, {
        "code": "not_found",
        "message": f"the local stack runs with the {stack.processor} processor: the {wanted}"
        f" endpoints answer only with {config.PROCESSOR_VARIABLE}={wanted}"
        " (docs/local-stack.md)",
    }


@endpoint("GET /_local/sandbox/charges")
def sandbox_charges(stack: "LocalStack", request: LocalRequest) -> Reply:
    """Every call the sandbox processor received, oldest first."""
    if refused := other_processor(stack, "sandbox"):
        return refused
    return 200, {"charges": stack.sandbox.calls()}


SETTLE_OUTCOMES = ("succeeded", "failed")


def settle_body(request: LocalRequest) -> tuple[str, str]:
    """The (transaction_id, outcome) of a settle request; BadRequest for anything else."""
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
    return str(transaction_id), str(outcome)


@endpoint("POST /_local/sandbox/settle")
def sandbox_settle(stack: "LocalStack", request: LocalRequest) -> Reply:
    """{"transaction_id", "outcome": "succeeded" | "failed"}: the sandbox sends the signed webhook
    that settles that entry's pending e-check retry; 404 if none is pending at the sandbox."""
    if refused := other_processor(stack, "sandbox"):
        return refused
    transaction_id, outcome = settle_body(request)
    return settled(
        lambda: stack.sandbox.settle(transaction_id, outcome),
        f"no retry of {transaction_id!r} is pending at the sandbox processor",
    )


def settled(settle: Callable[[], dict[str, Any] | None], none_pending: str) -> Reply:
    """The answer of a settle endpoint: the webhook delivered, 404 when nothing was pending, 502
    when the stack's own webhook endpoint refused it."""
    try:
        answer = settle()
    except demo.DeliveryRefused as error:
        return 502, {"code": "delivery_refused", "message": str(error)}
    if answer is None:
        return 404, {"code": "not_found", "message": none_pending}
    return 200, {"status": "delivered", "webhook": answer}


@endpoint("GET /_local/stripe/requests")
def stripe_requests(stack: "LocalStack", request: LocalRequest) -> Reply:
    """PROCESSOR=stripe: {"calls": every request the fake Stripe API received (method, path,
    account, idempotency_key, params, status, at), "objects": every PaymentIntent and Refund it
    created, with its connected `account`}, oldest first."""
    if refused := other_processor(stack, "stripe"):
        return refused
    return 200, stack.fake_stripe.snapshot()


@endpoint("POST /_local/stripe/settle")
def stripe_settle(stack: "LocalStack", request: LocalRequest) -> Reply:
    """PROCESSOR=stripe, {"transaction_id", "outcome": "succeeded" | "failed"}: the fake settles
    that entry's processing PaymentIntent (or pending refund) and Stripe's signed Connect event
    is delivered to POST /webhooks/stripe; 404 if none is processing at the fake."""
    if refused := other_processor(stack, "stripe"):
        return refused
    transaction_id, outcome = settle_body(request)
    return settled(
        lambda: stack.stripe.settle(transaction_id, outcome),
        f"no retry of {transaction_id!r} is processing at the fake Stripe API",
    )


MAX_FAULTS = 100


@endpoint("POST /_local/stripe/faults")
def stripe_faults(stack: "LocalStack", request: LocalRequest) -> Reply:
    """PROCESSOR=stripe, {"kind": "rate_limit" | "server_error" | "timeout", "count": 1..100}:
    the fake Stripe API's next `count` requests answer 429, 500, or nothing (the request is
    processed and its answer lost)."""
    if refused := other_processor(stack, "stripe"):
        return refused
    body = request.json()
    if not isinstance(body, dict):
        raise BadRequest('expected a JSON object {"kind", "count"}')
    kind, count = body.get("kind"), body.get("count", 1)
    problems = []
    if kind not in FAULTS:
        problems.append(f"kind must be one of {', '.join(FAULTS)}")
    if not (isinstance(count, int) and not isinstance(count, bool) and 0 < count <= MAX_FAULTS):
        problems.append(f"count must be an integer from 1 to {MAX_FAULTS}")
    if problems:
        raise BadRequest("; ".join(problems))
    stack.fake_stripe.fail_next(count, str(kind))
    return 200, {"kind": kind, "count": count}
