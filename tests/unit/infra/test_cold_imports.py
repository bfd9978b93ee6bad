"""What each function loads at cold start (docs/architecture.md §8): its handler module imported in
a fresh process with its template environment, as `make bench` times it (bench/cold_start.py),
and the modules it loaded checked against what its own path uses. Not timed: a module that
comes back where it does not belong fails here, whatever the machine's speed."""

import json
from functools import cache
from pathlib import Path

import pytest

from bench.cold_start import cold_processes, run_cold

FUNCTIONS = cold_processes()
SENDERS = {"DigestSenderFunction", "CardNoticeSenderFunction"}
EMAIL_RENDERING = ("jinja2", "babel", "payment_action_center.adapters.emails")
SES = ("payment_action_center.adapters.aws.ses", "payment_action_center.adapters.aws.mime")
# Validates the addresses of the payloads it receives.
VALIDATES_EMAIL = {"WebhooksFunction"}


@cache
def loaded(name: str) -> frozenset[str]:
    code = (
        f"import json, sys\nimport {FUNCTIONS[name].module}\nprint(json.dumps(list(sys.modules)))"
    )
    return frozenset(json.loads(run_cold(code, FUNCTIONS[name])))


def under(modules: frozenset[str], prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_no_function_loads_a_tracing_sdk(name: str) -> None:
    assert under(loaded(name), ("aws_xray_sdk", "opentelemetry", "wrapt")) == set()


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - SENDERS))
def test_only_the_senders_load_the_email_stack(name: str) -> None:
    assert under(loaded(name), EMAIL_RENDERING + SES) == set()


@pytest.mark.parametrize("name", sorted(SENDERS))
def test_the_senders_load_the_email_stack(name: str) -> None:
    """The other side of the rule above: the check would pass on a name nobody imports."""
    assert under(loaded(name), ("jinja2", "payment_action_center.adapters.aws.ses"))


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - VALIDATES_EMAIL))
def test_only_a_function_that_validates_addresses_at_once_loads_email_validator(
    name: str,
) -> None:
    """The senders validate too, on the send path: they import it there, not at cold start."""
    assert under(loaded(name), ("email_validator",)) == set()


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - {"ApiFunction"}))
def test_only_the_api_loads_idempotency(name: str) -> None:
    assert under(loaded(name), ("aws_lambda_powertools.utilities.idempotency",)) == set()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_no_function_loads_powertools_batch_parser_or_openapi_models(name: str) -> None:
    """The SQS consumers answer with adapters/aws/sqs_batch.py; the OpenAPI models are built
    when /openapi.json is asked for (functions/api/openapi.py)."""
    heavy = (
        "aws_lambda_powertools.utilities.batch",
        "aws_lambda_powertools.utilities.parser",
        "aws_lambda_powertools.event_handler.openapi.models",
    )
    assert under(loaded(name), heavy) == set()


def test_the_webhooks_do_not_load_the_queue_messages() -> None:
    """They settle e-check retries (app/retry_worker.py) but never send or read a message."""
    assert under(loaded("WebhooksFunction"), ("payment_action_center.app.work",)) == set()
    assert under(loaded("RetryWorkerFunction"), ("payment_action_center.app.work",))


# Serves the webhooks function's three routes in its cold-start process, on moto: what each
# loads. The stripe SDK is for POST /webhooks/stripe alone (adapters/http/stripe_webhook.py).
SERVE_THE_WEBHOOKS = """
import json, os, sys
sys.path.insert(0, {root!r})
from moto import mock_aws
mock_aws().start()
import boto3
from tools.template import create_table
from tests.shared import factories
from tests.shared.lambdas import Context, as_json, http_event, signed_headers
from tests.shared.moto_aws import BILLING_SECRET, PAYMENTS_SECRET, STRIPE_SECRET
from tests.shared.stripe_signing import event, stripe_headers

create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
boto3.client("events").create_event_bus(Name=os.environ["EVENT_BUS_NAME"])
secrets = boto3.client("secretsmanager")
for name, value in [("PAYMENTS", PAYMENTS_SECRET), ("BILLING", BILLING_SECRET),
                    ("STRIPE", STRIPE_SECRET)]:
    arn = secrets.create_secret(Name=name, SecretString=value)["ARN"]
    os.environ[name + "_WEBHOOK_SECRET_ARN"] = arn
import app

def serve(path, body, headers):
    return app.lambda_handler(http_event("POST", path, headers=headers, body=body), Context())

def sdk():
    return sorted(m for m in sys.modules if m == "stripe" or m.startswith("stripe."))

statuses = []
for path, body, secret in [
    ("/webhooks/billing", as_json(factories.organization_upserted()), BILLING_SECRET),
    ("/webhooks/payments", as_json(factories.payment_failed()), PAYMENTS_SECRET),
]:
    statuses.append(serve(path, body, signed_headers(secret, body, "msg_" + path[10:]))["body"])
before = sdk()
body = as_json(event("charge.refunded", {{"id": "ch_1"}}))
statuses.append(serve("/webhooks/stripe", body, stripe_headers(STRIPE_SECRET, body))["body"])
print(json.dumps({{"statuses": statuses, "before": before, "after": sdk()}}))
"""


def test_only_the_stripe_route_loads_the_stripe_sdk() -> None:
    """The payments and billing routes share the Lambda: served first, they leave the SDK
    unloaded; the Stripe route loads it when it verifies a signature."""
    root = str(Path(__file__).resolve().parents[3])
    served = json.loads(
        run_cold(SERVE_THE_WEBHOOKS.format(root=root), FUNCTIONS["WebhooksFunction"])
    )
    accepted, ignored = {"status": "accepted"}, "ignored"
    assert [json.loads(s) for s in served["statuses"][:2]] == [accepted, accepted]
    assert json.loads(served["statuses"][2])["status"] == ignored
    assert served["before"] == []
    assert "stripe" in served["after"]
