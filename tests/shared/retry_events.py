"""A retry as the worker receives it: a failure recorded on moto, an admin's retry, and the SQS
event that carries its work."""

from typing import Any

import boto3

from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from payment_action_center.app import actions
from payment_action_center.domain.entries import Caller
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher, RecordingQueue
from tests.shared.moto_aws import TABLE

RETRYING_ADMIN = Caller("org_demo", "user_1", "admin@example.com", frozenset({"billing_admin"}))


def pending_retry(token: str = "tok_success", **overrides: Any) -> tuple[str, dict[str, Any]]:
    """A failure, then an admin's retry: the entry id and the SQS event the worker receives."""
    body = factories.payment_failed(data__payment_method={"token": token}, **overrides)
    entry_id = payment_webhook.handle_payment_event(
        DynamoEntryStore(boto3.client("dynamodb"), TABLE),
        RecordingPublisher(),
        factories.delivery(of=body),
        body,
    ).entry_id
    assert entry_id is not None
    queue = RecordingQueue()
    actions.request_retry(
        DynamoEntryStore(boto3.client("dynamodb"), TABLE), queue, RETRYING_ADMIN, entry_id
    )
    return entry_id, sqs_event(queue.sent[0].body())


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{n}",
                "receiptHandle": f"r{n}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795626000000",
                    "SenderId": "x",
                    "ApproximateFirstReceiveTimestamp": "1795626000000",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ca-central-1:123456789012:pac-unit-retries",
                "awsRegion": "ca-central-1",
            }
            for n, body in enumerate(bodies)
        ]
    }
