"""The automatic retry policy on the local stack (docs/contract.md §2): PUT /retry-policy turns it
on, failure webhooks open entries, and `POST /_local/schedules/retry-watchdog` runs the watchdog
at chosen instants. The sandbox decides each charge by the entry's token (docs/local-stack.md §8):
`tok_card_declined` fails again (a soft decline), `tok_success` recovers. What the processor
received is GET /_local/sandbox/charges.

The policy's days count from the local date of the first failure in the organization's time zone
(America/Toronto here); each attempt is due at 09:00 there. The failures happen now (a webhook's
occurred_at may not be in the future), so the runs are at instants in the days after.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from local.stack import LocalStack
from payment_action_center.app.work import RetryWork
from tests.e2e.conftest import Api, MintToken, PostWebhook
from tests.shared import factories

ZONE = ZoneInfo("America/Toronto")


def at(day: date, hour: int, minute: int = 0) -> str:
    """The UTC instant of a Toronto wall-clock time, as the schedule endpoint takes it."""
    local = datetime.combine(day, time(hour, minute), tzinfo=ZONE)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Org:
    """One organization of the test: its settings, a billing admin's token, its policy."""

    def __init__(self, api: Api, token: MintToken, post_webhook: PostWebhook) -> None:
        self.api, self.post_webhook = api, post_webhook
        self.id = f"org_{uuid.uuid4().hex[:10]}"
        settings = factories.organization_upserted(
            data__organization_id=self.id, data__time_zone="America/Toronto"
        )
        assert post_webhook("billing", settings).json() == {"status": "accepted"}
        self.jwt = token(org_id=self.id)
        # The failures happen now: the policy's day 0 is today in Toronto.
        self.failed_at = datetime.now(UTC).replace(microsecond=0)
        self.day0 = self.failed_at.astimezone(ZONE).date()

    def policy(self, **body: Any) -> dict[str, Any]:
        answer = self.api.request("PUT", "/retry-policy", self.jwt, json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def failure(self, token: str, code: str = "card_declined") -> str:
        body = factories.payment_failed(
            occurred_at=self.failed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            data__organization_id=self.id,
            data__payment_method={"token": token},
            data__failure={"code": code, "message": "declined"},
        )
        assert self.post_webhook("payments", body).json() == {"status": "accepted"}
        listed = self.api.get("/transactions", self.jwt, params={"q": body["data"]["payment_id"]})
        return str(listed.json()["items"][0]["id"])

    def entry(self, entry_id: str) -> dict[str, Any]:
        answer = self.api.get(f"/transactions/{entry_id}", self.jwt)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def day(self, n: int, hour: int = 9, minute: int = 0) -> str:
        return at(self.day0 + timedelta(days=n), hour, minute)


def keys_charged(api: Api, entry_id: str) -> list[str]:
    return [
        c["idempotency_key"]
        for c in api.sandbox_charges()
        if c["idempotency_key"].startswith(f"{entry_id}:")
    ]


@pytest.fixture
def org(api: Api, token: MintToken, post_webhook: PostWebhook) -> Iterator[Org]:
    made = Org(api, token, post_webhook)
    yield made
    # Off again: the package's other tests run the watchdog at instants of their own.
    made.policy(enabled=False)


def test_the_policy_is_off_by_default_and_a_billing_admin_turns_it_on(
    api: Api, org: Org, token: MintToken
) -> None:
    answer = api.get("/retry-policy", org.jwt)
    assert answer.json() == {
        "enabled": False,
        "days": [1, 3, 7, 14],
        "local_time": "09:00",
        "updated_at": None,
    }
    reader = token(org_id=org.id, groups=[], sub="reader")
    refused = api.request("PUT", "/retry-policy", reader, json={"enabled": True})
    assert refused.status_code == 403, refused.text
    bad = api.request("PUT", "/retry-policy", org.jwt, json={"enabled": True, "days": [3, 1]})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_payload"), bad.text
    assert api.get("/retry-policy", org.jwt).json()["enabled"] is False  # nothing changed
    saved = org.policy(enabled=True, days=[2, 5], local_time="07:30")
    assert (saved["enabled"], saved["days"], saved["local_time"]) == (True, [2, 5], "07:30")
    assert api.get("/retry-policy", org.jwt).json() == saved


def test_attempts_on_days_1_3_7_14_at_09_00_local_and_never_before(api: Api, org: Org) -> None:
    org.policy(enabled=True)
    declined = org.failure("tok_card_declined")
    never = org.failure("tok_success", code="stolen_card")  # never_retry: never charged
    expected: list[str] = []
    for number, day in enumerate((1, 3, 7, 14), start=1):
        api.run_schedule("retry-watchdog", org.day(day, 8, 59))
        assert keys_charged(api, declined) == expected, f"charged before 09:00 on day {day}"
        api.run_schedule("retry-watchdog", org.day(day, 9, 0))
        expected.append(f"{declined}:retry:{number}")
        assert keys_charged(api, declined) == expected, f"day {day}"
        # Later the same day, and the day after: nothing more.
        api.run_schedule("retry-watchdog", org.day(day, 13, 0))
        api.run_schedule("retry-watchdog", org.day(day + 1, 9, 0))
        assert keys_charged(api, declined) == expected, f"after day {day}"
        shown = org.entry(declined)
        assert (shown["status"], shown["attempts"]) == ("failed", number + 1)
    assert org.entry(declined)["next_automatic_retry_at"] is None
    api.run_schedule("retry-watchdog", org.day(30))
    assert keys_charged(api, declined) == expected  # four attempts, no more
    assert keys_charged(api, never) == []
    requested = [e for e in org.entry(declined)["audit"] if e["action"] == "retry_requested"]
    assert [e["actor"] for e in requested] == [
        {"type": "system", "id": "auto-retry", "email": None}
    ] * 4
    assert [e["detail"] for e in requested] == [
        {"attempt": n + 1, "automatic": n + 1} for n in range(4)
    ]


def test_the_next_automatic_retry_is_shown_on_the_entry(api: Api, org: Org) -> None:
    entry_id = org.failure("tok_card_declined")
    assert org.entry(entry_id)["next_automatic_retry_at"] is None  # off
    org.policy(enabled=True)
    assert org.entry(entry_id)["next_automatic_retry_at"] == org.day(1)
    [listed] = [i for i in api.get("/transactions", org.jwt).json()["items"] if i["id"] == entry_id]
    assert listed["next_automatic_retry_at"] == org.day(1)
    api.run_schedule("retry-watchdog", org.day(1))
    assert org.entry(entry_id)["next_automatic_retry_at"] == org.day(3)


def test_a_missed_run_is_caught_up_by_the_next(api: Api, org: Org) -> None:
    org.policy(enabled=True)
    entry_id = org.failure("tok_card_declined")
    # No run on day 1 at all: not in the night (day 2 at 03:00), but the next morning's first
    # run, on day 2 at 09:00, makes the day-1 attempt.
    api.run_schedule("retry-watchdog", org.day(2, 3, 0))
    assert keys_charged(api, entry_id) == []
    api.run_schedule("retry-watchdog", org.day(2, 9, 0))
    assert keys_charged(api, entry_id) == [f"{entry_id}:retry:1"]


def test_none_after_a_recovery_or_a_dismissal(api: Api, org: Org) -> None:
    org.policy(enabled=True)
    recovers = org.failure("tok_success")
    dismissed = org.failure("tok_card_declined")
    answer = api.post(f"/transactions/{dismissed}/dismiss", org.jwt, json={"reason": "paid"})
    assert answer.status_code == 200, answer.text
    for day in (1, 3, 7, 14):
        api.run_schedule("retry-watchdog", org.day(day))
    assert keys_charged(api, recovers) == [f"{recovers}:retry:1"]
    assert org.entry(recovers)["status"] == "recovered"
    assert keys_charged(api, dismissed) == []


def test_exactly_one_charge_per_attempt_when_a_run_is_repeated_or_a_message_redelivered(
    api: Api, org: Org, stack: LocalStack
) -> None:
    org.policy(enabled=True)
    declined = org.failure("tok_card_declined")
    recovers = org.failure("tok_success")
    api.run_schedule("retry-watchdog", org.day(1))
    # The same run again, the organization due again (the policy saved anew): nothing twice.
    org.policy(enabled=True)
    api.run_schedule("retry-watchdog", org.day(1))
    assert keys_charged(api, declined) == [f"{declined}:retry:1"]
    assert keys_charged(api, recovers) == [f"{recovers}:retry:1"]
    # The retry queue delivers each attempt's message twice more.
    sqs = stack.endpoints.client("sqs")
    for entry_id in (declined, recovers):
        body = RetryWork(org.id, entry_id, 1).body()
        sqs.send_message_batch(
            QueueUrl=stack.values.refs["RetryQueue"],
            Entries=[{"Id": "first", "MessageBody": body}, {"Id": "again", "MessageBody": body}],
        )
    assert stack.wait_for_queues_idle(60)
    assert keys_charged(api, declined) == [f"{declined}:retry:1"]
    assert keys_charged(api, recovers) == [f"{recovers}:retry:1"]
    recovered = [
        e
        for e in api.local_events()
        if e["detail_type"] == "PaymentRecovered" and e["detail"]["transaction_id"] == recovers
    ]
    assert len(recovered) == 1
