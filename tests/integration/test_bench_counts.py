"""`make bench`'s request counts and the digest's read amplification, asserted: the same measuring
functions (bench/counts.py) on DynamoDB Local, on a small seed. Each operation's DynamoDB
requests are asserted exactly, by API name, so a change that adds a request, or reads with a Scan
where a Query or a GetItem did, fails here and is a decision, not an accident. Not timed."""

from typing import Any

from bench.counts import digest_reads, request_counts
from payment_action_center.adapters.dynamodb import keys

# Requests per operation, by API name: what the code sends today (docs/architecture.md §4).
EXPECTED: dict[str, dict[str, int]] = {
    # One transaction: the settings if not older, and the delivery marker.
    "billing_organization": {"TransactWriteItems": 1},
    # The records the change touches read in one BatchGetItem, written in one transaction.
    "billing_card": {"BatchGetItem": 1, "TransactWriteItems": 1},
    "billing_scheduled_payment": {"BatchGetItem": 1, "TransactWriteItems": 1},
    # Entry, audit event, failure-log row and delivery marker in one transaction.
    "new_failure": {"TransactWriteItems": 1},
    # The same transaction, cancelled by the delivery marker's condition.
    "duplicate_failure": {"TransactWriteItems": 1},
    # One Query on OpenEntries per page, and the organization's retry policy and time zone in
    # one BatchGetItem (a page of installments may be retried automatically).
    "list_page": {"Query": 1, "BatchGetItem": 1},
    # The entry and its audit events share a partition and a key prefix: one Query; the card's
    # reattempts, another; the policy and time zone, one BatchGetItem.
    "entry_with_history": {"Query": 2, "BatchGetItem": 1},
    # Read the entry and its scheduled payment (what the retry charges), the card's
    # reattempts (one Query), then one conditional transaction (the queue is not DynamoDB).
    "retry_request": {"GetItem": 2, "Query": 1, "TransactWriteItems": 1},
    # Read the entry, the organization (the processor account to charge on: recorded with
    # charge_sent) and its scheduled payment; charge_sent, then the outcome, each a
    # transaction; a success also clears its published outbox event.
    "worker_success": {"GetItem": 3, "TransactWriteItems": 2, "DeleteItem": 1},
    "worker_failure": {"GetItem": 3, "TransactWriteItems": 2},
    # The organization, its window of the failure log, its subscribers; then per recipient
    # (2: the billing contact and one admin) a claim and a "sent". The third Query: the last 30
    # days' recovery counters (domain/recovery.py), once per organization.
    "digest_one_org": {"GetItem": 1, "Query": 3, "PutItem": 2, "UpdateItem": 2},
    # The organization, its month on CardsByExpiry, the cards and their scheduled payments
    # read again; then per card (3) a claim and a "sent".
    "expiry_scan_one_org": {
        "GetItem": 1,
        "Query": 1,
        "BatchGetItem": 2,
        "PutItem": 3,
        "UpdateItem": 3,
    },
}
# The fan-out runs before the per-organization work: the FailuresByDay index for the window's
# two UTC days and the organizations found; the month on CardsByExpiry, its keys only (no card
# read again: docs/scale.md §5). Both indexes are write-sharded by organization
# (adapters/dynamodb/keys.py), so a run reads every shard: one Query per shard and day (2 x 16),
# and one per shard of the month (16), most of them empty here.
EXPECTED_RUNS = {
    "digest_one_org": {"Query": 2 * keys.FAILDAY_SHARDS, "BatchGetItem": 1},
    "expiry_scan_one_org": {"Query": keys.EXPIRY_SHARDS},
}


def test_each_operation_sends_exactly_the_requests_it_sends_today(
    dynamodb: tuple[Any, str],
) -> None:
    figures = request_counts(*dynamodb)
    assert set(figures) == set(EXPECTED)
    for name, by_api in EXPECTED.items():
        figure = figures[name]
        assert (figure["count"], figure["by_api"]) == (
            sum(by_api.values()),
            dict(sorted(by_api.items())),
        ), name
    for name, by_api in EXPECTED_RUNS.items():
        assert figures[name]["run_by_api"] == dict(sorted(by_api.items())), name
    assert figures["entry_with_history"]["audit_events"] == 4
    # The entry and its 4 events, and the card's 2 reattempts (the bench's failures are the
    # sample's, one card, and both retried entries are reattempts of it).
    assert figures["entry_with_history"]["items_scanned"] == 7


def test_the_digest_reads_its_window_and_nothing_else(dynamodb: tuple[Any, str]) -> None:
    found = digest_reads(*dynamodb, others=2_000)
    assert found["matched"] == 5 and found["rows"] == 2_005
    assert found["by_api"] == {"Query": 1}
    assert found["ratio"] <= 1.1, found
