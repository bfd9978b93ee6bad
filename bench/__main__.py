"""`make bench`: counts and ratios that hold on a noisy machine (docs/contract.md §6), written to
bench/results.json and printed as a table. Every figure is measured in the run:

- `cold_start.<function>`: import of the handler ÷ the floor (bench/cold_start.py), with the ms
  of each and the unzipped size of the built function with its layers;
- `read_amplification.expiry`: items read ÷ cards qualifying, for a month's expiring cards with
  N cards in the table (50 qualifying), on DynamoDB Local;
- `requests.new_failure` (DynamoDB requests per new failure webhook) and `requests.list_page`
  (per page of the table), on DynamoDB Local.

`python -m bench --only cold_start` (or read_amplification, requests) runs one section;
`--rounds` sets the cold-start rounds (15).

bench/ imports no test module: cards are seeded and reads counted by bench/seeding.py (which
tests/integration/test_cards_store.py imports), webhooks are the documented sample
events/webhooks_payments_failed.json, read as tools/send_event.py reads it.
"""

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import cold_start
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
RESULTS = Path(__file__).resolve().parent / "results.json"
SECTIONS = ("cold_start", "read_amplification", "requests")
type Results = dict[str, dict[str, Any]]
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


def expiring_cards(ddb: Any, total: int) -> dict[str, Any]:
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
    assert found == len(expected)
    # ScannedCount ÷ matched: what the index reads beyond the month's cards. The cards and their
    # scheduled payments are then read by key (BatchGetItem), one item each, counted apart.
    return {
        "ratio": round(counts["query_scanned"] / found, 3),
        "items_scanned": counts["query_scanned"],
        "items_read_by_key": counts["batch_get_keys"],
        "qualifying": found,
        "cards": total,
        "requests": counts["requests"],
        "seeded_seconds": round(seeded),
    }


def failures_and_pages(ddb: Any) -> dict[str, dict[str, Any]]:
    store = DynamoEntryStore(ddb, TABLE)
    calls: list[str] = []
    ddb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    sample = http_sample(PAYMENT_FAILED)
    for day in range(1, 29):
        delivery, body = failure_on(sample, day)
        result = payment_webhook.handle_payment_event(store, DiscardingPublisher(), delivery, body)
        assert result.outcome is Outcome.ACCEPTED and result.entry_id is not None, result
    new_failure = {"count": len(calls) / 28, "webhooks": 28, "requests": len(calls)}
    calls.clear()
    pages, after = 0, None
    while True:
        page = store.list_open("org_bench", EntryFilter(), 10, after)
        pages += 1
        if page.next is None:
            break
        after = page.next
    list_page = {"count": len(calls) / pages, "pages": pages, "requests": len(calls)}
    return {"new_failure": new_failure, "list_page": list_page}


def cold_starts(rounds: int) -> dict[str, dict[str, Any]]:
    return {
        found.function: {
            "ratio": round(found.ratio, 3),
            "import_ms": round(found.import_ms, 1),
            "floor_ms": round(found.floor_ms, 1),
            "unzipped_mb": None if found.unzipped_mb is None else round(found.unzipped_mb, 1),
        }
        for found in cold_start.measure(rounds)
    }


def on_dynamodb_local(run: Callable[[Any], Results]) -> Results:
    with DynamoDBLocal(free_port()) as service:
        return run(client(service.endpoint))


def amplification(cards: Sequence[int]) -> Callable[[Any], Results]:
    def run(ddb: Any) -> Results:
        found = {}
        for total in cards:
            create_table(ddb, TABLE)
            found[f"expiry_{total}_cards"] = expiring_cards(ddb, total)
            ddb.delete_table(TableName=TABLE)
        return {"read_amplification": found}

    return run


def requests(ddb: Any) -> Results:
    create_table(ddb, TABLE)
    return {"requests": failures_and_pages(ddb)}


def table(results: Results) -> str:
    """One line per figure: section.name, its value (a ratio or a count), what it is made of."""
    lines = [f"{'figure':52} {'value':>8}  details", "-" * 100]
    for section, figures in results.items():
        for name, figure in figures.items():
            value = figure.get("ratio", figure.get("count"))
            details = ", ".join(
                f"{k}={v}" for k, v in figure.items() if k not in {"ratio", "count"}
            )
            lines.append(f"{section + '.' + name:52} {value:>8}  {details}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, nargs="*", default=[5_000, 100_000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", choices=SECTIONS, nargs="*", default=list(SECTIONS))
    args = parser.parse_args()
    results: Results = {}
    if "cold_start" in args.only:
        results["cold_start"] = cold_starts(args.rounds)
    if "read_amplification" in args.only:
        results |= on_dynamodb_local(amplification(args.cards))
    if "requests" in args.only:
        results |= on_dynamodb_local(requests)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(table(results))
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
