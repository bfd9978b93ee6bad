"""The daily digest: who is due when, the exact window, once per day and recipient
(docs/contract.md §4.3).
Runs the DynamoDB adapters on moto with a recording mailer."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import boto3
import pytest

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.billing_store import (
    DynamoBillingStore,
    organization_item,
)
from payment_action_center.adapters.dynamodb.digest_store import DynamoDigestStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore, to_attributes
from payment_action_center.adapters.emails.digest import render_digest
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.app import digest, preferences, sending
from payment_action_center.app.work import DigestWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.declines import RecommendedAction
from payment_action_center.domain.entries import Caller
from tests.shared import factories
from tests.shared.fakes import RecordingMailer, RecordingPublisher
from tests.shared.moto_aws import TABLE

LINKS = digest.Links(api_url="https://api.example.com", unsubscribe_key=b"k")


class World:
    def __init__(self) -> None:
        client = boto3.client("dynamodb")
        self.entries = DynamoEntryStore(client, TABLE)
        self.billing = DynamoBillingStore(client, TABLE)
        self.digests = DynamoDigestStore(client, TABLE)
        self.mailer = RecordingMailer()

    def organization(self, org: str, time_zone: str, **overrides: Any) -> None:
        body = factories.organization_upserted(
            data__organization_id=org, data__time_zone=time_zone, **overrides
        )
        billing_webhook.handle_billing_event(self.billing, factories.billing_delivery(), body)

    def failure(self, org: str, at: str, **overrides: Any) -> None:
        body = factories.payment_failed(data__organization_id=org, occurred_at=at, **overrides)
        payment_webhook.handle_payment_event(
            self.entries, RecordingPublisher(), factories.delivery(of=body), body
        )

    def subscribe(self, org: str, user: str, email: str, locale: str = "en-CA") -> None:
        caller = Caller(org, user, email, frozenset({"billing_admin"}))
        preferences.change(self.digests, caller, failed_transactions_digest=True, locale=locale)  # type: ignore[arg-type]

    def due(self, now: str) -> list[str]:
        return [
            w.organization_id
            for w in digest.due(timestamps.canonical(now), self.digests, self.billing)
        ]

    def send(self, org: str, window_end: str, local_date: str = "2026-11-25") -> sending.Report:
        work = DigestWork(org, timestamps.canonical(window_end), local_date)
        return digest.send_digest(
            work,
            failures=self.digests,
            billing=self.billing,
            preferences=self.digests,
            ledger=self.digests,
            mailer=self.mailer,
            sender="no-reply@pac.example.com",
            links=LINKS,
            render=render_digest,
        )


@pytest.fixture
def world(aws: dict[str, str]) -> World:
    return World()


def test_each_organization_is_due_at_seven_in_its_own_time_zone(world: World) -> None:
    world.organization("org_van", "America/Vancouver")
    world.organization("org_hal", "America/Halifax")
    for org in ("org_van", "org_hal"):
        world.failure(org, "2026-11-25T05:00:00Z")
    # 07:00 in Halifax (UTC-4) is 11:00 UTC; in Vancouver (UTC-8) 15:00 UTC.
    due_by_hour = {hour: world.due(f"2026-11-25T{hour:02d}:00:00Z") for hour in range(24)}
    assert {h: orgs for h, orgs in due_by_hour.items() if orgs} == {
        11: ["org_hal"],
        15: ["org_van"],
    }


def test_an_organization_without_failures_in_the_window_is_not_due(world: World) -> None:
    world.organization("org_old", "America/Halifax")
    world.failure("org_old", "2026-11-23T10:00:00Z")
    assert world.due("2026-11-25T11:00:00Z") == []


def test_a_daylight_saving_change_day_sends_exactly_once(world: World) -> None:
    world.organization("org_tor", "America/Toronto")
    world.failure("org_tor", "2026-11-01T03:00:00Z")  # DST ends in Toronto on 2026-11-01
    hours = [h for h in range(24) if world.due(f"2026-11-01T{h:02d}:00:00Z")]
    assert hours == [12]  # 07:00 EST = 12:00 UTC, once


def test_the_window_is_exact_at_its_edges(world: World) -> None:
    world.organization("org_edge", "America/Halifax")
    end = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    for seconds in (24 * 3600, 24 * 3600 - 1, 0):
        at = (end - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        world.failure("org_edge", at, data__payment_id=f"pay_edge_{seconds}")
    world.send("org_edge", "2026-11-25T11:00:00Z")
    [(_, raw)] = world.mailer.sent
    text = raw.decode()
    assert "pay_edge_86399" in text and "pay_edge_0" in text
    assert "pay_edge_86400" not in text


def test_the_billing_contact_and_opted_in_admins_each_get_one_in_their_locale(world: World) -> None:
    world.organization("org_pref", "America/Halifax")
    world.subscribe("org_pref", "user_en", "admin.en@example.com", "en-CA")
    world.failure("org_pref", "2026-11-25T08:00:00Z")
    report = world.send("org_pref", "2026-11-25T11:00:00Z")
    assert sorted(report.sent) == ["admin.en@example.com", "facturation@centre-demo.example"]
    assert sorted(world.mailer.subjects()) == [
        ("admin.en@example.com", "Important notification — Transaction failure"),
        ("facturation@centre-demo.example", "Notification importante — Échec de transaction"),
    ]


def test_reruns_and_duplicate_deliveries_send_nobody_twice(world: World) -> None:
    world.organization("org_once", "America/Halifax")
    world.subscribe("org_once", "user_1", "admin@example.com")
    world.failure("org_once", "2026-11-25T08:00:00Z")
    world.send("org_once", "2026-11-25T11:00:00Z")
    again = world.send("org_once", "2026-11-25T11:00:00Z")
    assert again.sent == [] and len(again.already_sent) == 2
    assert len(world.mailer.sent) == 2


def test_an_ses_failure_for_one_recipient_retries_only_that_one(world: World) -> None:
    world.organization("org_ses", "America/Halifax")
    world.subscribe("org_ses", "user_1", "ok@example.com")
    world.subscribe("org_ses", "user_2", "throttled@example.com")
    world.failure("org_ses", "2026-11-25T08:00:00Z")
    world.mailer.refuse = {"throttled@example.com"}
    first = world.send("org_ses", "2026-11-25T11:00:00Z")
    assert first.failed == ["throttled@example.com"] and len(first.sent) == 2
    world.mailer.refuse = set()
    second = world.send("org_ses", "2026-11-25T11:00:00Z")
    assert second.sent == ["throttled@example.com"]
    recipients = [to for to, _ in world.mailer.sent]
    assert sorted(recipients) == sorted(set(recipients))  # nobody twice


def test_a_malformed_billing_contact_is_skipped_not_the_whole_digest(world: World) -> None:
    world.organization("org_bad", "America/Halifax")
    world.subscribe("org_bad", "user_1", "admin@example.com")
    # The webhook refuses a bad address, so put one in the stored settings directly.
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": {"S": "ORG#org_bad"}, "sk": {"S": "SETTINGS"}},
        UpdateExpression="SET billing_contact_email = :e",
        ExpressionAttributeValues={":e": {"S": "not an address"}},
    )
    world.failure("org_bad", "2026-11-25T08:00:00Z")
    report = world.send("org_bad", "2026-11-25T11:00:00Z")
    assert report.sent == ["admin@example.com"] and report.skipped == ["not an address"]


def test_the_admin_gets_a_one_click_unsubscribe_and_the_contact_does_not(world: World) -> None:
    world.organization("org_unsub", "America/Halifax")
    world.subscribe("org_unsub", "user_1", "admin@example.com")
    world.failure("org_unsub", "2026-11-25T08:00:00Z")
    world.send("org_unsub", "2026-11-25T11:00:00Z")
    headers = {to: message_from_bytes(raw) for to, raw in world.mailer.sent}
    admin = headers["admin@example.com"]
    assert admin["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        f"s={preferences.unsubscribe_signature(b'k', 'org_unsub', 'user_1')}"
        in admin["List-Unsubscribe"]
    )
    contact = headers["facturation@centre-demo.example"]
    assert contact["List-Unsubscribe"] and contact["List-Unsubscribe-Post"] is None


def test_the_digest_reads_only_the_window_of_its_organization(world: World) -> None:
    world.organization("org_big", "America/Halifax")
    world.failure("org_big", "2026-11-25T08:00:00Z")
    world.failure("org_big", "2026-11-25T09:00:00Z")
    for n in range(30):  # older failures of the same organization
        world.failure("org_big", f"2026-11-{(n % 20) + 1:02d}T09:00:00Z")
    for n in range(40):  # other organizations, same window
        world.failure(f"org_other_{n}", "2026-11-25T08:30:00Z")
    read: list[int] = []
    world.digests._client.meta.events.register(
        "after-call.dynamodb.Query",
        lambda parsed, **_: read.append(parsed.get("ScannedCount", 0)),
    )
    lines = world.digests.failures(
        "org_big",
        after=timestamps.canonical("2026-11-24T11:00:00Z"),
        until=timestamps.canonical("2026-11-25T11:00:00Z"),
    )
    assert len(lines) == 2
    assert sum(read) == 2


def test_the_hourly_run_reads_in_batches_not_one_organization_at_a_time(world: World) -> None:
    world.organization("org_model", "America/Halifax")
    model = world.billing.organization("org_model")
    assert model is not None
    client = world.digests._client
    for n in range(110):  # written directly: 110 webhooks would only slow the test down
        org = f"org_many_{n:03d}"
        zone = "America/Halifax" if n % 2 else "America/Vancouver"
        client.put_item(
            TableName=TABLE,
            Item=to_attributes(
                organization_item(replace(model, id=org, time_zone=zone), model.state_at)
            ),
        )
        client.put_item(  # the keys a failure-log row carries for the FailuresByDay index
            TableName=TABLE,
            Item=to_attributes(
                {
                    "pk": f"ORG#{org}#FAILURES",
                    "sk": "2026-11-25T05:00:00Z#txn_x#0001",
                    "failday_pk": keys.failure_day(
                        "2026-11-25", keys.shard(org, keys.FAILDAY_SHARDS)
                    ),
                    "failday_sk": f"{org}#2026-11-25T05#txn_x",
                }
            ),
        )
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    assert len(world.due("2026-11-25T11:00:00Z")) == 55  # the Halifax half
    assert calls.count("BatchGetItem") == 2 and calls.count("GetItem") == 0
    # One per shard of each UTC day of the window (adapters/dynamodb/keys.py).
    assert calls.count("Query") == 2 * keys.FAILDAY_SHARDS


def test_a_send_with_no_answer_is_never_sent_again(world: World) -> None:
    world.organization("org_unknown", "America/Halifax")
    world.failure("org_unknown", "2026-11-25T08:00:00Z")
    world.mailer.no_answer = {"facturation@centre-demo.example"}
    first = world.send("org_unknown", "2026-11-25T11:00:00Z")
    assert first.unknown == ["facturation@centre-demo.example"] and first.failed == []
    world.mailer.no_answer = set()
    assert world.send("org_unknown", "2026-11-25T11:00:00Z").sent == []


# --------------------------------------------------------------------------- recommended actions


def text_fields(raw: bytes, payment_id: str) -> dict[str, str]:
    """The text part's fields of the digest line with `payment_id`, by label."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    text = body.get_content().replace("\r\n", "\n")
    (block,) = [b for b in text.split("\n\n") if payment_id in b]
    fields = {}
    for field_line in block.splitlines()[1:]:
        label, _, value = field_line.strip().partition(": ")
        fields[label.rstrip("\u00a0")] = value
    return fields


def test_each_line_says_what_to_do_in_each_recipients_language(world: World) -> None:
    world.organization("org_act", "America/Halifax")  # its billing contact reads fr-CA
    world.subscribe("org_act", "user_en", "admin.en@example.com", "en-CA")
    world.failure(
        "org_act",
        "2026-11-25T08:00:00Z",
        data__payment_id="pay_card",
        data__failure={"code": "insufficient_funds", "message": "Insufficient funds."},
    )
    world.failure(
        "org_act",
        "2026-11-25T09:00:00Z",
        data__payment_id="pay_bank",
        data__method="echeck",
        data__failure={"code": "nsf", "message": "Returned: NSF.", "return_code": "R01"},
    )
    world.send("org_act", "2026-11-25T11:00:00Z")
    sent = dict(world.mailer.sent)
    french = sent["facturation@centre-demo.example"]
    english = sent["admin.en@example.com"]
    assert text_fields(french, "pay_card")["Action recommandée"] == "Réessayer plus tard"
    assert text_fields(english, "pay_card")["Recommended action"] == "Retry later"
    assert (
        text_fields(french, "pay_bank")["Action recommandée"]
        == "Attendre le jour de paie, puis réessayer"
    )
    assert text_fields(english, "pay_bank")["Recommended action"] == "Wait for payday, then retry"


def remove_method(org: str, payment_id: str) -> None:
    """Make a failure-log row as it was written before rows kept the payment method."""
    client = boto3.client("dynamodb")
    rows = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        FilterExpression="payment_id = :p",
        ExpressionAttributeValues={":pk": {"S": keys.failure_log(org)}, ":p": {"S": payment_id}},
    )["Items"]
    assert [row["method"]["S"] for row in rows] == ["credit_card"]
    client.update_item(
        TableName=TABLE,
        Key={"pk": rows[0]["pk"], "sk": rows[0]["sk"]},
        UpdateExpression="REMOVE #m",
        ExpressionAttributeNames={"#m": "method"},
    )


def test_a_row_without_its_method_gets_no_recommendation_unless_its_type_says(
    world: World,
) -> None:
    world.organization("org_old_rows", "America/Halifax")
    world.subscribe("org_old_rows", "user_en", "admin.en@example.com", "en-CA")
    world.failure(
        "org_old_rows",
        "2026-11-25T08:00:00Z",
        data__payment_id="pay_old",
        data__failure={"code": "insufficient_funds", "message": "Insufficient funds."},
    )
    world.failure("org_old_rows", "2026-11-25T08:30:00Z", data__payment_id="pay_new")
    refund = factories.refund_failed(
        data__organization_id="org_old_rows",
        occurred_at="2026-11-25T09:00:00Z",
        data__payment_id="pay_refund",
    )
    payment_webhook.handle_payment_event(
        world.entries, RecordingPublisher(), factories.delivery(of=refund), refund
    )
    remove_method("org_old_rows", "pay_old")  # an installment: by card or by e-check?
    remove_method("org_old_rows", "pay_refund")  # a refund is by card

    lines = world.digests.failures(
        "org_old_rows",
        after=timestamps.canonical("2026-11-24T11:00:00Z"),
        until=timestamps.canonical("2026-11-25T11:00:00Z"),
    )
    assert {line.payment_id: line.recommended_action for line in lines} == {
        "pay_old": None,
        "pay_new": RecommendedAction.RETRY_LATER,  # card_declined
        "pay_refund": RecommendedAction.FUND_MERCHANT_ACCOUNT,
    }
    report = world.send("org_old_rows", "2026-11-25T11:00:00Z")
    assert sorted(report.sent) == ["admin.en@example.com", "facturation@centre-demo.example"]
    sent = dict(world.mailer.sent)
    for to, label in [
        ("admin.en@example.com", "Recommended action"),
        ("facturation@centre-demo.example", "Action recommandée"),
    ]:
        assert label not in text_fields(sent[to], "pay_old")
        assert label in text_fields(sent[to], "pay_new")
        assert label in text_fields(sent[to], "pay_refund")
