"""The unit tests' AWS: moto in-process with the table of template.yaml, the secrets, queues and bus
the functions expect, and no network (sockets are refused). tests/unit/conftest.py and
tests/local_stack/conftest.py register these fixtures."""

import base64
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from tools.template import create_table

TABLE = "pac-unit"
IDEMPOTENCY_TABLE = "pac-unit-idempotency"
PAYMENTS_SECRET = "whsec_" + base64.b64encode(b"unit-payments-secret-32-bytes!!!").decode()
UNSUBSCRIBE_KEY = "unit-unsubscribe-key"
SENDER = "no-reply@pac.example.com"
BILLING_SECRET = "whsec_" + base64.b64encode(b"unit-billing-secret-32-bytes!!!!").decode()
# Stripe's secrets are used as they are (the whole string is the HMAC key), not base64-decoded.
STRIPE_SECRET = "whsec_unitStripeEndpointSecret0123456789"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError("a unit test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# One loader of botocore's service models for every test of the process: a fresh session per test
# (moto resets boto3's default session) would otherwise parse the JSON models again each time,
# most of a test's setup. The models are read-only; credentials and clients stay per session.
_MODELS = botocore.loaders.create_loader()


def _fresh_session() -> boto3.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _MODELS)
    return boto3.Session(botocore_session=session)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto with the tables (from template.yaml), the secrets, queues and bus; env set as
    deployed."""
    env = {
        "AWS_DEFAULT_REGION": "ca-central-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": TABLE,
        "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
        "POWERTOOLS_SERVICE_NAME": "payment-action-center",
        "POWERTOOLS_METRICS_NAMESPACE": "PaymentActionCenter",
        "POWERTOOLS_DEV": "false",
        "EVENT_BUS_NAME": "pac-unit-bus",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.DEFAULT_SESSION = _fresh_session()  # restored to None when the mock stops
        create_table(boto3.client("dynamodb"), TABLE)
        create_table(boto3.client("dynamodb"), IDEMPOTENCY_TABLE, logical_id="IdempotencyTable")
        secrets = boto3.client("secretsmanager")
        payments = secrets.create_secret(Name="payments", SecretString=PAYMENTS_SECRET)["ARN"]
        billing = secrets.create_secret(Name="billing", SecretString=BILLING_SECRET)["ARN"]
        monkeypatch.setenv("PAYMENTS_WEBHOOK_SECRET_ARN", payments)
        monkeypatch.setenv("BILLING_WEBHOOK_SECRET_ARN", billing)
        stripe = secrets.create_secret(Name="stripe", SecretString=STRIPE_SECRET)["ARN"]
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_ARN", stripe)
        boto3.client("events").create_event_bus(Name="pac-unit-bus")
        queue = boto3.client("sqs").create_queue(QueueName="pac-unit-retries")["QueueUrl"]
        monkeypatch.setenv("RETRY_QUEUE_URL", queue)
        monkeypatch.setenv("PROCESSOR", "sandbox")
        monkeypatch.setenv("STAGE", "dev")
        unsubscribe = secrets.create_secret(Name="unsubscribe", SecretString=UNSUBSCRIBE_KEY)["ARN"]
        monkeypatch.setenv("UNSUBSCRIBE_SECRET_ARN", unsubscribe)
        digests = boto3.client("sqs").create_queue(QueueName="pac-unit-digests")["QueueUrl"]
        monkeypatch.setenv("DIGEST_QUEUE_URL", digests)
        monkeypatch.setenv("DIGEST_SENDER_EMAIL", SENDER)
        monkeypatch.setenv("SES_CONFIGURATION_SET", "")
        monkeypatch.setenv("API_URL", "https://api.example.com/")
        boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
        yield env
