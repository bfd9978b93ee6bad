"""The digest's queries on DynamoDB Local: the window range, the day index, preferences and the
once-per-recipient ledger (reserved words and condition expressions are checked for real)."""

from typing import Any

import pytest

from payment_action_center.adapters.dynamodb.digest_store import DynamoDigestStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from payment_action_center.app import preferences
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import Caller
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher


@pytest.fixture
def digests(dynamodb: tuple[Any, str]) -> DynamoDigestStore:
    return DynamoDigestStore(*dynamodb)


@pytest.fixture
def entries(dynamodb: tuple[Any, str]) -> DynamoEntryStore:
    return DynamoEntryStore(*dynamodb)


def fail(entries: DynamoEntryStore, org: str, at: str, payment_id: str) -> None:
    body = factories.payment_failed(
        data__organization_id=org, occurred_at=at, data__payment_id=payment_id
    )
    payment_webhook.handle_payment_event(entries, RecordingPublisher(), factories.delivery(), body)


def test_the_window_excludes_its_start_and_includes_its_end(
    digests: DynamoDigestStore, entries: DynamoEntryStore
) -> None:
    for at, pid in [
        ("2026-11-24T11:00:00Z", "start"),
        ("2026-11-24T11:00:01Z", "in"),
        ("2026-11-25T11:00:00Z", "end"),
        ("2026-11-25T11:00:01Z", "after"),
    ]:
        fail(entries, "org_w", at, pid)
    lines = digests.failures(
        "org_w",
        after=timestamps.canonical("2026-11-24T11:00:00Z"),
        until=timestamps.canonical("2026-11-25T11:00:00Z"),
    )
    assert sorted(line.payment_id for line in lines) == ["end", "in"]
    assert digests.organizations_with_failures("2026-11-24") == ["org_w"]
    assert digests.organizations_with_failures("2026-11-23") == []


def test_subscribers_are_the_opted_in_admins_only(digests: DynamoDigestStore) -> None:
    for user, digest_on in [("u1", True), ("u2", False), ("u3", True)]:
        caller = Caller("org_p", user, f"{user}@example.com", frozenset({"billing_admin"}))
        preferences.change(
            digests,
            caller,
            failed_transactions_digest=digest_on,
            locale="en-CA",
        )
    assert sorted(p.user_id for p in digests.digest_subscribers("org_p")) == ["u1", "u3"]
    assert digests.digest_subscribers("org_none") == []


def test_the_ledger_lets_a_recipient_through_once_unless_the_send_failed(
    digests: DynamoDigestStore,
) -> None:
    assert digests.claim("org_l", "2026-11-25", "A@example.com") is True
    assert digests.claim("org_l", "2026-11-25", "a@example.com") is False  # in flight
    digests.release("org_l", "2026-11-25", "a@example.com", "Throttling")
    assert digests.claim("org_l", "2026-11-25", "a@example.com") is True  # retried
    digests.sent("org_l", "2026-11-25", "a@example.com")
    assert digests.claim("org_l", "2026-11-25", "a@example.com") is False
    assert digests.claim("org_l", "2026-11-26", "a@example.com") is True  # another day
