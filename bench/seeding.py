"""Many cards, or many failure-log rows, on a DynamoDB table: the benchmark (bench/__main__.py,
bench/counts.py, which counts what a read costs) and its integration tests
(tests/integration/test_cards_store.py, test_bench_counts.py) measure the same things, so they
seed with this one module. It lives in bench/ because bench imports no test module; a
test may import it."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from payment_action_center.adapters.dynamodb.billing_store import card_item, scheduled_payment_item
from payment_action_center.adapters.dynamodb.items import failure_log_item
from payment_action_center.adapters.dynamodb.store import FAILURE_LOG_DAYS, to_attributes
from payment_action_center.domain import timestamps
from payment_action_center.domain.billing import Card, CardRecord, ScheduledPayment
from payment_action_center.domain.entries import (
    AccountHolder,
    Entry,
    EntryType,
    Failure,
    InvoiceItem,
    Method,
    PaymentKind,
    PaymentMethod,
    Status,
    entry_id_for,
)

AT = "2026-11-20T12:00:00.000000000Z"
# Writers at once: DynamoDB Local takes about twice the items per second from four as from one.
WRITERS = 4


def seed(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """batch_write_item, 25 a request, unprocessed items sent again, from WRITERS threads (a
    boto3 client may be shared by threads): writing items directly is what makes 100,000 cards
    take minutes instead of hours of webhooks."""
    batches = [items[start : start + 25] for start in range(0, len(items), 25)]
    with ThreadPoolExecutor(WRITERS) as writers:
        for _ in writers.map(lambda batch: _write(client, table, batch), batches):
            pass


def _write(client: Any, table: str, batch: list[dict[str, Any]]) -> None:
    requests = [{"PutRequest": {"Item": to_attributes(i)}} for i in batch]
    while requests:
        answer = client.batch_write_item(RequestItems={table: requests})
        requests = answer.get("UnprocessedItems", {}).get(table, [])


def a_card(org: str, n: int, *, month: int, year: int, in_wallet: bool) -> Card:
    """Card number `n`: ids and last4 derived from `n`, so a seeded table is the same each run."""
    return Card(
        organization_id=org,
        id=f"card_{n:05d}",
        account_holder=AccountHolder(f"ah_{n}", f"Holder {n}", f"h{n}@example.com"),
        brand="visa",
        last4=f"{n % 10000:04d}",
        exp_month=month,
        exp_year=year,
        in_wallet=in_wallet,
        deleted=False,
        state_at=AT,
    )


def a_schedule(org: str, n: int, card_id: str) -> ScheduledPayment:
    """An active installment paid by `card_id`: what makes a wallet card count as expiring."""
    return ScheduledPayment(
        organization_id=org,
        id=f"sp_{n:05d}",
        kind=PaymentKind.INSTALLMENT,
        account_holder=AccountHolder(f"ah_{n}", f"Holder {n}", f"h{n}@example.com"),
        payment_method=PaymentMethod("tok_success", card_id),
        method=Method.CREDIT_CARD,
        next_payment_at="2026-12-05T14:00:00.000000000Z",
        amount=5000,
        currency="CAD",
        active=True,
        state_at=AT,
    )


def seed_many(client: Any, table: str, total: int, qualifying: int) -> set[str]:
    """`total` cards in two organizations; `qualifying` of them are wallet cards expiring in
    December 2026 with an active schedule. The rest: December but out of the wallet and linked,
    December in the wallet but unlinked, or other months and linked. Returns the qualifying
    ids. Items are built by the functions the store writes with."""
    items: list[dict[str, Any]] = []
    expected: set[str] = set()
    for n in range(total):
        org = "org_demo" if n % 2 == 0 else "org_other"
        kind = "qualifies" if n < qualifying else ("out", "unlinked", "other_month")[n % 3]
        card = a_card(
            org,
            n,
            month=12 if kind != "other_month" else 1 + n % 11,
            year=2026,
            in_wallet=kind != "out",
        )
        links: frozenset[str] = frozenset()
        if kind != "unlinked":
            schedule = a_schedule(org, n, card.id)
            links = frozenset({schedule.id})
            items.append(scheduled_payment_item(schedule, AT) | {"version": 1})
        items.append(card_item(CardRecord(org, card.id, card, links, 1), AT))
        if kind == "qualifies":
            expected.add(card.id)
    seed(client, table, items)
    return expected


def a_failure(organization_id: str, n: int, failed_at: str) -> Entry:
    """Failure number `n` of an organization at `failed_at` (canonical): what a failure-log row
    is made from, ids derived from `n` so that a seeded table is the same each run."""
    payment_id = f"pay_seed_{n:06d}"
    return Entry(
        id=entry_id_for(organization_id, payment_id),
        organization_id=organization_id,
        type=EntryType.INSTALLMENT,
        kind=PaymentKind.INSTALLMENT,
        method=Method.CREDIT_CARD,
        status=Status.FAILED,
        amount=5000,
        currency="CAD",
        account_holder=AccountHolder(f"ah_{n}", f"Holder {n}", f"h{n}@example.com"),
        payment_id=payment_id,
        payment_method=PaymentMethod("tok_card_declined", f"card_{n}", "visa", "4242"),
        failure=Failure("card_declined", "The card was declined."),
        failed_at=failed_at,
        attempts=1,
        invoice_items=(InvoiceItem(f"inv_{n}", "item_1", 5000),),
        scheduled_payment_id=None,
        received_at=failed_at,
        updated_at=failed_at,
        state_at=failed_at,
    )


def seed_failure_log(
    client: Any, table: str, organization_id: str, *, window_end: str, matching: int, others: int
) -> set[str]:
    """`matching` failure-log rows of the organization in the 24 hours before `window_end`
    (the digest's window), and `others` rows it must not read: a quarter are the organization's
    own failures outside the window (up to 39 days before it, and up to 12 hours after it, on
    the same day), the rest the failures of 199 other organizations spread over the same 40
    days, the window included (so they share its FailuresByDay partitions). Rows are built by
    the function the store writes them with. Returns the payment ids of the matching rows."""
    end = timestamps.to_datetime(window_end)
    start = end - timedelta(hours=24)
    rows: list[Entry] = []
    expected: set[str] = set()
    for n in range(matching):
        at = start + (n + 1) * timedelta(hours=24) / (matching + 1)
        row = a_failure(organization_id, n, timestamps.from_datetime(at))
        rows.append(row)
        expected.add(row.payment_id)
    for n in range(matching, matching + others):
        if n % 4 == 0:
            org = organization_id
            step = timedelta(seconds=1 + (n * 7_919) % (12 * 3600 - 1))
            at = end + step if n % 8 == 0 else start - step * 78  # <= 39 days before
        else:
            org = f"org_other_{n % 199:03d}"
            at = start - timedelta(days=39) + timedelta(seconds=(n * 7_919) % (40 * 86_400))
        rows.append(a_failure(org, n, timestamps.from_datetime(at)))
    seed(
        client,
        table,
        [
            failure_log_item(
                row, timestamps.epoch_seconds(row.failed_at) + FAILURE_LOG_DAYS * 86_400
            )
            for row in rows
        ],
    )
    return expected
