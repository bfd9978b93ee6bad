"""GET/PUT /me/notification-preferences, the one-click unsubscribe, and the two digest
functions through their real handlers on moto (SES v2 included)."""

import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.app import preferences
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher
from tests.shared.lambdas import Context, answer, cold_start, http_event
from tests.shared.moto_aws import TABLE, UNSUBSCRIBE_KEY

ADMIN = {
    "sub": "user_1",
    "email": "admin@example.com",
    "org_id": "org_demo",
    "groups": "[billing_admin]",
}
PATH = "/me/notification-preferences"


@pytest.fixture
def api(aws: dict[str, str]) -> ModuleType:
    return cold_start("api")


def call(api: ModuleType, method: str, path: str = PATH, **kwargs: Any) -> tuple[int, Any]:
    kwargs.setdefault("claims", ADMIN)
    return answer(api.lambda_handler(http_event(method, path, **kwargs), Context()))


def test_preferences_default_to_not_subscribed_in_the_organizations_locale(api: ModuleType) -> None:
    assert call(api, "GET") == (200, {"failed_transactions_digest": False, "locale": "fr-CA"})


def test_an_admin_opts_in_and_reads_it_back(api: ModuleType) -> None:
    body = json.dumps({"failed_transactions_digest": True, "locale": "en-CA"})
    assert call(api, "PUT", body=body) == (
        200,
        {"failed_transactions_digest": True, "locale": "en-CA"},
    )
    assert call(api, "GET") == (200, {"failed_transactions_digest": True, "locale": "en-CA"})


@pytest.mark.parametrize(
    "body",
    [
        '{"failed_transactions_digest": true, "locale": "de-DE"}',
        '{"locale": "fr-CA"}',
        '{"failed_transactions_digest": "yes", "locale": "fr-CA"}',
    ],
)
def test_bad_preferences_are_422_and_change_nothing(api: ModuleType, body: str) -> None:
    assert call(api, "PUT", body=body)[0] == 422
    assert call(api, "GET")[1]["failed_transactions_digest"] is False


def test_the_one_click_link_unsubscribes_only_when_signed(api: ModuleType) -> None:
    call(api, "PUT", body=json.dumps({"failed_transactions_digest": True, "locale": "fr-CA"}))
    path = f"{PATH}/unsubscribe"
    forged = {"o": "org_demo", "u": "user_1", "s": "0" * 64}
    assert call(api, "POST", path, query=forged, claims=None)[0] == 403
    signed = forged | {
        "s": preferences.unsubscribe_signature(UNSUBSCRIBE_KEY.encode(), "org_demo", "user_1")
    }
    assert call(
        api, "POST", path, query=signed, claims=None, body="List-Unsubscribe=One-Click"
    ) == (200, {"status": "unsubscribed"})
    assert call(api, "GET")[1]["failed_transactions_digest"] is False


@pytest.mark.parametrize(
    "signature", ["é" * 64, "\x9b", "\U0001f600"], ids=["accents", "c1_control", "emoji"]
)
def test_a_link_signed_with_non_ascii_characters_is_forbidden_not_a_server_error(
    api: ModuleType, signature: str
) -> None:
    query = {"o": "org_demo", "u": "user_1", "s": signature}
    path = f"{PATH}/unsubscribe"
    assert call(api, "POST", path, query=query, claims=None)[0] == 403


def sent_emails() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["ca-central-1"].sent_messages)


def test_the_hourly_run_queues_the_due_organization_and_the_sender_emails_it(
    aws: dict[str, str],
) -> None:
    client = boto3.client("dynamodb")
    billing_webhook.handle_billing_event(
        DynamoBillingStore(client, TABLE),
        factories.billing_delivery(),
        factories.organization_upserted(data__time_zone="America/Halifax"),
    )
    payment_webhook.handle_payment_event(
        DynamoEntryStore(client, TABLE),
        RecordingPublisher(),
        factories.delivery(received_at="2026-11-25T08:00:01.000000000Z"),
        factories.payment_failed(
            occurred_at="2026-11-25T08:00:00Z",
            data__account_holder__name="<script>alert(1)</script>",
        ),
    )
    daily = cold_start("daily_digest")
    assert (
        daily.lambda_handler({"scheduled_time": "2026-11-25T10:00:00Z"}, Context())["queued"] == 0
    )
    assert (
        daily.lambda_handler({"scheduled_time": "2026-11-25T11:00:00Z"}, Context())["queued"] == 1
    )
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="pac-unit-digests")["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    sender = cold_start("digest_sender")
    event = {
        "Records": [
            {
                "messageId": "m1",
                "receiptHandle": "r",
                "body": message["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ca-central-1:123456789012:q",
                "awsRegion": "ca-central-1",
            }
        ]
    }
    assert sender.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert sender.lambda_handler(event, Context()) == {"batchItemFailures": []}  # redelivered
    [email] = sent_emails()
    raw = email.raw_data if hasattr(email, "raw_data") else str(email)
    assert (
        "&lt;script&gt;" in raw and "<script>alert" not in raw.split("Content-Type: text/html")[-1]
    )
