"""`make bench`: counts and ratios that hold on a noisy machine (docs/contract.md §6), on DynamoDB
Local.

- Expiring cards: N cards of which 50 qualify for a month; the read of the section touches
  about 50 items, whatever N (items read / qualifying cards, and items read / all cards).
- A new failure: write requests per webhook; a page of open entries: requests per page.

bench/ imports no test module: cards are seeded and reads counted by bench/seeding.py (which
tests/integration/test_cards_store.py imports), webhooks are the documented sample
events/webhooks_payments_failed.json, read as tools/send_event.py reads it.
"""

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.seeding import count_reads, seed_many
from local.dynamodb import DynamoDBLocal, client
from local.services import free_port
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from payment_action_center.adapters.http.signatures import Delivery
from payment_action_center.app.results import Outcome
from payment_action_center.domain.entries import BusEvent
from payment_action_center.domain.listing import EntryFilter
from tools.send_event import WEBHOOK_ENDPOINTS, http_sample, sample_body
from tools.template import create_table

TABLE = "pac-bench"
# The sample `make send-event` posts (Makefile): the failure the benchmark delivers, day by day.
PAYMENT_FAILED = Path(__file__).resolve().parents[1] / "events" / "webhooks_payments_failed.json"


class DiscardingPublisher:
    """The event bus: a new failure publishes nothing (it is one transaction, `record` in
    layers/core/payment_action_center/app/payment_events.py), and the benchmark counts table
    requests, so there is nothing to keep."""

    def publish(self, events: Sequence[BusEvent]) -> None:
        """Drop the events."""


def failure_on(sample: dict[str, Any], day: int) -> tuple[Delivery, dict[str, Any]]:
    """The sample's failure as delivered on `day` of November 2026: its own payment id (a new
    entry) and webhook id (not a redelivery), in org_bench, so every delivery opens an entry."""
    body = json.loads(sample_body(sample))
    body["occurred_at"] = f"2026-11-{day:02d}T10:00:00Z"
    body["data"] |= {"organization_id": "org_bench", "payment_id": f"pay_bench_{day:02d}"}
    delivery = Delivery(
        WEBHOOK_ENDPOINTS[sample["rawPath"]],
        f"msg_bench_{day:02d}",
        f"2026-11-{day:02d}T10:00:01.000000000Z",
    )
    return delivery, body


def expiring_cards(ddb: Any, total: int) -> None:
    started = time.monotonic()
    expected = seed_many(ddb, TABLE, total=total, qualifying=50)
    seeded = time.monotonic() - started
    counts = count_reads(ddb)
    store = DynamoBillingStore(ddb, TABLE)
    found, after = 0, None
    while True:
        page = store.expiring(None, "2026-12", 100, after)
        found += len(page.items)
        if page.next is None:
            break
        after = page.next
    read = counts["query_scanned"] + counts["batch_get_keys"]
    assert found == len(expected)
    print(
        f"expiring cards  cards={total:>7}  qualifying={found}  requests={counts['requests']}  "
        f"items read={read}  read/qualifying={read / found:.2f}  read/cards={read / total:.5f}  "
        f"(seeded in {seeded:.0f} s)"
    )


def failures_and_pages(ddb: Any) -> None:
    store = DynamoEntryStore(ddb, TABLE)
    calls: list[str] = []
    ddb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    sample = http_sample(PAYMENT_FAILED)
    for day in range(1, 29):
        delivery, body = failure_on(sample, day)
        result = payment_webhook.handle_payment_event(store, DiscardingPublisher(), delivery, body)
        assert result.outcome is Outcome.ACCEPTED and result.entry_id is not None, result
    writes = [c for c in calls if c != "Query"]
    per_webhook = len(writes) / 28
    print(
        f"new failure     webhooks=28  write requests={len(writes)}  per webhook={per_webhook:.2f}"
    )
    calls.clear()
    pages, after = 0, None
    while True:
        page = store.list_open("org_bench", EntryFilter(), 10, after)
        pages += 1
        if page.next is None:
            break
        after = page.next
    print(
        f"open entries    pages={pages}  requests={len(calls)}  per page={len(calls) / pages:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, nargs="*", default=[5_000, 100_000])
    args = parser.parse_args()
    with DynamoDBLocal(free_port()) as service:
        ddb = client(service.endpoint)
        for total in args.cards:
            create_table(ddb, TABLE)
            expiring_cards(ddb, total)
            ddb.delete_table(TableName=TABLE)
        create_table(ddb, TABLE)
        failures_and_pages(ddb)


if __name__ == "__main__":
    main()
