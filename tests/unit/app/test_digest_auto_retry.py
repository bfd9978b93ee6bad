"""The daily digest's line of automatic retries to come (app/digest.py, docs/contract.md §4.3):
counted from the organization's failed entries while its policy is on, by its calendar; no line,
and no read of the entries, while it is off. The DynamoDB adapters on moto."""

from email.message import EmailMessage

import boto3
import pytest

from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import DynamoDigestStore
from payment_action_center.adapters.dynamodb.policy_store import DynamoRetryPolicyStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.emails.digest import render_digest
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.app import digest
from payment_action_center.app.work import DigestWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.auto_retry import RetryPolicy
from tests.shared import factories
from tests.shared.fakes import RecordingMailer, RecordingPublisher
from tests.shared.moto_aws import TABLE

ORG = "org_demo"
LINKS = digest.Links(api_url="https://api.example.com", unsubscribe_key=b"k")
# The digest of 2026-11-25 in Toronto (07:00 EST is 12:00 UTC).
WINDOW_END = "2026-11-25T12:00:00Z"


@pytest.fixture
def stores(aws: dict[str, str]) -> dict[str, object]:
    client = boto3.client("dynamodb")
    found: dict[str, object] = {
        "entries": DynamoEntryStore(client, TABLE),
        "billing": DynamoBillingStore(client, TABLE),
        "digests": DynamoDigestStore(client, TABLE),
        "policies": DynamoRetryPolicyStore(client, TABLE),
    }
    body = factories.organization_upserted(data__locale="en-CA")
    billing_webhook.handle_billing_event(found["billing"], factories.delivery(of=body), body)  # type: ignore[arg-type]
    for at, code in (
        ("2026-11-24T15:30:00Z", "card_declined"),  # day 1: today (the 25th)
        ("2026-11-24T18:00:00Z", "do_not_honor"),  # day 1: today
        ("2026-11-25T03:00:00Z", "card_declined"),  # the 24th in Toronto: day 1 today too
        ("2026-11-25T11:00:00Z", "card_declined"),  # the 25th: day 1 tomorrow
        ("2026-11-25T11:30:00Z", "stolen_card"),  # never
    ):
        failed = factories.payment_failed(
            occurred_at=at, data__failure={"code": code, "message": ""}
        )
        payment_webhook.handle_payment_event(
            found["entries"],  # type: ignore[arg-type]
            RecordingPublisher(),
            factories.delivery(of=failed),
            failed,
        )
    return found


def send(stores: dict[str, object]) -> EmailMessage:
    mailer = RecordingMailer()
    digests = stores["digests"]
    digest.send_digest(
        DigestWork(ORG, timestamps.canonical(WINDOW_END), "2026-11-25"),
        failures=digests,  # type: ignore[arg-type]
        billing=stores["billing"],  # type: ignore[arg-type]
        preferences=digests,  # type: ignore[arg-type]
        ledger=digests,  # type: ignore[arg-type]
        mailer=mailer,
        sender="no-reply@pac.example.com",
        links=LINKS,
        render=render_digest,
        policies=stores["policies"],  # type: ignore[arg-type]
        entries=stores["entries"],  # type: ignore[arg-type]
    )
    assert len(mailer.to()) == 1
    return mailer.message(0)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_the_digest_counts_the_retries_scheduled_while_the_policy_is_on(
    stores: dict[str, object],
) -> None:
    policies = stores["policies"]
    policies.save_retry_policy(ORG, RetryPolicy(enabled=True, updated_at=WINDOW_END))  # type: ignore[attr-defined]
    text = text_of(send(stores))
    assert "Retries scheduled today: 3 · tomorrow: 1 · the day after: 0" in text


def test_no_line_while_the_policy_is_off(stores: dict[str, object]) -> None:
    text = text_of(send(stores))
    assert "Retries scheduled" not in text
