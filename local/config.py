"""Constants of the local stack.

FOR THE LAPTOP ONLY. These secrets are published in the README on purpose so that tools and
people can mint tokens and sign webhooks against the local stack; nothing deployed uses them.
"""

import base64

REGION = "ca-central-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "payment-action-center"
TABLE_NAME = "payment-action-center"

# Values given to the template's parameters (those without a Default need one here).
PARAMETERS = {
    "Stage": "dev",
    "JwtIssuer": "https://auth.local.payment-action-center.invalid/",
    "JwtAudience": "payment-action-center-local",
}

# The JWT authorizer's local stand-in: HS256 with a shared secret instead of the IdP's JWKS.
JWT_ALGORITHM = "HS256"
JWT_SECRET = "local-only-jwt-secret-do-not-use-anywhere-else"  # noqa: S105
JWT_ISSUER = PARAMETERS["JwtIssuer"]
JWT_AUDIENCE = PARAMETERS["JwtAudience"]
TOKEN_LIFETIME_SECONDS = 12 * 3600


def _whsec(key: bytes) -> str:
    assert len(key) == 32
    return "whsec_" + base64.b64encode(key).decode()


# Standard Webhooks signing keys of the two endpoints: whsec_ + base64 of a fixed 32-byte string.
PAYMENTS_WEBHOOK_SECRET = _whsec(b"local-payments-webhook-secret-32")
BILLING_WEBHOOK_SECRET = _whsec(b"local-billing-webhook-secret-32b")
WEBHOOK_SECRETS = {"payments": PAYMENTS_WEBHOOK_SECRET, "billing": BILLING_WEBHOOK_SECRET}
# Which template secret holds which key.
SECRET_VALUES = {
    "PaymentsWebhookSecret": PAYMENTS_WEBHOOK_SECRET,
    "BillingWebhookSecret": BILLING_WEBHOOK_SECRET,
}

DEFAULT_PORTS = {"gateway": 3000, "dynamodb": 8000, "moto": 5000}
PORT_VARIABLES = {
    "gateway": "PAC_GATEWAY_PORT",
    "dynamodb": "PAC_DYNAMODB_PORT",
    "moto": "PAC_MOTO_PORT",
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
