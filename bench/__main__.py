"""`make bench`: counts and ratios that hold on a noisy machine (docs/contract.md §6), on DynamoDB
Local.

- Expiring cards: N cards of which 50 qualify for a month; the read of the section touches
  about 50 items, whatever N (items read / qualifying cards, and items read / all cards).
- A new failure: write requests per webhook; a page of open entries: requests per page.
"""

import argparse
import time
from typing import Any

from local.dynamodb import DynamoDBLocal, client
from local.services import free_port
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.http import payment_webhook
from payment_action_center.domain.listing import EntryFilter
from tests.integration.test_cards_store import count_reads, seed_many
from tests.shared import factories
from tests.shared.fakes import RecordingPublisher
from tools.template import create_table

TABLE = "pac-bench"


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
    for day in range(1, 29):
        body = factories.payment_failed(
            data__organization_id="org_bench", occurred_at=f"2026-11-{day:02d}T10:00:00Z"
        )
        payment_webhook.handle_payment_event(
            store, RecordingPublisher(), factories.delivery(), body
        )
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
