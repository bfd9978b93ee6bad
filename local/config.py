"""Constants of the local stack.

FOR THE LAPTOP ONLY. These secrets are published in the README on purpose so that tools and
people can sign webhooks against the local stack; nothing deployed uses them. Tokens come from the
local identity provider (local/oidc.py), whose signing key is new at every start.
"""

import base64

REGION = "ca-central-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "payment-action-center"
TABLE_NAME = "payment-action-center"

# Values given to the template's parameters (those without a Default need one here), but JwtIssuer:
# the local identity provider's URL, known once it listens, which local/stack.py passes to
# LocalValues.of. SAM's translation leaves the authorizer's `!Ref JwtIssuer` as it is, so it needs
# no value here.
PARAMETERS = {
    "Stage": "dev",
    "JwtAudience": "payment-action-center-local",
}

# The JWT authorizer's audience: the client id the console (and POST /_local/token) signs in with
# at the local identity provider (local/oidc.py), whose RS256 keys the gateway checks tokens with.
JWT_AUDIENCE = PARAMETERS["JwtAudience"]
# The identity provider's ID tokens (and so POST /_local/token's) live this long.
TOKEN_LIFETIME_SECONDS = 12 * 3600


def _whsec(key: bytes) -> str:
    assert len(key) == 32
    return "whsec_" + base64.b64encode(key).decode()


# Standard Webhooks signing keys of the two endpoints: whsec_ + base64 of a fixed 32-byte string.
PAYMENTS_WEBHOOK_SECRET = _whsec(b"local-payments-webhook-secret-32")
BILLING_WEBHOOK_SECRET = _whsec(b"local-billing-webhook-secret-32b")
# Stripe's endpoint signing secret (Stripe-Signature, POST /webhooks/stripe) and the restricted
# key the Stripe processor sends to the local fake Stripe API (local/fake_stripe.py) when the
# stack runs with PROCESSOR=stripe.
STRIPE_WEBHOOK_SECRET = "whsec_local_stripe_endpoint_secret"  # noqa: S105 (laptop only)
STRIPE_API_KEY = "rk_test_local_restricted_key"
# GET /_local/webhook-secrets: the Standard Webhooks endpoints' keys, as docs/contract.md §5 fixes
# it (Stripe's secret is printed at start and in docs/local-stack.md instead).
WEBHOOK_SECRETS = {"payments": PAYMENTS_WEBHOOK_SECRET, "billing": BILLING_WEBHOOK_SECRET}
# Which template secret holds which key.
SECRET_VALUES = {
    "PaymentsWebhookSecret": PAYMENTS_WEBHOOK_SECRET,
    "BillingWebhookSecret": BILLING_WEBHOOK_SECRET,
    "StripeWebhookSecret": STRIPE_WEBHOOK_SECRET,
    "StripeApiKeySecret": STRIPE_API_KEY,
}

# The payment processor the functions talk to (PROCESSOR, the template's Processor parameter):
# the sandbox, or the Stripe adapter against the local fake Stripe API (local/fake_stripe.py),
# served on PAC_STRIPE_PORT or a free port.
PROCESSOR_VARIABLE = "PROCESSOR"
PROCESSORS = ("sandbox", "stripe")
STRIPE_PORT_VARIABLE = "PAC_STRIPE_PORT"
# The fake's search index lags its writes by this much real time (Stripe's: up to a minute), so a
# status() right after a charge finds nothing, as it can in production; and a lost answer
# (POST /_local/stripe/faults, `timeout`) closes the connection after this long.
STRIPE_SEARCH_LAG_SECONDS = 2.0
STRIPE_HANG_SECONDS = 1.0

DEFAULT_PORTS = {"gateway": 3000, "dynamodb": 8000, "moto": 5000, "oidc": 3001}
PORT_VARIABLES = {
    "gateway": "PAC_GATEWAY_PORT",
    "dynamodb": "PAC_DYNAMODB_PORT",
    "moto": "PAC_MOTO_PORT",
    "oidc": "PAC_OIDC_PORT",
}

# A function's worker processes (its concurrent "execution environments").
MAX_WORKERS_PER_FUNCTION = 4
# Lambda gives a cold start 10 s of init; a laptop under test load gets more slack.
INIT_TIMEOUT_SECONDS = 30.0

DEMO_ORG_ID = "org_demo"

# Event sources (local/pollers.py): a poller's long poll, so a stop takes at most about this long.
POLL_WAIT_SECONDS = 1
# POST /_local/schedules/<name> waits this long for the run's fan-out (the SQS queues idle).
FANOUT_TIMEOUT_SECONDS = 45.0
# The queue on the moto server that receives every event put on the template's buses.
EVENTS_TAP_QUEUE = "local-events-tap"
