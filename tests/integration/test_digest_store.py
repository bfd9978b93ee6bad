"""The digest's queries on DynamoDB Local: the window range, the day index, preferences and the
once-per-recipient ledger (reserved words and condition expressions are checked for real)."""

from typing import Any

import pytest

from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.digest_store import DynamoDigestStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from payment_action_center.app import preferences
from payment_action_center.domain import timestamps
from payment_action_center.domain.declines import RecommendedAction
from payment_action_center.domain.entries import Caller
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher


@pytest.fixture
def digests(dynamodb: tuple[Any, str]) -> DynamoDigestStore:
    return DynamoDigestStore(*dynamodb)


@pytest.fixture
def entries(dynamodb: tuple[Any, str]) -> DynamoEntryStore:
    return DynamoEntryStore(*dynamodb)


def fail(entries: DynamoEntryStore, org: str, at: str, payment_id: str, **overrides: Any) -> None:
    body = factories.payment_failed(
        data__organization_id=org, occurred_at=at, data__payment_id=payment_id, **overrides
    )
    payment_webhook.handle_payment_event(
        entries, RecordingPublisher(), factories.delivery(of=body), body
    )


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


def test_organizations_on_every_shard_of_the_day_are_found_once_each(
    digests: DynamoDigestStore, entries: DynamoEntryStore, dynamodb: tuple[Any, str]
) -> None:
    client, _ = dynamodb
    organizations = [f"org_day_{n:02d}" for n in range(20)]
    assert len({keys.shard(o, keys.FAILDAY_SHARDS) for o in organizations}) >= 10
    for n, org in enumerate(organizations):
        for attempt in range(1 + n % 3):  # some organizations fail more than once that day
            fail(entries, org, f"2026-11-24T1{attempt}:00:00Z", f"pay_{n:02d}_{attempt}")
    fail(entries, "org_day_00", "2026-11-25T00:00:00Z", "pay_next_day")
    queries: list[str] = []
    client.meta.events.register("before-call.dynamodb.Query", lambda **_: queries.append("Q"))
    found = digests.organizations_with_failures("2026-11-24")
    assert sorted(found) == organizations  # each once
    assert found == sorted(found, key=lambda o: keys.shard(o, keys.FAILDAY_SHARDS))
    assert len(queries) == keys.FAILDAY_SHARDS  # one Query a shard, the empty ones too
    assert digests.organizations_with_failures("2026-11-25") == ["org_day_00"]


def test_a_failure_log_row_is_on_its_organizations_shard_of_the_day(
    entries: DynamoEntryStore, dynamodb: tuple[Any, str]
) -> None:
    client, table = dynamodb
    fail(entries, "org_other", "2026-11-24T15:30:00Z", "pay_sharded")
    rows = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "ORG#org_other#FAILURES"}},
    )["Items"]
    assert [row["failday_pk"]["S"] for row in rows] == [
        "FAILDAY#2026-11-24#02"  # zlib.crc32(b"org_other") % 16
    ]
    assert rows[0]["failday_sk"]["S"].startswith("org_other#2026-11-24T15:30:00")


def test_each_line_carries_what_to_do_from_the_rows_method_and_codes(
    digests: DynamoDigestStore, entries: DynamoEntryStore, dynamodb: tuple[Any, str]
) -> None:
    client, table = dynamodb
    fail(
        entries,
        "org_r",
        "2026-11-24T12:00:00Z",
        "card",
        data__failure={"code": "insufficient_funds", "message": "Insufficient funds."},
    )
    fail(
        entries,
        "org_r",
        "2026-11-24T13:00:00Z",
        "bank",
        data__method="echeck",
        data__failure={"code": "nsf", "message": "Returned: NSF.", "return_code": "R01"},
    )
    fail(entries, "org_r", "2026-11-24T14:00:00Z", "old")
    rows = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.failure_log("org_r")}},
    )["Items"]
    (old,) = [row for row in rows if row["payment_id"]["S"] == "old"]
    client.update_item(  # as logged before rows kept the method
        TableName=table,
        Key={"pk": old["pk"], "sk": old["sk"]},
        UpdateExpression="REMOVE #m",
        ExpressionAttributeNames={"#m": "method"},
    )
    lines = digests.failures(
        "org_r",
        after=timestamps.canonical("2026-11-24T00:00:00Z"),
        until=timestamps.canonical("2026-11-25T00:00:00Z"),
    )
    assert [(line.payment_id, line.recommended_action) for line in lines] == [
        ("card", RecommendedAction.RETRY_LATER),
        ("bank", RecommendedAction.WAIT_FOR_PAYDAY),
        ("old", None),
    ]


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
