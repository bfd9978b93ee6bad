"""`make bench`: counts and ratios that hold on a noisy machine (docs/contract.md §6), written to
bench/results.json and printed as a table. Every figure is measured in the run:

- `cold_start.<function>`: import of the handler ÷ the floor (bench/cold_start.py), with the ms
  of each and the unzipped size of the built function with its layers;
- `read_amplification.expiry_<N>_cards`: index items read ÷ cards qualifying, for the two reads
  of a month's expiring cards (the daily scan's and each organization's listing), with N cards
  in the table (50 qualifying), on DynamoDB Local;
- `read_amplification.digest`: items read ÷ items matched, for the digest's read of one
  organization's failures of the last 24 hours, with `--failure-rows` other failure-log rows in
  the table (its other days, other organizations), on DynamoDB Local;
- `requests.<operation>`: DynamoDB requests per operation, every API call counted, with the
  same by API name (bench/counts.py): a new failure webhook, the same delivered again, billing
  webhooks (an organization, a card, a scheduled payment), a page of the table, an entry with
  its audit trail, an admin's retry request, the retry worker's success and failure, one
  organization's digest and its expiring-card notices, on DynamoDB Local, in one run, with
  the read and write units each consumed (`read_units`, `write_units`, as DynamoDB Local
  reports them);
- `item_bytes.<entity>`: the largest size in bytes (and the median) of each kind of item those
  operations wrote, by DynamoDB's size rule: what docs/scale.md turns into capacity units;
- `overhead.webhook` and `overhead.list`: the throughput of a handler invoked in this process
  (a new failure's signed webhook; GET /transactions) ÷ that of the bare boto3 calls it makes,
  alternating rounds, medians, on DynamoDB Local with the function's template environment, and
  the largest costs beside the calls from a profiled batch (bench/overhead.py);
- `peak_rss_mb.<function>`: the peak resident set of a fresh process that imports the handler
  and runs a typical invocation against DynamoDB Local and a moto server, in MB, with the
  function's MemorySize (bench/memory.py);
- `webhooks_per_second.local_gateway`: new-failure webhooks a second through the local stack's
  gateway from 32 concurrent senders, with the p50 and p99 of each part of a request (queueing
  for a worker, the hand-off, the handler, its CPU) and the CPU each process spent per webhook
  (bench/throughput.py): a figure of the local stack on this machine, not of AWS.

`python -m bench --only cold_start` (or read_amplification, requests, overhead, peak_rss_mb,
webhooks_per_second) runs one section; `--rounds` sets the cold-start rounds (15),
`--overhead-rounds` the overhead's (20).

bench/ imports no test module: cards and failure-log rows are seeded and reads counted by
bench/seeding.py and bench/counts.py (which tests/integration/test_cards_store.py and
test_bench_counts.py import); webhooks are the documented samples in events/, read as
tools/send_event.py reads them.
"""

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import cold_start, memory, overhead, readme, throughput
from bench.counts import counting, digest_reads, item_sizes, request_counts
from bench.seeding import seed_many
from local.dynamodb import DynamoDBLocal, client
from local.services import free_port
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from tools.template import create_table

TABLE = "pac-bench"
RESULTS = Path(__file__).resolve().parent / "results.json"
SECTIONS = (
    "cold_start",
    "read_amplification",
    "requests",
    "overhead",
    "peak_rss_mb",
    "webhooks_per_second",
)
type Results = dict[str, dict[str, Any]]


def expiring_cards(ddb: Any, total: int) -> dict[str, Any]:
    """The month's two reads: the scan's (which organizations have an expiring card,
    `organizations_expiring`) and each organization's listing (`expiring`, what its notices and
    the console read); the ratio is the larger of the two reads' index items ÷ cards found."""
    started = time.monotonic()
    expected = seed_many(ddb, TABLE, total=total, qualifying=50)
    seeded = time.monotonic() - started
    store = DynamoBillingStore(ddb, TABLE)
    with counting(ddb) as scan:
        organizations = store.organizations_expiring("2026-12")
    found = 0
    with counting(ddb) as listing:
        for organization in organizations:
            after = None
            while True:
                page = store.expiring(organization, "2026-12", 100, after)
                found += len(page.items)
                if page.next is None:
                    break
                after = page.next
    assert found == len(expected)
    # ScannedCount ÷ found: what each read takes from the index beyond the month's cards. The
    # listing then reads the cards and their scheduled payments by key (BatchGetItem), one item
    # each, counted apart.
    return {
        "ratio": round(max(scan.scanned, listing.scanned) / found, 3),
        "scan_items_scanned": scan.scanned,
        "scan_requests": scan.requests,
        "organizations": len(organizations),
        "listing_items_scanned": listing.scanned,
        "listing_items_read_by_key": listing.keys_read,
        "listing_requests": listing.requests,
        "qualifying": found,
        "cards": total,
        "seeded_seconds": round(seeded),
    }


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


def amplification(cards: Sequence[int], failure_rows: int) -> Callable[[Any], Results]:
    def run(ddb: Any) -> Results:
        found = {}
        for total in cards:
            create_table(ddb, TABLE)
            found[f"expiry_{total}_cards"] = expiring_cards(ddb, total)
            ddb.delete_table(TableName=TABLE)
        create_table(ddb, TABLE)
        found["digest"] = digest_reads(ddb, TABLE, failure_rows)
        ddb.delete_table(TableName=TABLE)
        return {"read_amplification": found}

    return run


def requests(ddb: Any) -> Results:
    create_table(ddb, TABLE)
    figures = request_counts(ddb, TABLE)
    return {"requests": figures, "item_bytes": item_sizes(ddb, TABLE)}


def table(results: Results) -> str:
    """One line per figure: section.name, its value (a ratio or a count), what it is made of."""
    lines = [f"{'figure':52} {'value':>8}  details", "-" * 100]
    for section, figures in results.items():
        for name, figure in figures.items():
            value = figure.get("ratio", figure.get("count"))
            details = ", ".join(
                f"{k}={shown(v)}" for k, v in figure.items() if k not in {"ratio", "count"}
            )
            lines.append(f"{section + '.' + name:52} {value:>8}  {details}")
    return "\n".join(lines)


def shown(value: Any) -> str:
    """A detail as the table prints it: a breakdown as `name:n` pairs."""
    if isinstance(value, dict):
        return " ".join(f"{k}:{v}" for k, v in value.items())
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, nargs="*", default=[5_000, 100_000])
    parser.add_argument(
        "--failure-rows",
        type=int,
        default=100_000,
        help="failure-log rows the digest's read must not touch (read_amplification.digest)",
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--overhead-rounds", type=int, default=overhead.ROUNDS)
    parser.add_argument("--only", choices=SECTIONS, nargs="*", default=list(SECTIONS))
    args = parser.parse_args()
    results: Results = {}
    if "cold_start" in args.only:
        results["cold_start"] = cold_starts(args.rounds)
    if "read_amplification" in args.only:
        results |= on_dynamodb_local(amplification(args.cards, args.failure_rows))
    if "requests" in args.only:
        results |= on_dynamodb_local(requests)
    if "overhead" in args.only:
        results["overhead"] = overhead.measure(TABLE, args.overhead_rounds)
    if "peak_rss_mb" in args.only:
        results["peak_rss_mb"] = memory.measure(TABLE)
    if "webhooks_per_second" in args.only:
        results["webhooks_per_second"] = {"local_gateway": throughput.measure()}
    # A run of some sections keeps the others' last figures (each section is one run's).
    kept = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    merged = kept | results
    RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    readme.write(merged)
    print(table(results))
    print(f"\nwritten to {RESULTS} and README.md")


if __name__ == "__main__":
    main()
