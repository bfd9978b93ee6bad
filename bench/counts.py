"""What each operation costs in DynamoDB requests, and what the digest's read costs in items: the
figures of `make bench`'s `requests` and `read_amplification.digest` (bench/__main__.py), which
tests/integration/test_bench_counts.py asserts exactly on a small seed.

Every operation goes through the code a function runs: the webhooks' handlers
(adapters/http/payment_webhook.py, billing_webhook.py), the use cases the API, the retry worker
and the digest and card-notice functions call (app/*), on the DynamoDB adapters
(adapters/dynamodb/*) and a real table. Only what is not DynamoDB is stood in for, in memory: the
event bus, the retry queue, the processor and the mail service. Requests are counted with a
botocore `before-call.dynamodb` hook, every API call (reads, writes, a transaction DynamoDB
cancels), and the items a Query or Scan read with an `after-call.dynamodb` hook (ScannedCount).
Every request also asks for its consumed capacity (ReturnConsumedCapacity INDEXES, which
DynamoDB Local answers as DynamoDB does: a transaction's items twice, each index's writes), so
each figure carries the read and write units it costs, the unit docs/scale.md prices.
"""

import json
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.seeding import seed_failure_log
from payment_action_center.adapters.dynamodb import keys
from payment_action_center.adapters.dynamodb.billing_store import DynamoBillingStore
from payment_action_center.adapters.dynamodb.digest_store import (
    DynamoCardNoticeLedger,
    DynamoDigestStore,
)
from payment_action_center.adapters.dynamodb.policy_store import DynamoRetryPolicyStore
from payment_action_center.adapters.dynamodb.recovery_store import DynamoRecoveryCounters
from payment_action_center.adapters.dynamodb.store import DynamoEntryStore
from payment_action_center.adapters.emails.card_notice import render_card_notice
from payment_action_center.adapters.emails.digest import render_digest
from payment_action_center.adapters.http import billing_webhook, payment_webhook
from payment_action_center.adapters.http.signatures import Delivery
from payment_action_center.app import actions, auto_retry, card_notices, digest, retry_worker
from payment_action_center.app.results import Outcome, Result
from payment_action_center.app.work import CardNoticeWork, DigestWork, RetryWork
from payment_action_center.domain import timestamps
from payment_action_center.domain.entries import BusEvent, Caller, Failure, Role
from payment_action_center.domain.listing import EntryFilter
from payment_action_center.domain.retry_rules import RetryCaps
from payment_action_center.ports import (
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    Email,
    Preferences,
    WorkMessage,
)
from tools.send_event import WEBHOOK_ENDPOINTS, http_sample, sample_body

EVENTS = Path(__file__).resolve().parents[1] / "events"
# The samples `make send-event` posts (Makefile): the webhooks the benchmark delivers.
PAYMENT_FAILED = EVENTS / "webhooks_payments_failed.json"
ORGANIZATION_UPSERTED = EVENTS / "webhooks_organization_upserted.json"
CARD_UPSERTED = EVENTS / "webhooks_billing.json"
SCHEDULED_PAYMENT_UPSERTED = EVENTS / "webhooks_scheduled_payment_upserted.json"

ORG = "org_bench"  # failures, retries, the table, cards
DIGEST_ORG = "org_digest"  # a few failures in one digest's window
# 07:00 in America/Toronto (the sample organization's time zone): the digest's hour.
DIGEST_WINDOW_END = timestamps.canonical("2026-11-20T12:00:00Z")
DIGEST_FAILURES = 5
# The card scan's day: next month is December 2026, the sample card's expiry.
SCAN_AT = timestamps.canonical("2026-11-20T13:00:00Z")
CARDS = 3
FAILURES = 28  # one a day in November 2026
PAGE = 10


# --- counting -----------------------------------------------------------------------------------


# The APIs that answer with their consumed capacity, and those of them that write.
CAPACITY_APIS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
WRITE_APIS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)


@dataclass
class Counted:
    """The DynamoDB requests a client sent, by API name, the items its Queries and Scans read
    (ScannedCount), the keys its BatchGetItems asked for, and the read and write units the
    answered requests consumed (a request DynamoDB refuses answers with none)."""

    calls: Counter[str] = field(default_factory=Counter)
    scanned: int = 0
    keys_read: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    index_units: Counter[str] = field(default_factory=Counter)  # of which on each index

    def consumed(self, api: str, capacity: dict[str, Any] | list[dict[str, Any]]) -> None:
        for part in _as_list(capacity):
            units = part.get("CapacityUnits", 0.0)
            if api in WRITE_APIS:
                self.write_units += units
            else:
                self.read_units += units
            for index, used in part.get("GlobalSecondaryIndexes", {}).items():
                self.index_units[index] += used.get("CapacityUnits", 0.0)

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    def figure(self, operations: int, **details: Any) -> dict[str, Any]:
        """Requests per operation (`count`), with the same per API name (`by_api`)."""
        return {
            "count": round(self.requests / operations, 3),
            "by_api": {name: round(n / operations, 3) for name, n in sorted(self.calls.items())},
            "read_units": round(self.read_units / operations, 3),
            "write_units": round(self.write_units / operations, 3),
            "index_units": {
                name: round(n / operations, 3) for name, n in sorted(self.index_units.items())
            },
            "operations": operations,
            "requests": self.requests,
            **details,
        }


def _as_list(capacity: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return capacity if isinstance(capacity, list) else [capacity]


@contextmanager
def counting(client: Any) -> Iterator[Counted]:
    """Counts what `client` sends to DynamoDB inside the block."""
    counted = Counted()

    def before(model: Any, **_: Any) -> None:
        counted.calls[model.name] += 1

    def ask_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_APIS:
            params.setdefault("ReturnConsumedCapacity", "INDEXES")

    def after(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        counted.scanned += parsed.get("ScannedCount", 0)
        if "ConsumedCapacity" in parsed:
            counted.consumed(model.name, parsed["ConsumedCapacity"])

    def batch_get(params: dict[str, Any], **_: Any) -> None:
        counted.keys_read += sum(len(t["Keys"]) for t in params["RequestItems"].values())

    hooks = {
        "before-call.dynamodb": before,
        "provide-client-params.dynamodb": ask_capacity,
        "after-call.dynamodb": after,
        "provide-client-params.dynamodb.BatchGetItem": batch_get,
    }
    for event, hook in hooks.items():
        client.meta.events.register(event, hook)
    try:
        yield counted
    finally:
        for event, hook in hooks.items():
            client.meta.events.unregister(event, hook)


# --- stand-ins for what is not DynamoDB ----------------------------------------------------------


class DiscardingPublisher:
    """The event bus: the events are in the outbox (app/outbox.py), and the benchmark counts
    table requests, so there is nothing to keep."""

    def publish(self, events: Sequence[BusEvent]) -> None:
        """Drop the events."""


@dataclass
class KeepingQueue:
    """The retry queue: the messages, for the worker to run."""

    sent: list[str] = field(default_factory=list)

    def send(self, work: WorkMessage) -> None:
        self.sent.append(work.body())


@dataclass
class AnsweringProcessor:
    """The processor: every charge or refund gets `outcome`; no status is ever asked for."""

    outcome: ChargeOutcome

    def charge(self, request: ChargeRequest) -> ChargeResult:
        if self.outcome is ChargeOutcome.FAILED:
            return ChargeResult(
                self.outcome, "pay_bench_declined", Failure("card_declined", "Declined.")
            )
        return ChargeResult(self.outcome, f"pay_bench_{request.idempotency_key}")

    def refund(self, request: ChargeRequest) -> ChargeResult:
        return self.charge(request)

    def status(self, request: ChargeRequest) -> ChargeResult | None:
        raise AssertionError("a first attempt asks for no status")


@dataclass
class KeepingMailer:
    """The mail service: who was sent what."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, sender: str, to: str, email: Email) -> None:
        self.sent.append((to, email.subject))


# --- webhooks ------------------------------------------------------------------------------------


def webhook(
    path: Path, webhook_id: str, received_at: str, **data: Any
) -> tuple[Delivery, dict[str, Any]]:
    """A sample webhook's body with `data` overridden, delivered under `webhook_id` as it
    happens (its `occurred_at` the delivery's, as tools/send_event.py sends samples)."""
    sample = http_sample(path)
    body = json.loads(sample_body(sample))
    body["data"] |= data
    body["occurred_at"] = received_at
    return Delivery(WEBHOOK_ENDPOINTS[sample["rawPath"]], webhook_id, received_at), body


def failure_on(day: int) -> tuple[Delivery, dict[str, Any]]:
    """The sample failure as delivered on `day` of November 2026: its own payment id (a new
    entry) and webhook id (not a redelivery), in ORG, so every delivery opens an entry."""
    delivery, body = webhook(
        PAYMENT_FAILED,
        f"msg_bench_{day:02d}",
        f"2026-11-{day:02d}T10:00:01.000000000Z",
        organization_id=ORG,
        payment_id=f"pay_bench_{day:02d}",
    )
    body["occurred_at"] = f"2026-11-{day:02d}T10:00:00Z"
    return delivery, body


def accepted(result: Result, reason: str | None = None) -> Result:
    assert result.outcome is Outcome.ACCEPTED and result.reason == reason, result
    return result


# --- the operations ------------------------------------------------------------------------------


def billing_webhooks(client: Any, table: str) -> dict[str, dict[str, Any]]:
    """organization.upserted (for ORG and DIGEST_ORG); card.upserted for CARDS new cards of ORG
    expiring in December 2026, in the wallet; scheduled_payment.upserted for as many active
    installments, each paying with one of them (so that the cards qualify for the scan)."""
    store = DynamoBillingStore(client, table)
    at = "2026-11-19T12:00:00.000000000Z"
    figures = {}
    with counting(client) as counted:
        for org in (ORG, DIGEST_ORG):
            delivery, body = webhook(
                ORGANIZATION_UPSERTED, f"msg_org_{org}", at, organization_id=org
            )
            accepted(billing_webhook.handle_billing_event(store, delivery, body))
    figures["billing_organization"] = counted.figure(2, kind="organization.upserted")
    with counting(client) as counted:
        for n in range(CARDS):
            delivery, body = webhook(
                CARD_UPSERTED, f"msg_card_{n}", at, organization_id=ORG, card_id=f"card_bench_{n}"
            )
            accepted(billing_webhook.handle_billing_event(store, delivery, body))
    figures["billing_card"] = counted.figure(CARDS, kind="card.upserted, a new card")
    with counting(client) as counted:
        for n in range(CARDS):
            delivery, body = webhook(
                SCHEDULED_PAYMENT_UPSERTED,
                f"msg_sp_{n}",
                at,
                organization_id=ORG,
                scheduled_payment_id=f"sp_bench_{n}",
                payment_method={"token": "tok_success", "card_id": f"card_bench_{n}"},
            )
            accepted(billing_webhook.handle_billing_event(store, delivery, body))
    figures["billing_scheduled_payment"] = counted.figure(
        CARDS, kind="scheduled_payment.upserted, new, linking a known card"
    )
    return figures


def failures_and_pages(client: Any, table: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """FAILURES new failures of ORG, the same deliveries again, then the table page by page.
    Also returns the entry ids, oldest failure first."""
    store = DynamoEntryStore(client, table)
    entry_ids: list[str] = []
    with counting(client) as counted:
        for day in range(1, FAILURES + 1):
            delivery, body = failure_on(day)
            result = payment_webhook.handle_payment_event(
                store, DiscardingPublisher(), delivery, body
            )
            entry_id = accepted(result).entry_id
            assert entry_id is not None
            entry_ids.append(entry_id)
    new_failure = counted.figure(FAILURES)
    with counting(client) as counted:
        for day in range(1, FAILURES + 1):
            delivery, body = failure_on(day)
            result = payment_webhook.handle_payment_event(
                store, DiscardingPublisher(), delivery, body
            )
            accepted(result, "delivery already processed")
    duplicate = counted.figure(FAILURES, what="the same webhook-id and body again")
    pages, after = 0, None
    policies = DynamoRetryPolicyStore(client, table)
    with counting(client) as counted:
        while True:
            page = store.list_open(ORG, EntryFilter(), PAGE, after)
            auto_retry.schedule_of(policies, ORG, page.entries)  # the page's automatic retries
            pages += 1
            if page.next is None:
                break
            after = page.next
    list_page = counted.figure(pages, entries=FAILURES, limit=PAGE)
    return {
        "new_failure": new_failure,
        "duplicate_failure": duplicate,
        "list_page": list_page,
    }, entry_ids


def retries(client: Any, table: str, entry_ids: list[str]) -> dict[str, dict[str, Any]]:
    """An admin retries two entries (the use case POST /transactions/{id}/retry calls, without
    an Idempotency-Key); the worker runs the first to a success, the second to a failure; then
    the second is read as GET /transactions/{id} reads it: with its audit trail, its card's
    reattempts and (an installment that may be retried automatically) the policy."""
    entries = DynamoEntryStore(client, table)
    billing = DynamoBillingStore(client, table)
    admin = Caller(ORG, "user_admin", "admin@example.com", frozenset({Role.BILLING_ADMIN}))
    queue = KeepingQueue()
    chosen = entry_ids[-2:]
    with counting(client) as counted:
        for entry_id in chosen:
            actions.request_retry(
                entries, queue, admin, entry_id, billing=billing, caps=RetryCaps()
            )
    figures = {"retry_request": counted.figure(len(chosen))}
    work = [RetryWork.parse(body) for body in queue.sent]
    assert [w.entry_id for w in work] == chosen
    for name, unit, outcome, expected in (
        ("worker_success", work[0], ChargeOutcome.SUCCEEDED, "recovered"),
        ("worker_failure", work[1], ChargeOutcome.FAILED, "failed_again"),
    ):
        processor = AnsweringProcessor(outcome)
        with counting(client) as counted:
            done = retry_worker.run(unit, entries, billing, processor, DiscardingPublisher())
        assert done == expected, done
        figures[name] = counted.figure(1, outcome=expected)
    with counting(client) as counted:
        failed_again, audit = entries.get_with_audit(ORG, chosen[1])
        actions.card_reattempts(entries, failed_again)  # its page's retry rules
        auto_retry.schedule_of(DynamoRetryPolicyStore(client, table), ORG, [failed_again])
    figures["entry_with_history"] = counted.figure(
        1, audit_events=len(audit), items_scanned=counted.scanned
    )
    return figures


def digest_failures(client: Any, table: str) -> None:
    """DIGEST_FAILURES failures of DIGEST_ORG spread over the 24 hours before DIGEST_WINDOW_END,
    each delivered as it occurs, and an admin of it who opted in to the digest."""
    entries = DynamoEntryStore(client, table)
    start = timestamps.plus(DIGEST_WINDOW_END, -digest.WINDOW)
    for n in range(DIGEST_FAILURES):
        at = timestamps.plus(start, (n + 1) * digest.WINDOW / (DIGEST_FAILURES + 1))
        delivery, body = webhook(
            PAYMENT_FAILED,
            f"msg_digest_{n}",
            at,
            organization_id=DIGEST_ORG,
            payment_id=f"pay_digest_{n}",
        )
        accepted(
            payment_webhook.handle_payment_event(entries, DiscardingPublisher(), delivery, body)
        )
    DynamoDigestStore(client, table).save_preferences(
        Preferences(DIGEST_ORG, "user_digest", "admin@example.com", True, "en-CA", start)
    )


def digest_one_org(client: Any, table: str) -> dict[str, Any]:
    """DIGEST_FAILURES failures of DIGEST_ORG in the 24 hours before DIGEST_WINDOW_END, and an
    admin who opted in: the hourly run (`due`), then that organization's digest (`send_digest`,
    the DigestSender's work for one message), to the billing contact and the admin."""
    digests = DynamoDigestStore(client, table)
    billing = DynamoBillingStore(client, table)
    digest_failures(client, table)
    with counting(client) as run:
        due = digest.due(DIGEST_WINDOW_END, digests, billing)
    work = next(w for w in due if w.organization_id == DIGEST_ORG)
    assert work == DigestWork(DIGEST_ORG, DIGEST_WINDOW_END, "2026-11-20"), work
    mailer = KeepingMailer()
    with counting(client) as counted:
        report = digest.send_digest(
            work,
            failures=digests,
            billing=billing,
            preferences=digests,
            ledger=digests,
            mailer=mailer,
            sender="digest@example.com",
            links=digest.Links("https://api.example.com", b"bench-unsubscribe-key"),
            render=render_digest,
            recovery=DynamoRecoveryCounters(client, table),
        )
    assert len(report.sent) == 2 and len(mailer.sent) == 2, report
    return counted.figure(
        1,
        failures=DIGEST_FAILURES,
        recipients=len(report.sent),
        run_requests=run.requests,
        run_by_api=dict(sorted(run.calls.items())),
        run_organizations=len(due),
    )


def expiry_scan_one_org(client: Any, table: str) -> dict[str, Any]:
    """The daily scan (`due`) with ORG's CARDS qualifying cards (billing_webhooks), then that
    organization's notices (`send_notices`, the CardNoticeSender's work for one message)."""
    billing = DynamoBillingStore(client, table)
    with counting(client) as run:
        due = card_notices.due(SCAN_AT, billing)
    assert due == [CardNoticeWork(ORG, SCAN_AT)], due
    mailer = KeepingMailer()
    with counting(client) as counted:
        report = card_notices.send_notices(
            due[0],
            billing=billing,
            cards=billing,
            ledger=DynamoCardNoticeLedger(client, table),
            mailer=mailer,
            sender="notices@example.com",
            render=render_card_notice,
        )
    assert len(report.sent) == CARDS and len(mailer.sent) == CARDS, report
    return counted.figure(
        1,
        cards=CARDS,
        run_requests=run.requests,
        run_by_api=dict(sorted(run.calls.items())),
    )


def request_counts(client: Any, table: str) -> dict[str, dict[str, Any]]:
    """Every operation's requests, in one run on an empty table (in this order: later ones use
    what earlier ones wrote)."""
    figures = billing_webhooks(client, table)
    found, entry_ids = failures_and_pages(client, table)
    figures |= found
    figures |= retries(client, table, entry_ids)
    figures["digest_one_org"] = digest_one_org(client, table)
    figures["expiry_scan_one_org"] = expiry_scan_one_org(client, table)
    return figures


# --- item sizes --------------------------------------------------------------------------------


def item_sizes(client: Any, table: str) -> dict[str, dict[str, Any]]:
    """The largest and the median size in bytes of each kind of item in the table (its `entity`),
    by DynamoDB's rule (`item_bytes`): what a write unit (1 KB) and a read unit (4 KB) are counted
    in; and the median size of its key attributes alone (`keys_median`), what a KEYS_ONLY index
    entry of it holds. Read after `request_counts`, the items are the ones the operations
    wrote."""
    sizes: dict[str, list[int]] = {}
    key_sizes: dict[str, list[int]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            entity = item.get("entity", {}).get("S", "unnamed")
            sizes.setdefault(entity, []).append(item_bytes(item))
            key_sizes.setdefault(entity, []).append(
                item_bytes({name: v for name, v in item.items() if name in KEY_ATTRIBUTES})
            )
    return {
        entity: {
            "count": max(found),
            "median": int(statistics.median(found)),
            "keys_median": int(statistics.median(key_sizes[entity])),
            "items": len(found),
        }
        for entity, found in sorted(sizes.items())
    }


# The table's and its indexes' key attributes: what a KEYS_ONLY index entry holds.
KEY_ATTRIBUTES = frozenset(
    {keys.PK, keys.SK}
    | {keys.OPEN_PK, keys.OPEN_SK, keys.EXPIRY_PK, keys.EXPIRY_SK}
    | {keys.FAILDAY_PK, keys.FAILDAY_SK, keys.PENDING_PK, keys.PENDING_SK}
)


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: each attribute's name (UTF-8) and value."""
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())


def value_bytes(value: dict[str, Any]) -> int:
    """A value's size by DynamoDB's rule: strings in UTF-8, binary as is, a number about one byte
    per two significant digits plus one, a boolean or null one byte, a list or map 3 bytes plus
    one per element plus its elements (and a map's names)."""
    kind, content = next(iter(value.items()))
    if kind == "S":
        return len(content.encode())
    if kind == "B":
        return len(content)
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "L":
        return 3 + sum(1 + value_bytes(v) for v in content)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_bytes(v) for k, v in content.items())
    if kind == "SS":
        return sum(len(v.encode()) for v in content)
    if kind == "NS":
        return sum(value_bytes({"N": v}) for v in content)
    return sum(len(v) for v in content)  # BS


# --- the digest's read -------------------------------------------------------------------------


def digest_reads(client: Any, table: str, others: int) -> dict[str, Any]:
    """Items read (ScannedCount) ÷ items matched, for the digest's read of one organization's
    failures in its 24-hour window (`DynamoDigestStore.failures`, what `send_digest` calls),
    with `others` failure-log rows it must not read: the organization's other days, and other
    organizations' failures on the same days (bench/seeding.py `seed_failure_log`)."""
    started = time.monotonic()
    expected = seed_failure_log(
        client,
        table,
        DIGEST_ORG,
        window_end=DIGEST_WINDOW_END,
        matching=DIGEST_FAILURES,
        others=others,
    )
    seeded = time.monotonic() - started
    store = DynamoDigestStore(client, table)
    with counting(client) as counted:
        lines = store.failures(
            DIGEST_ORG,
            after=timestamps.plus(DIGEST_WINDOW_END, -digest.WINDOW),
            until=DIGEST_WINDOW_END,
        )
    assert {line.payment_id for line in lines} == expected, lines
    return {
        "ratio": round(counted.scanned / len(lines), 3),
        "items_scanned": counted.scanned,
        "matched": len(lines),
        "rows": others + len(expected),
        "requests": counted.requests,
        "by_api": dict(sorted(counted.calls.items())),
        "seeded_seconds": round(seeded),
    }
