"""Nothing secret reaches the logs: no webhook secret or signature, no bearer token, no customer's
or admin's email address, on the paths that succeed and on the paths that fail (docs/reliability.md
§1). Every line every function writes is read, the metric lines included."""

import base64
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.app.preferences import unsubscribe_signature
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher
from tests.shared.lambdas import Context, answer, as_json, cold_start, http_event, signed_headers
from tests.shared.moto_aws import BILLING_SECRET, PAYMENTS_SECRET, TABLE, UNSUBSCRIBE_KEY
from tests.shared.retry_events import pending_retry, sqs_event

HOLDER_EMAIL = "eloise.secret-holder@example.com"
CONTACT_EMAIL = "contact.secret-billing@example.com"
ADMIN_EMAIL = "admin.secret-user@example.com"
BEARER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJlLW5vdC1mb3ItbG9ncw"
ADMIN = {"sub": "user_1", "email": ADMIN_EMAIL, "org_id": "org_demo", "groups": "[billing_admin]"}


class CurrentStdout:
    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


type Written = Callable[[], str]


@pytest.fixture
def written(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Written]:
    """Everything the functions wrote since the test began (log and metric lines alike)."""
    # One Powertools handler serves every function (same service): bind it to each moment's stdout.
    monkeypatch.setattr(Logger().registered_handler, "stream", CurrentStdout())
    seen: list[str] = []

    def read() -> str:
        captured = capsys.readouterr()
        seen.append(captured.out + captured.err)
        return "".join(seen)

    yield read


# The signatures this module's requests carried (webhook-signature values, unsubscribe `s`).
SIGNATURES: list[str] = []


def secrets_in(text: str) -> list[str]:
    """The secrets of this module found in `text`, in any of the forms a log line could take."""
    signing_keys = [
        secret.removeprefix("whsec_") for secret in (PAYMENTS_SECRET, BILLING_SECRET)
    ] + [base64.b64decode(s.removeprefix("whsec_")).decode() for s in (PAYMENTS_SECRET,)]
    needles = [
        HOLDER_EMAIL,
        CONTACT_EMAIL,
        ADMIN_EMAIL,
        BEARER,
        BEARER.split(".")[2],
        UNSUBSCRIBE_KEY,
        *signing_keys,
        *(part for signature in SIGNATURES for part in signature.split(",")[-1:]),
    ]
    folded = text.replace("\\/", "/")
    return [needle for needle in needles if needle in folded]


def deliver(
    fn: Any, body: dict[str, Any] | bytes, *, path: str, secret: str, **headers: str
) -> int:
    raw = body if isinstance(body, bytes) else as_json(body)
    sent = {**signed_headers(secret, raw, f"msg_{len(raw)}_{path[-4:]}"), **headers}
    SIGNATURES.append(sent["webhook-signature"])
    event = http_event("POST", path, headers=sent, body=raw)
    return answer(fn.lambda_handler(event, Context()))[0]


def test_webhooks_log_no_secret_signature_or_address_accepted_or_refused(written: Written) -> None:
    webhooks = cold_start("webhooks")
    failure = factories.payment_failed(data__account_holder__email=HOLDER_EMAIL)
    organization = factories.organization_upserted(data__billing_contact_email=CONTACT_EMAIL)
    payments, billing = "/webhooks/payments", "/webhooks/billing"

    assert deliver(webhooks, failure, path=payments, secret=PAYMENTS_SECRET) == 200
    assert deliver(webhooks, organization, path=billing, secret=BILLING_SECRET) == 200
    # Refused: the other endpoint's secret, a body that does not validate, one that is not JSON.
    assert deliver(webhooks, failure, path=payments, secret=BILLING_SECRET) == 401
    invalid = factories.payment_failed(data__account_holder__email=HOLDER_EMAIL, data__amount="x")
    assert deliver(webhooks, invalid, path=payments, secret=PAYMENTS_SECRET) == 400
    broken = as_json(failure)[:-1] + b',"' + HOLDER_EMAIL.encode() + b'"'
    assert deliver(webhooks, broken, path=payments, secret=PAYMENTS_SECRET) == 400
    bad_contact = factories.organization_upserted(
        data__billing_contact_email=CONTACT_EMAIL, data__locale="de-DE"
    )
    assert deliver(webhooks, bad_contact, path=billing, secret=BILLING_SECRET) == 400

    text = written()
    assert "webhook refused" in text  # the refusals were logged, without what they carried
    assert secrets_in(text) == []


def test_the_api_logs_no_token_or_address_answered_or_refused(written: Written) -> None:
    api = cold_start("api")
    headers = {"authorization": f"Bearer {BEARER}", "content-type": "application/json"}

    def call(method: str, path: str, body: str | None = None, **kwargs: Any) -> int:
        event = http_event(method, path, headers=headers, body=body, claims=ADMIN, **kwargs)
        return answer(api.lambda_handler(event, Context()))[0]

    entry_id, _ = pending_retry(data__account_holder__email=HOLDER_EMAIL)
    assert call("GET", "/transactions", query={"q": HOLDER_EMAIL}) == 200
    assert call("GET", f"/transactions/{entry_id}", route="/transactions/{id}") == 200
    assert call("GET", "/transactions/txn_unknown", route="/transactions/{id}") == 404
    assert call("PUT", "/me/notification-preferences", body='{"locale": 1}') == 422
    assert call("PUT", "/me/notification-preferences", body='{"a":1,"a":2}') == 400
    retried = call(
        "POST",
        f"/transactions/{entry_id}/retry",
        route="/transactions/{id}/retry",
        path_parameters={"id": entry_id},
    )
    assert retried == 409  # already pending: refused

    unsubscribe = "/me/notification-preferences/unsubscribe"
    signature = unsubscribe_signature(UNSUBSCRIBE_KEY.encode(), "org_demo", "user_1")
    SIGNATURES.append(signature)
    for s in (signature, signature[::-1]):
        query = {"o": "org_demo", "u": "user_1", "s": s}
        event = http_event("POST", unsubscribe, query=query, body="List-Unsubscribe=One-Click")
        assert answer(api.lambda_handler(event, Context()))[0] in (200, 403)

    # The API logs nothing of its own today: this guards whatever it logs one day (an
    # access log, an error's traceback) against carrying the token, an address or a signature.
    assert secrets_in(written()) == []


@pytest.mark.parametrize("token", ["tok_success", "tok_card_declined", "tok_timeout"])
def test_the_retry_worker_logs_no_address_whatever_the_processor_answers(
    written: Written, token: str
) -> None:
    worker = cold_start("retry_worker")
    _, event = pending_retry(token, data__account_holder__email=HOLDER_EMAIL)
    worker.lambda_handler(event, Context())
    worker.lambda_handler(sqs_event("not a retry"), Context())

    text = written()
    assert text  # the worker did log
    assert secrets_in(text) == []


def test_the_digest_logs_no_recipient(written: Written) -> None:
    client = boto3.client("dynamodb")
    billing_webhook.handle_billing_event(
        DynamoBillingStore(client, TABLE),
        factories.billing_delivery(),
        factories.organization_upserted(
            data__time_zone="America/Halifax", data__billing_contact_email=CONTACT_EMAIL
        ),
    )
    payment_webhook.handle_payment_event(
        DynamoEntryStore(client, TABLE),
        RecordingPublisher(),
        factories.delivery(received_at="2026-11-25T08:00:01.000000000Z"),
        factories.payment_failed(
            occurred_at="2026-11-25T08:00:00Z", data__account_holder__email=HOLDER_EMAIL
        ),
    )
    daily = cold_start("daily_digest")
    assert daily.lambda_handler({"scheduled_time": "2026-11-25T11:00:00Z"}, Context())["queued"]
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="pac-unit-digests")["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    sender = cold_start("digest_sender")
    assert sender.lambda_handler(sqs_event(message["Body"]), Context()) == {"batchItemFailures": []}

    text = written()
    assert "digest sent" in text
    assert secrets_in(text) == []


@pytest.mark.parametrize("secret", [HOLDER_EMAIL, BEARER, PAYMENTS_SECRET])
def test_a_secret_in_a_json_log_line_is_found(secret: str) -> None:
    line = json.dumps({"message": "x", "extra": {"value": secret.replace("/", "\\/")}})
    assert secrets_in(line) != []
